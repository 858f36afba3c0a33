package synapse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Flag is a boolean as Synapse reports it: some versions and code paths
// answer 0/1 instead of false/true, and null for "never set".
type Flag bool

// UnmarshalJSON accepts true/false, numbers and null.
func (f *Flag) UnmarshalJSON(data []byte) error {
	switch s := string(bytes.TrimSpace(data)); s {
	case "true":
		*f = true
	case "false", "null", "0":
		*f = false
	default:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a boolean: %s", s)
		}
		*f = n != 0
	}
	return nil
}

// Threepid is a third-party identifier (an email address or phone number).
type Threepid struct {
	Medium  string `json:"medium"`
	Address string `json:"address"`
}

// ExternalID links the user to an account at an SSO provider.
type ExternalID struct {
	AuthProvider string `json:"auth_provider"`
	ExternalID   string `json:"external_id"`
}

// User is an account as the admin API reports it.
type User struct {
	Name         string       `json:"name"`
	Displayname  *string      `json:"displayname"`
	AvatarURL    *string      `json:"avatar_url"`
	Admin        Flag         `json:"admin"`
	Deactivated  Flag         `json:"deactivated"`
	Locked       Flag         `json:"locked"`
	Erased       Flag         `json:"erased"`
	IsGuest      Flag         `json:"is_guest"`
	UserType     *string      `json:"user_type"`
	AppserviceID *string      `json:"appservice_id"`
	Threepids    []Threepid   `json:"threepids"`
	ExternalIDs  []ExternalID `json:"external_ids"`
	// Detailed is true when the user came from the single-user endpoint,
	// which (unlike the list) includes threepids and external_ids.
	Detailed bool `json:"-"`
	// LockedKnown is true when the answer had a "locked" key: Synapse
	// reports it for one user from 1.91 and in the list from 1.93; before,
	// Locked says nothing (and before 1.91 a user cannot be locked at all).
	LockedKnown bool `json:"-"`
}

// UnmarshalJSON decodes a user and notes whether "locked" was there.
func (u *User) UnmarshalJSON(data []byte) error {
	type plain User
	var probe struct {
		Locked json.RawMessage `json:"locked"`
	}
	if err := json.Unmarshal(data, (*plain)(u)); err != nil {
		return err
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return err
	}
	u.LockedKnown = probe.Locked != nil
	return checkIdentifier("user name", u.Name)
}

// UserUpdate is the body of PUT /_synapse/admin/v2/users/<id>. Nil fields
// are left out of the request and so left alone by Synapse.
type UserUpdate struct {
	Password      *string
	LogoutDevices *bool
	Displayname   *string
	AvatarURL     *string
	// UserType "" clears the type (sent as null).
	UserType    *string
	Admin       *bool
	Deactivated *bool
	Locked      *bool
	Threepids   *[]Threepid
	ExternalIDs *[]ExternalID
}

// MarshalJSON writes only the fields that are set.
func (u UserUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if u.Password != nil {
		m["password"] = *u.Password
		if u.LogoutDevices != nil {
			m["logout_devices"] = *u.LogoutDevices
		}
	}
	if u.Displayname != nil {
		m["displayname"] = *u.Displayname
	}
	if u.AvatarURL != nil {
		m["avatar_url"] = *u.AvatarURL
	}
	if u.UserType != nil {
		if *u.UserType == "" {
			m["user_type"] = nil
		} else {
			m["user_type"] = *u.UserType
		}
	}
	if u.Admin != nil {
		m["admin"] = *u.Admin
	}
	if u.Deactivated != nil {
		m["deactivated"] = *u.Deactivated
	}
	if u.Locked != nil {
		m["locked"] = *u.Locked
	}
	if u.Threepids != nil {
		m["threepids"] = nonNil(*u.Threepids)
	}
	if u.ExternalIDs != nil {
		m["external_ids"] = nonNil(*u.ExternalIDs)
	}
	return json.Marshal(m)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

var (
	adminV1 = []string{"_synapse", "admin", "v1"}
	adminV2 = []string{"_synapse", "admin", "v2"}
)

func path(prefix []string, rest ...string) []string {
	return append(append([]string{}, prefix...), rest...)
}

// GetUser reads one user with its threepids and external IDs. A user that
// does not exist is (nil, nil).
func (c *Client) GetUser(ctx context.Context, userID string) (*User, error) {
	var u User
	_, err := c.call(ctx, http.MethodGet, path(adminV2, "users", userID), nil, nil, &u, limitUser)
	if err != nil {
		if HasErrcode(err, ErrcodeNotFound) {
			return nil, nil
		}
		return nil, err
	}
	u.Detailed = true
	return &u, nil
}

// maxPrealloc bounds the capacity reserved for the user list up front.
const maxPrealloc = 100_000

// maxListedUsers bounds the user list whatever the server says: two million
// accounts (a few GiB of memory) is beyond any server this module is meant
// for, and a server (or proxy) that keeps sending new pages must not make
// memory grow without bound.
var maxListedUsers = 2_000_000 // a variable so that a test can lower it

// listSlack is how many more users than the first page's total the list may
// bring: accounts registered while the pages are read.
func listSlack(total, pageSize int) int {
	return max(total/10, 10*pageSize)
}

// ListUsers reads every local account, deactivated, locked and guest ones
// included, in pages of pageSize. It is how a batch reads the state of
// thousands of users in a handful of requests.
func (c *Client) ListUsers(ctx context.Context, pageSize int) ([]User, error) {
	if pageSize <= 0 {
		pageSize = 1000
	}
	var all []User
	from := "0"
	seen := map[string]bool{}
	limit := -1 // set from the first page's total
	for {
		// A server (or a proxy) answering the same page again would keep
		// this loop going forever.
		if seen[from] {
			return nil, &ResponseError{Method: http.MethodGet, Path: "/_synapse/admin/v2/users", Status: http.StatusOK,
				Reason: fmt.Sprintf("the user list does not advance (next_token %q came twice)", from)}
		}
		seen[from] = true
		q := url.Values{
			"from":        {from},
			"limit":       {strconv.Itoa(pageSize)},
			"guests":      {"true"},
			"deactivated": {"true"},
			"locked":      {"true"},
		}
		var page struct {
			Users     []User       `json:"users"`
			Total     int          `json:"total"`
			NextToken *json.Number `json:"next_token"`
		}
		if _, err := c.call(ctx, http.MethodGet, path(adminV2, "users"), q, nil, &page, pageLimit(pageSize)); err != nil {
			return nil, err
		}
		c.noteServerUsers(page.Total)
		if all == nil && page.Total > 0 && page.Total <= maxPrealloc {
			// Sized from the server's total, bounded: a wrong total must
			// not make the module allocate (or panic on) a huge slice.
			all = make([]User, 0, page.Total)
		}
		if limit < 0 {
			limit = maxListedUsers
			if page.Total > 0 {
				limit = min(page.Total+listSlack(page.Total, pageSize), maxListedUsers)
			}
		}
		if len(all)+len(page.Users) > limit {
			return nil, &ResponseError{Method: http.MethodGet, Path: "/_synapse/admin/v2/users", Status: http.StatusOK,
				Reason: fmt.Sprintf("the user list does not end: more than %d users came in %d pages (the first page announced a total of %d, and next_token keeps changing)", limit, len(seen), page.Total)}
		}
		all = append(all, page.Users...)
		if page.NextToken == nil || page.NextToken.String() == "" || len(page.Users) == 0 {
			return all, nil
		}
		from = page.NextToken.String()
	}
}

// PutUser creates or modifies a user. created is true when Synapse answered
// 201 (the user did not exist before).
func (c *Client) PutUser(ctx context.Context, userID string, update UserUpdate) (after *User, created bool, err error) {
	var u User
	status, err := c.call(ctx, http.MethodPut, path(adminV2, "users", userID), nil, update, &u, limitUser)
	if err != nil {
		return nil, false, err
	}
	u.Detailed = true
	return &u, status == http.StatusCreated, nil
}

// Deactivate deactivates a user; erase also removes its profile data and
// marks it erased for other servers. Synapse does not check whether the user
// is already deactivated, so callers read first.
func (c *Client) Deactivate(ctx context.Context, userID string, erase bool) error {
	_, err := c.call(ctx, http.MethodPost, path(adminV1, "deactivate", userID), nil, map[string]bool{"erase": erase}, nil, limitSmall)
	return err
}

// SetAdmin grants or revokes server admin through the endpoint that never
// creates a user (the v2 PUT would create a missing one).
func (c *Client) SetAdmin(ctx context.Context, userID string, admin bool) error {
	_, err := c.call(ctx, http.MethodPut, path(adminV1, "users", userID, "admin"), nil, map[string]bool{"admin": admin}, nil, limitSmall)
	return err
}

// UsernameAvailable asks Synapse's registration check whether a localpart
// is free. It compares IDs case-insensitively, so "taken" (false, nil) also
// covers a legacy account that differs only in case. Any other refusal (an
// application service's namespace, a name the server's rules refuse) is an
// error: the check could not tell.
func (c *Client) UsernameAvailable(ctx context.Context, localpart string) (bool, error) {
	var out struct {
		Available bool `json:"available"`
	}
	_, err := c.call(ctx, http.MethodGet, path(adminV1, "username_available"), url.Values{"username": {localpart}}, nil, &out, limitSmall)
	switch {
	case HasErrcode(err, ErrcodeUserInUse):
		return false, nil
	case err != nil:
		return false, err
	}
	return out.Available, nil
}
