package mas

import (
	"context"
	"fmt"
	"net/url"
)

// Session is what the info module reads of a session of any kind: whose it
// is and when it was used. MAS records a session's creation (a login) and,
// once its activity tracker has flushed, its last activity.
type Session struct {
	// UserID is the ULID of the user (null for a client_credentials
	// session, such as the admin client's own).
	UserID       *string `json:"user_id"`
	CreatedAt    string  `json:"created_at"`
	LastActiveAt *string `json:"last_active_at"`
}

// SessionKinds are the lists of sessions through which a user uses the
// homeserver: compatibility sessions (the Matrix password login), OAuth 2.0
// sessions (next-generation clients) and browser sessions (MAS's own web
// pages). Personal sessions are an administrator's tokens, not a user's use.
var SessionKinds = []string{"compat-sessions", "oauth2-sessions", "user-sessions"}

// listedSession bounds one listed session (user agent and IP included).
const listedSession = 4 << 10

// EachSession reads every session of a kind (one of SessionKinds), finished
// ones included, pageSize at a time, and hands each page to fn, which must
// not keep the slice: GET /api/admin/v1/<kind>?page[first]=N&page[after]=….
func (c *Client) EachSession(ctx context.Context, kind string, pageSize int, fn func(page []Session) error) error {
	known := false
	for _, k := range SessionKinds {
		known = known || k == kind
	}
	if !known {
		return fmt.Errorf("no MAS session list %q", kind)
	}
	sessions := make([]Session, 0, min(max(pageSize, 1), maxPageSize))
	_, err := eachPage(ctx, c, path(kind), url.Values{}, pageSize, listedSession, func(page []listed[Session]) error {
		sessions = sessions[:0]
		for _, r := range page {
			sessions = append(sessions, r.Attributes)
		}
		return fn(sessions)
	})
	return err
}
