package mas

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
)

// User is a MAS user (the attributes of a "user" resource). MAS keeps no
// display name or emails here: the profile is Synapse's.
type User struct {
	// ID is MAS's ULID of the user, which addresses it in paths.
	ID            httpapi.Identifier `json:"-"`
	Username      string             `json:"username"`
	Admin         bool               `json:"admin"`
	LockedAt      *string            `json:"locked_at"`
	DeactivatedAt *string            `json:"deactivated_at"`
	LegacyGuest   bool               `json:"legacy_guest"`
	// CreatedAt is when MAS made the user (RFC 3339).
	CreatedAt string `json:"created_at"`
}

// Locked and Deactivated are the user's states.
func (u *User) Locked() bool      { return u.LockedAt != nil }
func (u *User) Deactivated() bool { return u.DeactivatedAt != nil }

// resource is one JSON:API resource.
type resource struct {
	Type       string             `json:"type"`
	ID         httpapi.Identifier `json:"id"`
	Attributes User               `json:"attributes"`
	Meta       struct {
		Page struct {
			Cursor string `json:"cursor"`
		} `json:"page"`
	} `json:"meta"`
}

func (r resource) user() *User {
	u := r.Attributes
	u.ID = r.ID
	return &u
}

type single struct {
	Data resource `json:"data"`
}

// Limits of MAS's answers: one resource is a few hundred bytes; a page of
// the user list about 600 bytes a user.
const (
	limitUser   = httpapi.LimitSmall
	listedUser  = 4 << 10
	maxPageSize = 1000
)

// UserByUsername reads a user by its username (MAS compares it without
// regard to case): GET /api/admin/v1/users/by-username/<username>. A user
// MAS does not know is nil, not an error.
func (c *Client) UserByUsername(ctx context.Context, username string) (*User, error) {
	var out single
	_, err := c.call(ctx, http.MethodGet, path("users", "by-username", username), nil, nil, &out, limitUser)
	if StatusOf(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out.Data.user(), nil
}

// ListUsers reads every user, pageSize at a time (EachUser:
// GET /api/admin/v1/users), and returns them with the total MAS announced.
func (c *Client) ListUsers(ctx context.Context, pageSize int) ([]User, int, error) {
	var users []User
	total, err := c.EachUser(ctx, pageSize, func(page []User) error {
		users = append(users, page...)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return users, total, nil
}

// EachUser reads every user, pageSize at a time, following the cursor, and
// hands each page to fn, which must not keep the slice: only one page is
// held at a time: GET /api/admin/v1/users?page[first]=N&page[after]=<cursor>.
// It returns the total MAS announced on the first page (-1 when none).
func (c *Client) EachUser(ctx context.Context, pageSize int, fn func(page []User) error) (int, error) {
	users := make([]User, 0, min(max(pageSize, 1), maxPageSize))
	return eachPage(ctx, c, path("users"), nil, pageSize, listedUser, func(page []listed[User]) error {
		users = users[:0]
		for _, r := range page {
			u := r.Attributes
			u.ID = r.ID
			users = append(users, u)
		}
		return fn(users)
	})
}

// listed is one resource of a list.
type listed[T any] struct {
	ID         httpapi.Identifier `json:"id"`
	Attributes T                  `json:"attributes"`
	Meta       struct {
		Page struct {
			Cursor string `json:"cursor"`
		} `json:"page"`
	} `json:"meta"`
}

// eachPage reads a JSON:API list forwards, pageSize resources at a time
// (at most maxPageSize), following the cursor of the last resource of each
// page, and hands each page to fn. The first page asks for the total
// (count=true), which bounds the reading; later pages do not (count=false).
// perItem bounds the size of one listed resource. A cursor that does not
// move, or more resources than the total announced, stops the reading with
// an error rather than a loop.
func eachPage[T any](ctx context.Context, c *Client, segments []string, filter url.Values, pageSize int, perItem httpapi.Limit, fn func(page []listed[T]) error) (int, error) {
	pageSize = min(max(pageSize, 1), maxPageSize)
	total, seen, after := -1, 0, ""
	for {
		q := url.Values{"page[first]": {strconv.Itoa(pageSize)}, "count": {"false"}}
		for k, v := range filter {
			q[k] = v
		}
		if after != "" {
			q.Set("page[after]", after)
		} else {
			q.Set("count", "true")
		}
		var page struct {
			Meta struct {
				Count *int `json:"count"`
			} `json:"meta"`
			Data  []listed[T] `json:"data"`
			Links struct {
				Next string `json:"next"`
			} `json:"links"`
		}
		limit := httpapi.LimitSmall + httpapi.Limit(pageSize)*perItem
		if _, err := c.call(ctx, http.MethodGet, segments, q, nil, &page, limit); err != nil {
			return 0, err
		}
		if total < 0 && page.Meta.Count != nil {
			total = *page.Meta.Count
		}
		seen += len(page.Data)
		if len(page.Data) > 0 {
			if err := fn(page.Data); err != nil {
				return 0, err
			}
		}
		if page.Links.Next == "" || len(page.Data) == 0 {
			return total, nil
		}
		next := page.Data[len(page.Data)-1].Meta.Page.Cursor
		if next == "" || next == after || total >= 0 && seen > total+pageSize {
			return 0, &httpapi.ResponseError{Server: "MAS", URLOption: "mas_url", Method: http.MethodGet, Path: "/" + strings.Join(segments, "/"), Status: http.StatusOK,
				Size: -1, Reason: "its pages do not add up (a cursor that does not move, or more resources than the count it announced)"}
		}
		after = next
	}
}

// NewUser is what a create sets: MAS's create takes no password or admin
// flag (those are separate calls).
type NewUser struct {
	Username    string  `json:"username"`
	DisplayName *string `json:"displayname,omitempty"`
	AvatarURL   *string `json:"avatar_url,omitempty"`
	// SkipHomeserverCheck adopts an account Synapse has and MAS does not
	// (the half-provisioned case); only when the user asks for it.
	SkipHomeserverCheck bool `json:"skip_homeserver_check,omitempty"`
}

// CreateUser creates a user: POST /api/admin/v1/users. It is create-only:
// an existing username is a 409, so a create never lands on an account
// that exists, whatever raced in between.
func (c *Client) CreateUser(ctx context.Context, u NewUser) (*User, error) {
	var out single
	if _, err := c.call(ctx, http.MethodPost, path("users"), nil, u, &out, limitUser); err != nil {
		return nil, err
	}
	return out.Data.user(), nil
}

// SetAdmin sets MAS's admin flag (can_request_admin; Synapse's own admin
// flag stays false): POST /api/admin/v1/users/<id>/set-admin.
func (c *Client) SetAdmin(ctx context.Context, id string, admin bool) (*User, error) {
	return c.userAction(ctx, id, "set-admin", map[string]any{"admin": admin})
}

// Lock locks a user: POST /api/admin/v1/users/<id>/lock (idempotent).
func (c *Client) Lock(ctx context.Context, id string) (*User, error) {
	return c.userAction(ctx, id, "lock", nil)
}

// Unlock unlocks a user: POST /api/admin/v1/users/<id>/unlock.
func (c *Client) Unlock(ctx context.Context, id string) (*User, error) {
	return c.userAction(ctx, id, "unlock", nil)
}

// Deactivate deactivates a user: POST /api/admin/v1/users/<id>/deactivate.
// MAS erases the user's profile in Synapse unless skip_erase is sent: erase
// false sends skip_erase true.
func (c *Client) Deactivate(ctx context.Context, id string, erase bool) (*User, error) {
	return c.userAction(ctx, id, "deactivate", map[string]any{"skip_erase": !erase})
}

// Reactivate reactivates a user: POST /api/admin/v1/users/<id>/reactivate.
// What deactivation removed (emails, an erased profile) stays gone.
func (c *Client) Reactivate(ctx context.Context, id string) (*User, error) {
	return c.userAction(ctx, id, "reactivate", nil)
}

// SetPassword sets a user's password:
// POST /api/admin/v1/users/<id>/set-password (204). MAS checks it against its
// password policy unless skipCheck.
func (c *Client) SetPassword(ctx context.Context, id, password string, skipCheck bool) error {
	body := map[string]any{"password": password}
	if skipCheck {
		body["skip_password_check"] = true
	}
	_, err := c.call(ctx, http.MethodPost, path("users", id, "set-password"), nil, body, nil, httpapi.LimitSmall)
	return err
}

func (c *Client) userAction(ctx context.Context, id, action string, body any) (*User, error) {
	var out single
	if _, err := c.call(ctx, http.MethodPost, path("users", id, action), nil, body, &out, limitUser); err != nil {
		return nil, err
	}
	return out.Data.user(), nil
}

// SiteConfig is what MAS says of itself.
type SiteConfig struct {
	ServerName           string `json:"server_name"`
	PasswordLoginEnabled bool   `json:"password_login_enabled"`
}

// SiteConfig reads MAS's configuration summary:
// GET /api/admin/v1/site-config. It names the homeserver MAS serves.
func (c *Client) SiteConfig(ctx context.Context) (*SiteConfig, error) {
	out := &SiteConfig{}
	if _, err := c.call(ctx, http.MethodGet, path("site-config"), nil, nil, out, httpapi.LimitSmall); err != nil {
		return nil, err
	}
	return out, nil
}
