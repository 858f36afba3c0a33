package audit

import (
	"context"
	"fmt"
	"sync"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// SynapseReads are the only requests the Synapse reader may send: GETs.
// The info module's job is given a value of this interface, not the client,
// so that no write can be reached from it (and in its runs the client also
// refuses every write, as in check mode).
type SynapseReads interface {
	EachUser(ctx context.Context, pageSize int, start func(total int), fn func(page []synapse.User) error) error
	GetUser(ctx context.Context, userID string) (*synapse.User, error)
	LastSeen(ctx context.Context, userID string) (*int64, error)
	Ratelimit(ctx context.Context, userID string) (*synapse.Ratelimit, error)
	Devices(ctx context.Context, userID string) ([]synapse.Device, error)
}

// SynapseReader reads accounts from Synapse's admin API.
type SynapseReader struct {
	Client   SynapseReads
	PageSize int
}

// Each reads the user list in pages and hands each account over, as small
// as Account is: the page's Users are dropped once converted.
func (r SynapseReader) Each(ctx context.Context, fn func(*Account) error) error {
	return r.Client.EachUser(ctx, r.PageSize, nil, func(page []synapse.User) error {
		for i := range page {
			if err := fn(fromListed(&page[i])); err != nil {
				return err
			}
		}
		return nil
	})
}

// fromListed is an account as the list reports it: creation_ts in
// milliseconds there (the one-user GET says seconds).
func fromListed(u *synapse.User) *Account {
	a := &Account{
		ID:           u.Name,
		Displayname:  u.Displayname,
		Admin:        bool(u.Admin),
		Deactivated:  bool(u.Deactivated),
		Locked:       bool(u.Locked),
		ShadowBanned: bool(u.ShadowBanned),
		Guest:        bool(u.IsGuest),
		Erased:       bool(u.Erased),
		UserType:     RegularType,
	}
	if u.UserType != nil && *u.UserType != "" {
		a.UserType = *u.UserType
	}
	if u.CreationTS != nil {
		a.CreatedMS = *u.CreationTS
	}
	if u.Has("last_seen_ts") {
		a.LastSeenMS, a.LastSeenKnown = u.LastSeenTS, true
	}
	return a
}

// Complete makes the per-account reads need asks for: the user's record
// (GET /_synapse/admin/v2/users/<id>: appservice_id, suspended, and on
// releases whose list lacks them, locked and last_seen_ts), the last
// activity from whois where neither says it, the rate-limit override and
// the devices. At most concurrency accounts are read at a time; the first
// error stops the reads not yet started.
func (r SynapseReader) Complete(ctx context.Context, accounts []*Account, need Need, concurrency int) error {
	if !need.Any() || len(accounts) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var once sync.Once
	var first error
	fail := func(err error) {
		once.Do(func() { first = err; cancel(err) })
	}
	next := make(chan *Account)
	var wg sync.WaitGroup
	for range max(1, min(concurrency, len(accounts))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range next {
				// After the first error the rest is drained unread: a
				// client that does not look at ctx itself would send them.
				if ctx.Err() != nil {
					continue
				}
				if err := r.complete(ctx, a, need); err != nil {
					fail(fmt.Errorf("reading %s: %w", a.ID, err))
				}
			}
		}()
	}
send:
	for _, a := range accounts {
		select {
		case <-ctx.Done():
			break send
		case next <- a:
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func (r SynapseReader) complete(ctx context.Context, a *Account, need Need) error {
	if (need.Record && !a.Read) || (need.LastSeen && !a.LastSeenKnown && !a.Read) {
		u, err := r.Client.GetUser(ctx, a.ID)
		if err != nil {
			return err
		}
		if u == nil {
			// Gone since the list was read: a picture of the server
			// that no longer holds.
			return synapse.ErrUserListChanged
		}
		a.Read = true
		id := ""
		if u.AppserviceID != nil {
			id = *u.AppserviceID
		}
		a.AppserviceID = &id
		if u.Has("suspended") {
			s := bool(u.Suspended)
			a.Suspended = &s
		}
		if u.Has("locked") {
			a.Locked = bool(u.Locked)
		}
		if !a.LastSeenKnown && u.Has("last_seen_ts") {
			a.LastSeenMS, a.LastSeenKnown = u.LastSeenTS, true
		}
	}
	if need.LastSeen && !a.LastSeenKnown {
		seen, err := r.Client.LastSeen(ctx, a.ID)
		if err != nil {
			return err
		}
		a.LastSeenMS, a.LastSeenKnown = seen, true
	}
	if need.Ratelimit {
		rl, err := r.Client.Ratelimit(ctx, a.ID)
		if err != nil {
			return err
		}
		if rl != nil {
			a.Ratelimit = &Ratelimit{MessagesPerSecond: rl.MessagesPerSecond, BurstCount: rl.BurstCount}
		}
		a.RatelimitSet = true
	}
	if need.Devices {
		devices, err := r.Client.Devices(ctx, a.ID)
		if err != nil {
			return err
		}
		n := len(devices)
		a.Devices = &n
	}
	return nil
}
