// Package audit is the read side of the collection: which accounts a
// homeserver has, filtered and counted, as the matrix_user_info module
// reports them. It decides nothing over HTTP: a Reader brings the accounts
// (reader_synapse.go reads Synapse's admin API, reader_mas.go MAS's), and the filters, the inactivity rule and the counts here are
// plain functions, tested without a server.
package audit

import (
	"context"
	"strings"
	"time"
)

// RegularType is the user type of an account Synapse reports with a null
// user_type (an ordinary account).
const RegularType = "regular"

// AppserviceType is the name the user_types filter and the counts give to
// accounts registered by an application service (Synapse's appservice_id is
// set), whatever their Synapse user_type: a bridge's puppets are null-typed
// in Synapse, but they are what an administrator means by "appservice users".
const AppserviceType = "appservice"

// Account is one account as this package keeps it: what the list says, and
// what the per-account reads added. It is kept small (no map per account)
// so that 100,000 of them fit the module's memory bound.
type Account struct {
	ID string
	// BackendID is the backend's own ID of the account where it has one
	// (MAS's ULID), for the per-account reads.
	BackendID string
	// FromMAS: the account was read from MAS, which holds no user type,
	// shadow ban, erasure or application service: those are unknown (null
	// in the result), not false.
	FromMAS      bool
	Displayname  *string
	Admin        bool
	Deactivated  bool
	Locked       bool
	ShadowBanned bool
	Guest        bool
	Erased       bool
	// UserType is Synapse's user_type, RegularType for null.
	UserType string
	// CreatedMS is the creation time in milliseconds since the epoch
	// (0 when unknown).
	CreatedMS int64
	// LastSeenMS is the last activity in milliseconds since the epoch;
	// nil when never seen. LastSeenKnown is false when the server did not
	// say (an older Synapse's list, before the per-account read).
	LastSeenMS    *int64
	LastSeenKnown bool

	// From the per-account reads (Details).
	Read         bool    // the account's own record was read
	AppserviceID *string // known when Read
	Suspended    *bool   // nil when the server has no suspension
	Ratelimit    *Ratelimit
	RatelimitSet bool // Ratelimit was read
	Devices      *int
}

// Ratelimit is a rate-limit override.
type Ratelimit struct {
	MessagesPerSecond int64 `json:"messages_per_second"`
	BurstCount        int64 `json:"burst_count"`
}

// Kind is the account's type for the user_types filter and the counts:
// AppserviceType for an application service's account (when known), else
// its user type.
func (a *Account) Kind() string {
	if a.AppserviceID != nil && *a.AppserviceID != "" {
		return AppserviceType
	}
	return a.UserType
}

// Need says which per-account reads a run needs, for the accounts the
// list's filters kept.
type Need struct {
	// Record: the account's own record (appservice ID, suspension).
	Record bool
	// LastSeen: the last activity, where the list does not carry it.
	LastSeen bool
	// Ratelimit and Devices: the details.
	Ratelimit bool
	Devices   bool
}

// Any reports whether any per-account read is needed.
func (n Need) Any() bool { return n.Record || n.LastSeen || n.Ratelimit || n.Devices }

// Reader reads accounts from a backend. It has no method that writes: the
// info module is given nothing else.
type Reader interface {
	// Each hands every local account to fn, as the bulk list reports it,
	// in pages (the list is proven complete only when Each returns nil).
	Each(ctx context.Context, fn func(*Account) error) error
	// Complete adds what need asks for to the accounts, each read at most
	// once, with at most concurrency requests at a time.
	Complete(ctx context.Context, accounts []*Account, need Need, concurrency int) error
}

// Filter selects accounts. A nil pointer or an empty set does not filter.
type Filter struct {
	// Users are lower-cased full user IDs.
	Users       map[string]bool
	Admins      *bool
	Deactivated *bool
	// UserTypes are the kinds kept (Account.Kind).
	UserTypes map[string]bool
	// InactiveBefore, when not zero, keeps the accounts last seen before
	// it, and those never seen.
	InactiveBefore time.Time
}

// NeedsKind reports whether the filter needs each account's kind, which
// for application-service accounts only the per-account read tells.
func (f Filter) NeedsKind() bool { return len(f.UserTypes) > 0 }

// Listed reports whether an account as listed can pass the filter: every
// rule the list can decide. What it cannot decide (the kind of an account
// that may belong to an application service, the last activity where the
// list lacks it) is decided by Keep after the per-account reads.
func (f Filter) Listed(a *Account) bool {
	if len(f.Users) > 0 && !f.Users[strings.ToLower(a.ID)] {
		return false
	}
	if f.Admins != nil && a.Admin != *f.Admins {
		return false
	}
	if f.Deactivated != nil && a.Deactivated != *f.Deactivated {
		return false
	}
	if len(f.UserTypes) > 0 && !f.UserTypes[a.UserType] && !f.UserTypes[AppserviceType] {
		// Neither its listed type nor "appservice" is asked for.
		return false
	}
	if !f.InactiveBefore.IsZero() && a.LastSeenKnown && !Inactive(a, f.InactiveBefore) {
		return false
	}
	return true
}

// Keep reports whether an account passes every rule, once the reads the
// filter needs were made.
func (f Filter) Keep(a *Account) bool {
	if !f.Listed(a) {
		return false
	}
	if len(f.UserTypes) > 0 && !f.UserTypes[a.Kind()] {
		return false
	}
	if !f.InactiveBefore.IsZero() && !Inactive(a, f.InactiveBefore) {
		return false
	}
	return true
}

// Inactive reports whether an account was last seen before cutoff, or was
// never seen and already existed at cutoff: an account made yesterday and not
// used yet is not "unused for 90 days". An account whose last activity is
// not known is not called inactive.
func Inactive(a *Account, cutoff time.Time) bool {
	if !a.LastSeenKnown {
		return false
	}
	if a.LastSeenMS == nil {
		return a.CreatedMS == 0 || a.CreatedMS < cutoff.UnixMilli()
	}
	return *a.LastSeenMS < cutoff.UnixMilli()
}

// Counts are the numbers of a run, over the accounts the filters kept.
type Counts struct {
	Total       int            `json:"total"`
	Admins      int            `json:"admins"`
	Deactivated int            `json:"deactivated"`
	Locked      int            `json:"locked"`
	Guests      int            `json:"guests"`
	NeverSeen   int            `json:"never_seen"`
	Inactive    *int           `json:"inactive"`
	ByUserType  map[string]int `json:"by_user_type"`
}

// Count counts accounts; the inactive count is made when cutoff is not zero.
func Count(accounts []*Account, cutoff time.Time) Counts {
	c := Counts{ByUserType: map[string]int{}}
	inactive := 0
	for _, a := range accounts {
		c.Total++
		if a.Admin {
			c.Admins++
		}
		if a.Deactivated {
			c.Deactivated++
		}
		if a.Locked {
			c.Locked++
		}
		if a.Guest {
			c.Guests++
		}
		if a.LastSeenKnown && a.LastSeenMS == nil {
			c.NeverSeen++
		}
		if !cutoff.IsZero() && Inactive(a, cutoff) {
			inactive++
		}
		if a.FromMAS {
			// No user type is known: counting them all as one type
			// would be a guess.
			continue
		}
		c.ByUserType[a.Kind()]++
	}
	if !cutoff.IsZero() {
		c.Inactive = &inactive
	}
	return c
}

// ISO is a time in milliseconds since the epoch as ISO 8601 in UTC, to the
// second (Synapse's times are no finer than that in meaning).
func ISO(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05Z")
}
