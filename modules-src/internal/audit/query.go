package audit

import (
	"context"
	"encoding/json"
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
	sort.Slice(ans.Accounts, func(i, j int) bool { return ans.Accounts[i].ID < ans.Accounts[j].ID })
	ans.Counts = Count(ans.Accounts, q.Filter.InactiveBefore)
	return ans, nil
}

// Said is a value the server may not have said: left out of the JSON when
// not said (omitzero), null when said to be none, else the value.
type Said[T any] struct {
	Known bool
	Value *T
}

// IsZero reports whether the value was not said, for omitzero.
func (s Said[T]) IsZero() bool { return !s.Known }

// MarshalJSON writes the value, or null.
func (s Said[T]) MarshalJSON() ([]byte, error) { return json.Marshal(s.Value) }

func said[T any](v *T) Said[T] { return Said[T]{Known: true, Value: v} }

// AccountView is an account as the module returns it: ISO 8601 times in UTC
// next to the epoch milliseconds Synapse gives. Keys whose value the server
// did not say are left out. A struct, not a map: 100,000 of them are
// encoded at once.
type AccountView struct {
	UserID       string          `json:"user_id"`
	Displayname  *string         `json:"displayname"`
	Admin        bool            `json:"admin"`
	Deactivated  bool            `json:"deactivated"`
	Locked       bool            `json:"locked"`
	ShadowBanned *bool           `json:"shadow_banned"`
	Guest        bool            `json:"guest"`
	Erased       *bool           `json:"erased"`
	UserType     *string         `json:"user_type"`
	CreationTS   int64           `json:"creation_ts,omitzero"`
	Created      string          `json:"created,omitzero"`
	LastSeenTS   Said[int64]     `json:"last_seen_ts,omitzero"`
	LastSeen     Said[string]    `json:"last_seen,omitzero"`
	Inactive     Said[bool]      `json:"inactive,omitzero"`
	AppserviceID Said[string]    `json:"appservice_id,omitzero"`
	Suspended    Said[bool]      `json:"suspended,omitzero"`
	Ratelimit    Said[Ratelimit] `json:"ratelimit,omitzero"`
	Devices      Said[int]       `json:"devices,omitzero"`
}

// View is an account as the module returns it; cutoff, when not zero, says
// whether it is inactive.
func View(a *Account, cutoff time.Time) AccountView {
	v := AccountView{
		UserID: a.ID, Displayname: a.Displayname, Admin: a.Admin, Deactivated: a.Deactivated, Locked: a.Locked, Guest: a.Guest,
	}
	if a.FromMAS {
		// MAS holds none of these: null, and the application service
		// said to be unknown rather than left out.
		v.AppserviceID = said[string](nil)
	} else {
		shadowBanned, erased, userType := a.ShadowBanned, a.Erased, a.UserType
		v.ShadowBanned, v.Erased, v.UserType = &shadowBanned, &erased, &userType
	}
	if a.CreatedMS > 0 {
		v.CreationTS, v.Created = a.CreatedMS, ISO(a.CreatedMS)
	}
	if a.LastSeenKnown {
		v.LastSeenTS, v.LastSeen = said[int64](nil), said[string](nil)
		if a.LastSeenMS != nil {
			iso := ISO(*a.LastSeenMS)
			v.LastSeenTS, v.LastSeen = said(a.LastSeenMS), said(&iso)
		}
		if !cutoff.IsZero() {
			inactive := Inactive(a, cutoff)
			v.Inactive = said(&inactive)
		}
	}
	if a.Read {
		v.AppserviceID = said[string](nil)
		if a.AppserviceID != nil && *a.AppserviceID != "" {
			v.AppserviceID = said(a.AppserviceID)
		}
		if a.Suspended != nil {
			v.Suspended = said(a.Suspended)
		}
	}
	if a.RatelimitSet {
		v.Ratelimit = said(a.Ratelimit)
	}
	if a.Devices != nil {
		v.Devices = said(a.Devices)
	}
	return v
}
