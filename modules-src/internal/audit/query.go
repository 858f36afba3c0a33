package audit

import (
	"context"
	"sort"
	"strings"
	"time"
)

// Query is one question to a server.
type Query struct {
	Filter Filter
	// Details asks for each kept account's record, last activity,
	// rate-limit override and device count.
	Details     bool
	Concurrency int
}

// Answer is what a query found.
type Answer struct {
	// Accounts are the accounts every filter kept, by ID.
	Accounts []*Account
	Counts   Counts
	// Listed is how many local accounts the server has.
	Listed int
	// Missing are the IDs of the users filter that no account has.
	Missing []string
	// Reads is how many accounts were read one by one.
	Reads int
}

// Ask reads the accounts and answers q. The list decides what it can; the
// per-account reads are made only for the accounts still in question: those
// the filters need (the kind of each account for user_types, the last
// activity where the list lacks it), and, with Details, those kept.
func Ask(ctx context.Context, r Reader, q Query) (*Answer, error) {
	ans := &Answer{}
	var candidates []*Account
	found := map[string]bool{}
	err := r.Each(ctx, func(a *Account) error {
		ans.Listed++
		if len(q.Filter.Users) > 0 && q.Filter.Users[strings.ToLower(a.ID)] {
			found[strings.ToLower(a.ID)] = true
		}
		if q.Filter.Listed(a) {
			candidates = append(candidates, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id := range q.Filter.Users {
		if !found[id] {
			ans.Missing = append(ans.Missing, id)
		}
	}
	sort.Strings(ans.Missing)
	filterNeed := Need{Record: q.Filter.NeedsKind(), LastSeen: !q.Filter.InactiveBefore.IsZero()}
	if err := r.Complete(ctx, candidates, filterNeed, q.Concurrency); err != nil {
		return nil, err
	}
	for _, a := range candidates {
		if q.Filter.Keep(a) {
			ans.Accounts = append(ans.Accounts, a)
		}
	}
	if q.Details {
		if err := r.Complete(ctx, ans.Accounts, Need{Record: true, LastSeen: true, Ratelimit: true, Devices: true}, q.Concurrency); err != nil {
			return nil, err
		}
	}
	for _, a := range candidates {
		if a.Read {
			ans.Reads++
		}
	}
	sort.Slice(ans.Accounts, func(i, j int) bool { return ans.Accounts[i].ID < ans.Accounts[j].ID })
	ans.Counts = Count(ans.Accounts, q.Filter.InactiveBefore)
	return ans, nil
}

// View is an account as the module returns it: ISO 8601 times in UTC next
// to the epoch milliseconds Synapse gives. Keys whose value the server did
// not say are left out.
func View(a *Account, cutoff time.Time) map[string]any {
	v := map[string]any{
		"user_id":       a.ID,
		"displayname":   a.Displayname,
		"admin":         a.Admin,
		"deactivated":   a.Deactivated,
		"locked":        a.Locked,
		"shadow_banned": a.ShadowBanned,
		"guest":         a.Guest,
		"erased":        a.Erased,
		"user_type":     a.UserType,
	}
	if a.CreatedMS > 0 {
		v["creation_ts"] = a.CreatedMS
		v["created"] = ISO(a.CreatedMS)
	}
	if a.LastSeenKnown {
		v["last_seen_ts"], v["last_seen"] = nil, nil
		if a.LastSeenMS != nil {
			v["last_seen_ts"], v["last_seen"] = *a.LastSeenMS, ISO(*a.LastSeenMS)
		}
		if !cutoff.IsZero() {
			v["inactive"] = Inactive(a, cutoff)
		}
	}
	if a.Read {
		v["appservice_id"] = nil
		if a.AppserviceID != nil && *a.AppserviceID != "" {
			v["appservice_id"] = *a.AppserviceID
		}
		if a.Suspended != nil {
			v["suspended"] = *a.Suspended
		}
	}
	if a.RatelimitSet {
		v["ratelimit"] = a.Ratelimit
	}
	if a.Devices != nil {
		v["devices"] = *a.Devices
	}
	return v
}
