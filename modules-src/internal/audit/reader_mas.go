package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/mas"
)

// MASReads are the only requests the MAS reader may send: GETs of MAS's
// admin API. The info module's job is given a value of this interface, not
// the client, so that no write can be reached from it (and the session's
// MAS client refuses every write in an info run, as in check mode).
type MASReads interface {
	EachUser(ctx context.Context, pageSize int, fn func(page []mas.User) error) (int, error)
	EachSession(ctx context.Context, kind string, pageSize int, fn func(page []mas.Session) error) error
}

// ErrNotInMAS is what Complete answers to a read of something MAS does not
// hold (user types, application services, rate limits, devices): the
// module refuses the options that need them before any request, so this
// is a bug if seen.
var ErrNotInMAS = errors.New("MAS holds no user type, application service, rate-limit override or device count of an account")

// MASReader reads accounts from MAS's admin API, for a homeserver that
// delegates authentication to MAS: MAS owns the accounts (Synapse's list
// under MAS shows MAS admins as non-admins). ServerName makes the user IDs.
type MASReader struct {
	Client     MASReads
	ServerName string
	PageSize   int
}

// Each reads MAS's user list in pages and hands each account over. The
// display name is Synapse's, which this reader does not read (it would
// need a Synapse token that MAS mints only by writing a session): it is
// null.
func (r MASReader) Each(ctx context.Context, fn func(*Account) error) error {
	_, err := r.Client.EachUser(ctx, r.PageSize, func(page []mas.User) error {
		for i := range page {
			a, err := r.fromMAS(&page[i])
			if err != nil {
				return err
			}
			if err := fn(a); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

func (r MASReader) fromMAS(u *mas.User) (*Account, error) {
	a := &Account{
		ID:          "@" + u.Username + ":" + r.ServerName,
		BackendID:   string(u.ID),
		FromMAS:     true,
		Admin:       u.Admin,
		Deactivated: u.Deactivated(),
		Locked:      u.Locked(),
		Guest:       u.LegacyGuest,
	}
	if u.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, u.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("MAS gave user %s a creation time that is not RFC 3339", a.ID)
		}
		a.CreatedMS = t.UnixMilli()
	}
	return a, nil
}

// Complete adds the last activity when need asks for it; MAS has nothing
// else that need can ask for (ErrNotInMAS).
//
// MAS keeps no last activity per user, only per session: the reader reads
// every compatibility, OAuth 2.0 and browser session once (finished ones
// too), in pages, and keeps for each account asked about the latest of its
// sessions' creation (a login is a use) and last activity. Memory is one
// entry per account asked about, whatever the number of sessions. An
// account with no session at all was never seen. Concurrency is not used:
// three lists read one after the other.
func (r MASReader) Complete(ctx context.Context, accounts []*Account, need Need, _ int) error {
	if need.Record || need.Ratelimit || need.Devices {
		return ErrNotInMAS
	}
	if !need.LastSeen || len(accounts) == 0 {
		return nil
	}
	wanted := map[string]*Account{}
	for _, a := range accounts {
		if !a.LastSeenKnown && a.BackendID != "" {
			wanted[a.BackendID] = a
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	latest := make(map[string]int64, len(wanted))
	for _, kind := range mas.SessionKinds {
		err := r.Client.EachSession(ctx, kind, r.PageSize, func(page []mas.Session) error {
			for i := range page {
				s := &page[i]
				if s.UserID == nil || wanted[*s.UserID] == nil {
					continue
				}
				for _, at := range []*string{&s.CreatedAt, s.LastActiveAt} {
					if at == nil || *at == "" {
						continue
					}
					t, err := time.Parse(time.RFC3339Nano, *at)
					if err != nil {
						return fmt.Errorf("MAS gave a session (%s) a time that is not RFC 3339", kind)
					}
					if ms := t.UnixMilli(); ms > latest[*s.UserID] {
						latest[*s.UserID] = ms
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for id, a := range wanted {
		a.LastSeenKnown = true
		if ms, ok := latest[id]; ok {
			a.LastSeenMS = &ms
		}
	}
	return nil
}
