package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// fakeClient is an in-memory Client for the runner's unit tests. It is a
// fake of this package's interface, not of Synapse: what Synapse really
// answers is proven by the e2e suite; these tests prove what the runner does
// with each answer, failures included, in milliseconds.
type fakeClient struct {
	mu     sync.Mutex
	users  map[string]*synapse.User
	hashes map[string]string // stored password hashes by user ID

	getErr  map[string]error // GetUser of that ID fails
	listErr error
	putErr  map[string]error // PutUser of that ID fails
	// putErrIfExists fails PutUser of that ID only once the account
	// exists: the second PUT after a create.
	putErrIfExists map[string]error
	createErr      map[string]error // CreateUser of that ID fails...
	// ...after creating the account anyway (an answer lost on the way back).
	createCreates map[string]bool
	// appear makes an account exist just before CreateUser of that ID sees
	// it: another run created it (or @Bob for @bob) between the read and
	// the create.
	appear map[string]*synapse.User
	// createLost makes CreateUser report an answer lost and retried.
	createLost  map[string]bool
	deactErr    map[string]error
	hashErr     error           // every PasswordHashes call fails
	bulkHashErr error           // only the bulk (":server") read fails
	hashHidden  map[string]bool // left out of every PasswordHashes answer
	registered  *synapse.Registered
	registerErr error
	// lockedInGet makes a user's own answer carry "locked" where the list
	// does not: Synapse 1.91 and 1.92.
	lockedInGet bool
	// ratelimits are the rate-limit overrides by user ID; noSuspend is a
	// Synapse without the suspend endpoint; ownErr fails the writes of the
	// fields with endpoints of their own for that user ID.
	ratelimits map[string]*synapse.Ratelimit
	noSuspend  bool
	ownErr     map[string]error

	// pepper is the fake Synapse's own password_config.pepper, which it
	// hashes every password it is sent with.
	pepper string
	// passwords are the user IDs a password was sent to, in order.
	passwords []string

	calls []string // "METHOD target", in the order sent
}

func newFake(users ...*synapse.User) *fakeClient {
	f := &fakeClient{users: map[string]*synapse.User{}, hashes: map[string]string{}}
	for _, u := range users {
		f.users[u.Name] = cloneUser(u)
	}
	return f
}

func (f *fakeClient) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// writes are the calls that change the server.
func (f *fakeClient) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if !isRead(c) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// isRead reports whether a recorded call only reads.
func isRead(c string) bool {
	return strings.HasPrefix(c, "GET ") || strings.HasPrefix(c, "LIST") || strings.HasPrefix(c, "HASHES ")
}

func (f *fakeClient) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeClient) GetUser(_ context.Context, userID string) (*synapse.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("GET %s", userID)
	if err := f.getErr[userID]; err != nil {
		return nil, err
	}
	u, ok := f.users[userID]
	if !ok {
		return nil, nil
	}
	c := cloneUser(u)
	c.Detailed = true
	c.LockedKnown = c.LockedKnown || f.lockedInGet
	c.SetKeys("shadow_banned", "suspended") // as Synapse 1.121 on answers
	return c, nil
}

// UsernameAvailable answers as Synapse's registration check does: taken when
// any account has the localpart in any case.
func (f *fakeClient) UsernameAvailable(_ context.Context, localpart string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("GET available %s", localpart)
	for id := range f.users {
		if strings.EqualFold(localpartOf(id), localpart) {
			return false, nil
		}
	}
	return true, nil
}

func (f *fakeClient) ListUsers(_ context.Context, _ int) ([]synapse.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("LIST")
	if f.listErr != nil {
		return nil, f.listErr
	}
	out := make([]synapse.User, 0, len(f.users))
	for _, u := range f.users {
		c := *cloneUser(u)
		// The list carries neither threepids nor external IDs, nor
		// whether a user is suspended.
		c.Threepids, c.ExternalIDs, c.Detailed = nil, nil, false
		c.SetKeys("shadow_banned")
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CreateUser answers as Synapse answers an empty PUT: 201 with a new
// account, 200 with an existing one left as it is, M_USER_IN_USE (nil user)
// for one that differs only in case.
func (f *fakeClient) CreateUser(_ context.Context, userID string) (synapse.CreateResult, *synapse.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("CREATE %s", userID)
	if u := f.appear[userID]; u != nil {
		f.users[u.Name] = cloneUser(u)
		delete(f.appear, userID)
	}
	if err := f.createErr[userID]; err != nil {
		if f.createCreates[userID] {
			f.users[userID] = fakeNewUser(userID, localpartOf(userID))
		}
		return 0, nil, err
	}
	res := synapse.Existed
	if f.createLost[userID] {
		res = synapse.MaybeCreated
	}
	if u, ok := f.users[userID]; ok {
		c := cloneUser(u)
		c.Detailed = true
		return res, c, nil
	}
	for id := range f.users {
		if strings.EqualFold(id, userID) {
			return res, nil, nil
		}
	}
	u := fakeNewUser(userID, localpartOf(userID))
	f.users[userID] = u
	c := cloneUser(u)
	return synapse.Created, c, nil
}

func (f *fakeClient) PutUser(_ context.Context, userID string, update synapse.UserUpdate) (*synapse.User, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("PUT %s", userID)
	u, exists := f.users[userID]
	if err := f.putErrIfExists[userID]; err != nil && exists {
		return nil, false, err
	}
	if err := f.putErr[userID]; err != nil {
		return nil, false, err
	}
	if !exists {
		u = fakeNewUser(userID, localpartOf(userID))
		f.users[userID] = u
	}
	fakeApply(u, update)
	if pw := update.Password(); pw != nil {
		f.passwords = append(f.passwords, userID)
		f.hashes[userID] = f.hash(*pw)
	}
	c := cloneUser(u)
	c.Detailed = true
	return c, !exists, nil
}

func (f *fakeClient) Deactivate(_ context.Context, userID string, erase bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("DEACTIVATE %s", userID)
	if err := f.deactErr[userID]; err != nil {
		return err
	}
	if u, ok := f.users[userID]; ok {
		u.Deactivated = true
		u.Threepids = []synapse.Threepid{}
		if erase {
			u.Erased = true
			u.Displayname, u.AvatarURL = nil, nil
		}
	}
	return nil
}

func (f *fakeClient) Register(_ context.Context, _ string, r synapse.Registration) (*synapse.Registered, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("REGISTER %s", r.Localpart)
	if f.registered != nil || f.registerErr != nil {
		return f.registered, f.registerErr
	}
	return &synapse.Registered{UserID: UserID(r.Localpart, "test")}, nil
}

func (f *fakeClient) PasswordHashes(_ context.Context, _, term string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("HASHES %s", term)
	if f.hashErr != nil {
		return nil, f.hashErr
	}
	if strings.HasPrefix(term, ":") && f.bulkHashErr != nil {
		return nil, f.bulkHashErr
	}
	out := map[string]string{}
	for id, h := range f.hashes {
		if strings.Contains(id, term) && !f.hashHidden[id] {
			out[id] = h
		}
	}
	return out, nil
}

// hash is what Synapse stores for a password: bcrypt of the first 72 bytes
// of NFKC(password) + its pepper (at the lowest cost: this is a test).
func (f *fakeClient) hash(password string) string {
	input := []byte(norm.NFKC.String(password) + f.pepper)
	h, err := bcrypt.GenerateFromPassword(input[:min(len(input), 72)], bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}

// fakeNewUser is a new account as Synapse makes it: its localpart as
// display name, no threepids.
func fakeNewUser(id, localpart string) *synapse.User {
	name := localpart
	u := &synapse.User{Name: id, Displayname: &name, Threepids: []synapse.Threepid{}, ExternalIDs: []synapse.ExternalID{}, Detailed: true, LockedKnown: true}
	return u
}

func cloneUser(u *synapse.User) *synapse.User {
	c := *u
	c.Threepids = slices.Clone(u.Threepids)
	c.ExternalIDs = slices.Clone(u.ExternalIDs)
	return &c
}

// fakeApply does to u what Synapse does with a PUT body.
func fakeApply(u *synapse.User, b synapse.UserUpdate) {
	str := func(v any) *string {
		s, _ := v.(string)
		if s == "" {
			return nil
		}
		return &s
	}
	for k, v := range b {
		switch k {
		case "displayname":
			u.Displayname = str(v)
		case "avatar_url":
			u.AvatarURL = str(v)
		case "user_type":
			u.UserType = str(v)
		case "admin":
			u.Admin = synapse.Flag(v.(bool))
		case "locked":
			u.Locked = synapse.Flag(v.(bool))
		case "deactivated":
			u.Deactivated = synapse.Flag(v.(bool))
			if !v.(bool) {
				u.Erased = false
			}
		case "threepids":
			u.Threepids = slices.Clone(v.([]synapse.Threepid))
		case "external_ids":
			u.ExternalIDs = slices.Clone(v.([]synapse.ExternalID))
		}
	}
}

// with is d with fields declared: strings and booleans as an option gives
// them (checked, canonicalised), anything else as the canonical value.
func with(d *Desired, kv ...any) *Desired {
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string, bool:
			if err := d.Declare(name, v); err != nil {
				d.set(name, v) // what Validate refuses, for its tests
			}
		default:
			d.set(name, v)
		}
	}
	return d
}

func (f *fakeClient) Ratelimit(_ context.Context, userID string) (*synapse.Ratelimit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("GET ratelimit %s", userID)
	return f.ratelimits[userID], nil
}

func (f *fakeClient) SetRatelimit(_ context.Context, userID string, r synapse.Ratelimit) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RATELIMIT %s", userID)
	if err := f.ownErr[userID]; err != nil {
		return err
	}
	if f.ratelimits == nil {
		f.ratelimits = map[string]*synapse.Ratelimit{}
	}
	f.ratelimits[userID] = &r
	return nil
}

func (f *fakeClient) DeleteRatelimit(_ context.Context, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("UNRATELIMIT %s", userID)
	if err := f.ownErr[userID]; err != nil {
		return err
	}
	delete(f.ratelimits, userID)
	return nil
}

func (f *fakeClient) ShadowBan(_ context.Context, userID string, ban bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SHADOWBAN %s %t", userID, ban)
	if err := f.ownErr[userID]; err != nil {
		return err
	}
	f.users[userID].ShadowBanned = synapse.Flag(ban)
	return nil
}

func (f *fakeClient) Suspend(_ context.Context, userID string, suspend bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SUSPEND %s %t", userID, suspend)
	if err := f.ownErr[userID]; err != nil {
		return err
	}
	f.users[userID].Suspended = synapse.Flag(suspend)
	return nil
}

func (f *fakeClient) CanSuspend(context.Context, string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("GET suspend")
	return !f.noSuspend, nil
}
