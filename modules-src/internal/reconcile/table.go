package reconcile

import (
	"context"
	"slices"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Synapse's limits, in characters (Python's len): longer values are
// refused by the server, the display name and avatar only when changed.
const (
	maxPasswordLen    = 512
	maxDisplaynameLen = 256
	maxAvatarURLLen   = 1000
)

// fields is the fields table, in report order (Synapse's own order of
// applying a modification). Adding a field is adding an entry here, its
// Synapse call, its docs and its tests: see CONTRIBUTING.md.
var fields = []*Field{
	{
		Name:     "password",
		Option:   Option{Type: "str", NoLog: true},
		MaxChars: maxPasswordLen,
		Secret:   true,
		Register: func(v any, r *synapse.Registration) { r.Password = v.(string) },
		Synapse: SynapseWiring{
			// logout_devices goes with it: the planner decides it.
			Key: "password",
		},
	},
	{
		Name:     "displayname",
		Option:   Option{Type: "str"},
		MaxChars: maxDisplaynameLen,
		Zero:     "",
		Show:     emptyIsNull,
		Register: func(v any, r *synapse.Registration) { s := v.(string); r.Displayname = &s },
		Synapse: SynapseWiring{
			FromUser: func(u *synapse.User) (any, bool) { return deref(u.Displayname), true },
			Key:      "displayname",
		},
	},
	{
		Name: "threepids",
		Option: Option{Type: "list", Elements: "dict", Options: []Option{
			{Name: "medium", Type: "str", Required: true, Choices: []string{"email", "msisdn"}},
			{Name: "address", Type: "str", Required: true},
		}},
		Declare: declareThreepids,
		Zero:    []synapse.Threepid{},
		Synapse: SynapseWiring{
			// The list carries none: a declared user's own answer does.
			FromUser: func(u *synapse.User) (any, bool) {
				t := slices.Clone(u.Threepids)
				sortThreepids(t)
				return nonNilSlice(t), u.Detailed
			},
			Key: "threepids",
		},
	},
	{
		Name: "external_ids",
		Option: Option{Type: "list", Elements: "dict", Options: []Option{
			{Name: "auth_provider", Type: "str", Required: true},
			{Name: "external_id", Type: "str", Required: true},
		}},
		Declare: declareExternalIDs,
		Zero:    []synapse.ExternalID{},
		Synapse: SynapseWiring{
			FromUser: func(u *synapse.User) (any, bool) {
				e := slices.Clone(u.ExternalIDs)
				sortExternalIDs(e)
				return nonNilSlice(e), u.Detailed
			},
			Key: "external_ids",
		},
	},
	{
		Name:     "avatar_url",
		Option:   Option{Type: "str"},
		Declare:  declareAvatarURL,
		MaxChars: maxAvatarURLLen,
		Zero:     "",
		Show:     emptyIsNull,
		Synapse: SynapseWiring{
			FromUser: func(u *synapse.User) (any, bool) { return deref(u.AvatarURL), true },
			Key:      "avatar_url",
		},
	},
	{
		Name:     "admin",
		Option:   Option{Type: "bool"},
		Zero:     false,
		Register: func(v any, r *synapse.Registration) { r.Admin = v.(bool) },
		SelfGuard: func(v any, id string) error {
			if !v.(bool) {
				return problem.Errorf(problem.SelfGuard, "refusing to demote %s: it is the admin this module authenticates as (Synapse forbids demoting yourself)", id)
			}
			return nil
		},
		Synapse: SynapseWiring{
			FromUser: func(u *synapse.User) (any, bool) { return bool(u.Admin), true },
			Key:      "admin",
		},
	},
	{
		Name:   "locked",
		Option: Option{Type: "bool"},
		Zero:   false,
		SelfGuard: func(v any, id string) error {
			if v.(bool) {
				return problem.Errorf(problem.SelfGuard, "refusing to lock %s: it is the admin this module authenticates as", id)
			}
			return nil
		},
		Synapse: SynapseWiring{
			// Synapse reports it for one user from 1.91, in the list from
			// 1.93; before 1.91 no user can be locked.
			FromUser: func(u *synapse.User) (any, bool) { return bool(u.Locked), u.LockedKnown },
			Key:      "locked",
			Support:  lockingSupport,
		},
	},
	{
		Name:     "user_type",
		Option:   Option{Type: "str"},
		Zero:     "",
		Show:     emptyIsNull,
		Register: func(v any, r *synapse.Registration) { r.UserType = v.(string) },
		Synapse: SynapseWiring{
			FromUser: func(u *synapse.User) (any, bool) { return deref(u.UserType), true },
			Key:      "user_type",
			Encode:   emptyIsNull, // "" makes a regular user: null
		},
	},
	{
		Name: "ratelimit",
		Option: Option{Type: "dict", Options: []Option{
			{Name: "messages_per_second", Type: "int", Min: 0, Max: maxRatelimit},
			{Name: "burst_count", Type: "int", Min: 0, Max: maxRatelimit},
		}},
		Declare: declareRatelimit,
		Zero:    override{},
		Show:    showRatelimit,
		Synapse: SynapseWiring{
			Read: func(ctx context.Context, c Client, id string) (any, error) {
				r, err := c.Ratelimit(ctx, id)
				if err != nil || r == nil {
					return override{}, err
				}
				return override{set: true, limit: *r}, nil
			},
			Write: func(ctx context.Context, c Client, id string, v any) error {
				if o := v.(override); o.set {
					return c.SetRatelimit(ctx, id, o.limit)
				}
				return c.DeleteRatelimit(ctx, id)
			},
		},
	},
	{
		Name:   "shadow_banned",
		Option: Option{Type: "bool"},
		Zero:   false,
		SelfGuard: func(v any, id string) error {
			if v.(bool) {
				return problem.Errorf(problem.SelfGuard, "refusing to shadow-ban %s: it is the admin this module authenticates as", id)
			}
			return nil
		},
		Synapse: SynapseWiring{
			// The list and a user's own answer carry it (1.90 on).
			FromUser: func(u *synapse.User) (any, bool) { return bool(u.ShadowBanned), u.Has("shadow_banned") },
			Write:    func(ctx context.Context, c Client, id string, v any) error { return c.ShadowBan(ctx, id, v.(bool)) },
		},
	},
	{
		Name:   "suspended",
		Option: Option{Type: "bool"},
		Zero:   false,
		SelfGuard: func(v any, id string) error {
			if v.(bool) {
				return problem.Errorf(problem.SelfGuard, "refusing to suspend %s: it is the admin this module authenticates as", id)
			}
			return nil
		},
		Synapse: SynapseWiring{
			// A user's own answer carries it from 1.121; the list never.
			FromUser: func(u *synapse.User) (any, bool) { return bool(u.Suspended), u.Has("suspended") },
			Write:    func(ctx context.Context, c Client, id string, v any) error { return c.Suspend(ctx, id, v.(bool)) },
			Support:  suspensionSupport,
		},
	},
}

// maxRatelimit bounds the numbers of a rate-limit override (Synapse takes
// any positive integer; 2^31-1 fits every database it runs on).
const maxRatelimit = 1<<31 - 1

// override is a rate-limit override, or none (the server's limits apply).
type override struct {
	set   bool
	limit synapse.Ratelimit
}

// declareRatelimit is the override declared: both numbers, or none ({})
// to remove an override.
func declareRatelimit(v any) (any, error) {
	m := v.(map[string]any)
	perSecond, hasRate := m["messages_per_second"]
	burst, hasBurst := m["burst_count"]
	switch {
	case !hasRate && !hasBurst:
		return override{}, nil
	case !hasRate || !hasBurst:
		return nil, problem.Errorf(problem.Invalid, "%s: give both messages_per_second and burst_count (0 and 0 for no limit), or {} to remove the override", problem.Option("ratelimit"))
	}
	return override{set: true, limit: synapse.Ratelimit{MessagesPerSecond: toInt64(perSecond), BurstCount: toInt64(burst)}}, nil
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	}
	return 0
}

// showRatelimit shows an override as Synapse names it, or null for none.
func showRatelimit(v any) any {
	o := v.(override)
	if !o.set {
		return nil
	}
	return map[string]any{"messages_per_second": o.limit.MessagesPerSecond, "burst_count": o.limit.BurstCount}
}

// suspensionSupport finds out whether this Synapse can suspend users:
// whether it serves the suspend endpoint (1.122 on; 1.110 to 1.121 only with
// an experimental flag), asked without writing (synapse.Client.CanSuspend),
// and whether a user's own answer says who is suspended (1.121 on).
func suspensionSupport(q SupportQuery) (func(problem.Entry, any) error, error) {
	can, err := q.Client.CanSuspend(q.Ctx, q.Me)
	if err != nil {
		return nil, problem.Errorf(problem.Server, "cannot tell whether this Synapse can suspend users (GET /_synapse/admin/v1/suspend/%s): %s", q.Me, q.Explain(err))
	}
	if !can {
		return func(e problem.Entry, v any) error {
			if !v.(bool) {
				return nil // no account of this server is suspended
			}
			return problem.Errorf(problem.Unsupported, "%s: this Synapse cannot suspend users (PUT /_synapse/admin/v1/suspend/<user_id> needs Synapse 1.122 or later), so %s was left alone: remove %s: true or upgrade Synapse",
				problem.Name("suspended"), e, problem.Name("suspended"))
		}, nil
	}
	for _, u := range q.Seen {
		if u.Detailed && !u.Has("suspended") {
			return func(e problem.Entry, _ any) error {
				return problem.Errorf(problem.Unsupported, "%s: this Synapse can suspend users but does not say who is suspended (its user API has \"suspended\" from Synapse 1.121), so %s was left alone: remove %s or upgrade Synapse",
					problem.Name("suspended"), e, problem.Name("suspended"))
			}, nil
		}
	}
	return nil, nil
}

// emptyIsNull shows "" (none) as null, as Synapse reports it.
func emptyIsNull(v any) any {
	if v == "" {
		return nil
	}
	return v
}

// declareAvatarURL refuses what is not an mxc:// URI ("" removes it).
func declareAvatarURL(v any) (any, error) {
	s := v.(string)
	if s != "" && !strings.HasPrefix(s, "mxc://") {
		return nil, problem.Errorf(problem.Invalid, "%s: %q is not an mxc:// URI (upload the image to the media repository first; \"\" removes the avatar)", problem.Option("avatar_url"), s)
	}
	return s, nil
}

// declareThreepids turns the declared list of dicts into canonical
// threepids (CanonicalThreepids).
func declareThreepids(v any) (any, error) {
	var in []synapse.Threepid
	for _, el := range v.([]any) {
		m, _ := el.(map[string]any)
		medium, _ := m["medium"].(string)
		address, _ := m["address"].(string)
		in = append(in, synapse.Threepid{Medium: medium, Address: address})
	}
	return CanonicalThreepids(in)
}

// declareExternalIDs turns the declared list of dicts into canonical
// external IDs (CanonicalExternalIDs).
func declareExternalIDs(v any) (any, error) {
	var in []synapse.ExternalID
	for _, el := range v.([]any) {
		m, _ := el.(map[string]any)
		provider, _ := m["auth_provider"].(string)
		id, _ := m["external_id"].(string)
		in = append(in, synapse.ExternalID{AuthProvider: provider, ExternalID: id})
	}
	return CanonicalExternalIDs(in)
}

// lockingSupport finds out whether this Synapse can lock users: any user
// answer with a "locked" key says it can (1.93 lists it, 1.91 reports it
// for one user); a user's own answer without one says it cannot (before
// 1.91); with neither, the admin's own answer tells.
func lockingSupport(q SupportQuery) (func(problem.Entry, any) error, error) {
	detailed := false
	for _, u := range q.Seen {
		if u.LockedKnown {
			return nil, nil
		}
		detailed = detailed || u.Detailed
	}
	if !detailed {
		u, err := q.Client.GetUser(q.Ctx, q.Me)
		if err != nil {
			return nil, problem.Errorf(problem.Server, "cannot tell whether this Synapse can lock users (reading %s): %s", q.Me, q.Explain(err))
		}
		if u != nil && u.LockedKnown {
			return nil, nil
		}
	}
	return func(e problem.Entry, v any) error {
		if !v.(bool) {
			return nil // no account of this server is locked
		}
		// Sending it would report a change on every run and lock nobody.
		return problem.Errorf(problem.Unsupported, "%s: this Synapse cannot lock users (its admin API has no \"locked\"; locking needs Synapse 1.91 or later), so %s was left alone: remove %s: true or upgrade Synapse",
			problem.Name("locked"), e, problem.Name("locked"))
	}, nil
}
