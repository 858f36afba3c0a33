package synapse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
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
	ShadowBanned Flag         `json:"shadow_banned"`
	Suspended    Flag         `json:"suspended"`
	UserType     *string      `json:"user_type"`
	AppserviceID *string      `json:"appservice_id"`
	Threepids    []Threepid   `json:"threepids"`
	ExternalIDs  []ExternalID `json:"external_ids"`
	// CreationTS is when the account was created, in the unit of the
	// endpoint that answered: milliseconds in the list, seconds in the
	// one-user GET (checked on 1.90.0 and 1.163.2). Nil when not given.
	CreationTS *int64 `json:"creation_ts"`
	// LastSeenTS is the newest last_seen of the user's client IPs, in
	// milliseconds, nil when never seen. The one-user GET carries it; the
	// list only from Synapse 1.93 (Has("last_seen_ts") tells). Synapse
	// writes client IPs in batches every few seconds.
	LastSeenTS *int64 `json:"last_seen_ts"`
	// Detailed is true when the user came from the single-user endpoint,
	// which (unlike the list) includes threepids and external_ids.
	Detailed bool `json:"-"`
	// LockedKnown is true when the answer had a "locked" key: Synapse
	// reports it for one user from 1.91 and in the list from 1.93; before,
	// Locked says nothing (and before 1.91 a user cannot be locked at all).
	LockedKnown bool `json:"-"`
	// keys are the keys the answer carried (bits of userKeys): what an
	// older release does not report (locked before 1.91) is not read as
	// false. A bit set rather than a map: the list of a large server holds
	// a hundred thousand users.
	keys uint32
}

// userKeys are the keys of a user answer that Has can tell about, each a
// bit of User.keys.
var userKeys = []string{"name", "displayname", "avatar_url", "admin", "deactivated", "locked", "erased", "is_guest",
	"shadow_banned", "suspended", "user_type", "appservice_id", "threepids", "external_ids", "creation_ts", "last_seen_ts"}

func userKeyBit(key string) uint32 {
	for i, k := range userKeys {
		if k == key {
			return 1 << i
		}
	}
	return 0
}

// Has reports whether the answer carried key (with any value, null too).
func (u *User) Has(key string) bool {
	bit := userKeyBit(key)
	return bit != 0 && u.keys&bit != 0
}

// SetKeys records the keys of an answer that was not decoded from JSON
// (a user predicted or made up by a test).
func (u *User) SetKeys(keys ...string) {
	for _, k := range keys {
		u.keys |= userKeyBit(k)
	}
}

// UnmarshalJSON decodes a user and notes which keys the answer carried.
func (u *User) UnmarshalJSON(data []byte) error {
	type plain User
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, (*plain)(u)); err != nil {
		return err
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return err
	}
	u.keys = 0
	for k := range probe {
		u.keys |= userKeyBit(k)
	}
	u.LockedKnown = u.Has("locked")
	return checkIdentifier("user name", u.Name)
}

// UserUpdate is the body of PUT /_synapse/admin/v2/users/<id>, by key.
// A key left out is left alone by Synapse; a nil value is sent as null
// (user_type null makes a regular user).
type UserUpdate map[string]any

// Set puts key into the body.
func (u UserUpdate) Set(key string, v any) { u[key] = v }

// Has reports whether the body carries key.
func (u UserUpdate) Has(key string) bool {
	_, ok := u[key]
	return ok
}

// Password is the password the body sets, or nil.
func (u UserUpdate) Password() *string {
	if pw, ok := u["password"].(string); ok {
		return &pw
	}
	return nil
}

var (
	adminV1 = []string{"_synapse", "admin", "v1"}
	adminV2 = []string{"_synapse", "admin", "v2"}
)

func path(prefix []string, rest ...string) []string {
	return append(append([]string{}, prefix...), rest...)
}

// GetUser reads one user with its threepids and external IDs:
// GET /_synapse/admin/v2/users/<user_id>. A user that does not exist is
// (nil, nil).
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
// for, and a server (or proxy) that announces more must not make memory grow
// without bound.
var maxListedUsers = 2_000_000 // a variable so that a test can lower it

// ErrUserListChanged means accounts were registered while the paged user
// list was read: Synapse pages by offset in name order, so a new account
// shifts every later page, and the pages no longer add up to one picture of
// the server. Nothing can be decided from such a list; a rerun reads it
// again.
var ErrUserListChanged = errors.New("the user list changed while it was read (accounts registered meanwhile shift Synapse's pages, so the list is not one picture of the server); nothing was changed: rerun")

// listReaders is how many pages of the user list are read at once, when the
// server's next_token is the offset that Synapse's is: on a large server
// every page costs Synapse a count of the whole table, so reading the pages
// one after the other adds those waits up.
const listReaders = 4

// listedPage is one page of the user list as the server answered it.
type listedPage struct {
	Users     []User       `json:"users"`
	Total     *int         `json:"total"`
	NextToken *json.Number `json:"next_token"`
}

// ListUsers reads every local account, deactivated, locked and guest ones
// included, in pages of pageSize: GET /_synapse/admin/v2/users. It is how a
// batch reads the state of thousands of users in a handful of requests.
//
// A list that is wrong would be acted on: a user missing from it is created
// (or, worse, counted out of exclusive mode's threshold), so the list must
// prove itself. Every page counts the matching accounts (total) in the same
// transaction as its rows, so the pages of one unchanged server announce the
// same total and add up to it, each user once. A total that changes between
// pages is ErrUserListChanged (rerun); anything else that does not add up (a
// short or long list, a user twice, an empty page that says more follow, a
// page longer than asked for, no total) is an answer Synapse does not send,
// and fails as such.
//
// Synapse's next_token is the offset of the next page (from + the users
// returned), so once the first page has shown that, the following pages are
// read listReaders at a time, by offset, and checked in order as if read one
// after the other: a page is taken only where the page before it said it
// follows. Reading ahead is bounded by listReaders pages whatever the total
// says (a server announcing millions that it does not have costs at most
// listReaders-1 needless requests), and the total itself by maxListedUsers.
// A next_token that is not the offset (another server's) is followed one
// page at a time.
func (c *Client) ListUsers(ctx context.Context, pageSize int) ([]User, error) {
	var all []User
	err := c.EachUser(ctx, pageSize, func(total int) {
		// Sized from the server's total, bounded: a wrong total must
		// not make the module allocate a huge slice.
		all = make([]User, 0, min(total, maxPrealloc))
	}, func(page []User) error {
		all = append(all, page...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// EachUser reads the user list (GET /_synapse/admin/v2/users) as ListUsers
// does, with the same proofs and the same read-ahead, but hands each page
// to fn, in order, instead of keeping it: a reader that keeps less of each
// account than User holds (the info module) needs no memory for the whole
// list of Users. start, when not nil, is told the total the first page
// counted before any page is handed over. An error from fn stops the read.
// A page handed to fn is trusted only once EachUser returned nil.
func (c *Client) EachUser(ctx context.Context, pageSize int, start func(total int), fn func(page []User) error) error {
	if pageSize <= 0 {
		pageSize = 1000
	}
	const listPath = "/_synapse/admin/v2/users"
	lying := func(format string, args ...any) error {
		return &ResponseError{Method: http.MethodGet, Path: listPath, Status: http.StatusOK, Reason: fmt.Sprintf(format, args...)}
	}
	fetch := func(ctx context.Context, from string) (*listedPage, error) {
		q := url.Values{
			"from":        {from},
			"limit":       {strconv.Itoa(pageSize)},
			"guests":      {"true"},
			"deactivated": {"true"},
			"locked":      {"true"},
		}
		var page listedPage
		if _, err := c.call(ctx, http.MethodGet, path(adminV2, "users"), q, nil, &page, pageLimit(pageSize)); err != nil {
			return nil, err
		}
		c.noteServerUsers(derefInt(page.Total))
		return &page, nil
	}
	got := 0                   // users handed over
	names := map[string]bool{} // users received
	total := -1                // as the first page counted
	pages := 0
	// take checks the next page in order and adds its users; it returns
	// the next_token, "" at the end.
	take := func(page *listedPage) (string, error) {
		pages++
		switch {
		case page.Total == nil || *page.Total < 0:
			return "", lying("page %d of the user list has no total (Synapse counts the accounts on every page)", pages)
		case total < 0 && *page.Total > maxListedUsers:
			return "", lying("the user list announces %d accounts, more than the %d this module reads", *page.Total, maxListedUsers)
		case total < 0:
			total = *page.Total
			if start != nil {
				start(total)
			}
		case *page.Total != total:
			return "", fmt.Errorf("%w (page 1 counted %d accounts, page %d counted %d)", ErrUserListChanged, total, pages, *page.Total)
		}
		if len(page.Users) > pageSize {
			return "", lying("page %d of the user list has %d users; %d were asked for", pages, len(page.Users), pageSize)
		}
		for i := range page.Users {
			name := page.Users[i].Name
			switch {
			case name == "":
				return "", lying("page %d of the user list has a user without a name", pages)
			case names[name]:
				return "", lying("the user list holds %s twice", untrusted(name, maxErrorText))
			}
			names[name] = true
		}
		if got+len(page.Users) > total {
			return "", lying("the user list brings more than the %d accounts it counts", total)
		}
		got += len(page.Users)
		if err := fn(page.Users); err != nil {
			return "", err
		}
		more := page.NextToken != nil && page.NextToken.String() != ""
		switch {
		case more && len(page.Users) == 0:
			return "", lying("page %d of the user list is empty but says more follow (next_token %q)", pages, untrusted(page.NextToken.String(), maxHeader))
		case !more && got != total:
			return "", lying("the user list ends after %d of the %d accounts it counts", got, total)
		case !more:
			return "", nil
		}
		return page.NextToken.String(), nil
	}

	from := "0"
	seen := map[string]bool{} // next tokens asked for
	for {
		// Ahead: the pages after from, by offset, while the tokens are
		// offsets (the first page is read alone: it tells the total).
		var ahead []string
		if offset, err := strconv.Atoi(from); err == nil && pages > 0 && offset == got {
			for k := 1; k < listReaders && offset+k*pageSize <= total; k++ {
				ahead = append(ahead, strconv.Itoa(offset+k*pageSize))
			}
		}
		batch := append([]string{from}, ahead...)
		got := make([]*listedPage, len(batch))
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for k, f := range batch {
			// A server (or a proxy) answering the same page again would
			// keep this loop going forever.
			if seen[f] {
				if k == 0 {
					return lying("the user list does not advance (next_token %q came twice)", untrusted(f, maxHeader))
				}
				batch = batch[:k]
				break
			}
			seen[f] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[k], errs[k] = fetch(ctx, f)
			}()
		}
		wg.Wait()
		for k := range batch {
			if k > 0 && batch[k] != from {
				// The page before pointed elsewhere: what was read ahead
				// is not the list; follow the server's token.
				for _, f := range batch[k:] {
					delete(seen, f)
				}
				break
			}
			if errs[k] != nil {
				return errs[k]
			}
			next, err := take(got[k])
			if err != nil {
				return err
			}
			if next == "" {
				return nil
			}
			from = next
		}
	}
}

// CreateResult is what a create-only PUT found.
type CreateResult int

// The outcomes of CreateUser.
const (
	// Created: this request created the account (Synapse answered 201).
	Created CreateResult = iota
	// Existed: the account, or one whose ID differs only in case, existed
	// before this request (200, or 400 M_USER_IN_USE when it appeared
	// between Synapse's own lookup and its insert).
	Existed
	// MaybeCreated: an attempt's answer was lost (a cut connection, a
	// 5xx) and a retry found the account: the lost attempt may have created
	// it, or someone else did meanwhile. Nothing tells which.
	MaybeCreated
)

// CreateUser creates an account that does not exist, and leaves one that
// does exist exactly as it is: PUT /_synapse/admin/v2/users/<id> with an
// empty body. Synapse's PUT creates or modifies (there is no create-only
// call, synapse#8165), but a modify with no keys changes nothing, so this
// request can never land on an account someone else created. What a create
// should set (the password above all) goes into a second PUT, sent only
// after a 201. u is the account as Synapse answered (nil after
// M_USER_IN_USE).
func (c *Client) CreateUser(ctx context.Context, userID string) (res CreateResult, u *User, err error) {
	lost := &answerLost{}
	var answer User
	status, err := c.call(withAnswerLost(ctx, lost), http.MethodPut, path(adminV2, "users", userID), nil, struct{}{}, &answer, limitUser)
	switch {
	case err == nil && status == http.StatusCreated:
		answer.Detailed = true
		return Created, &answer, nil
	case err == nil:
		answer.Detailed = true
		u = &answer
	case HasErrcode(err, ErrcodeUserInUse):
	default:
		return 0, nil, err
	}
	if lost.Load() {
		return MaybeCreated, u, nil
	}
	return Existed, u, nil
}

// PutUser modifies a user: PUT /_synapse/admin/v2/users/<id>. created is
// true when Synapse answered 201 (the user did not exist before); callers
// that may meet a missing account create it with CreateUser first, since
// this PUT would create it with whatever the update carries.
func (c *Client) PutUser(ctx context.Context, userID string, update UserUpdate) (after *User, created bool, err error) {
	var u User
	status, err := c.call(ctx, http.MethodPut, path(adminV2, "users", userID), nil, update, &u, limitUser)
	if err != nil {
		return nil, false, err
	}
	u.Detailed = true
	return &u, status == http.StatusCreated, nil
}

// MayHaveApplied reports whether a write that failed with err may still
// have been applied; changes is how many changes the request carried. A 401
// or a 429 is refused before anything is done, a redirect never reached
// Synapse, and Synapse checks a request before applying it, so a 4xx to a
// request of one change means nothing was applied. No answer (a cut
// connection, a timeout), a 5xx, an answer that is not Synapse's, or a 4xx
// midway through a PUT of several fields (Synapse applies them one by one,
// without a transaction) leave it unknown.
func MayHaveApplied(err error, changes int) bool {
	status := StatusOf(err)
	var foreign *ResponseError
	if errors.As(err, &foreign) && foreign.Status >= 300 && foreign.Status < 400 {
		return false
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusTooManyRequests:
		return false
	case status >= 400 && status < 500:
		return changes > 1
	}
	return true
}

// Deactivate deactivates a user: POST /_synapse/admin/v1/deactivate/<user_id>
// {"erase": erase}; erase also removes its profile data and marks it erased
// for other servers. Synapse does not check whether the user is already
// deactivated, so callers read first.
func (c *Client) Deactivate(ctx context.Context, userID string, erase bool) error {
	_, err := c.call(ctx, http.MethodPost, path(adminV1, "deactivate", userID), nil, map[string]bool{"erase": erase}, nil, limitSmall)
	return err
}

// SetAdmin grants or revokes server admin:
// PUT /_synapse/admin/v1/users/<user_id>/admin {"admin": admin}, the
// endpoint that never creates a user (the v2 PUT would create a missing one).
func (c *Client) SetAdmin(ctx context.Context, userID string, admin bool) error {
	_, err := c.call(ctx, http.MethodPut, path(adminV1, "users", userID, "admin"), nil, map[string]bool{"admin": admin}, nil, limitSmall)
	return err
}

// UsernameAvailable asks Synapse's registration check whether a localpart
// is free: GET /_synapse/admin/v1/username_available?username=<localpart>. It compares IDs case-insensitively, so "taken" (false, nil) also
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

// derefInt is *n, or 0 for a missing number.
func derefInt(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}
