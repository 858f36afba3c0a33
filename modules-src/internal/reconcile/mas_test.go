package reconcile

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/mas"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// fakeMAS is MAS's users in memory, recording every write. The e2e tests
// (TestWithMAS…) prove the runner against the real MAS.
type fakeMAS struct {
	mu     sync.Mutex
	users  map[string]*mas.User
	writes []string
	// fail makes the write of that name fail with err.
	fail map[string]error
	// passwords are the users' passwords; logins and logouts count the
	// compatibility sessions opened and ended.
	passwords       map[string]string
	logins, logouts int
	emails          map[string][]mas.Email
}

func newFakeMAS(users ...*mas.User) *fakeMAS {
	f := &fakeMAS{users: map[string]*mas.User{}, fail: map[string]error{}, passwords: map[string]string{}, emails: map[string][]mas.Email{}}
	for i, u := range users {
		u.ID = httpapi.Identifier(fmt.Sprintf("01ID%022d", i))
		f.users[u.Username] = u
	}
	return f
}

func (f *fakeMAS) byID(id string) *mas.User {
	for _, u := range f.users {
		if string(u.ID) == id {
			return u
		}
	}
	return nil
}

func (f *fakeMAS) write(name, id string, apply func(u *mas.User)) (*mas.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, name+" "+id)
	if err := f.fail[name]; err != nil {
		return nil, err
	}
	u := f.byID(id)
	apply(u)
	c := *u
	return &c, nil
}

func (f *fakeMAS) UserByUsername(_ context.Context, name string) (*mas.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.users[name]; u != nil {
		c := *u
		return &c, nil
	}
	return nil, nil
}

func (f *fakeMAS) CreateUser(_ context.Context, n mas.NewUser) (*mas.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, "create "+n.Username)
	if err := f.fail["create"]; err != nil && !(n.SkipHomeserverCheck && isReserved(err)) {
		return nil, err
	}
	u := &mas.User{ID: httpapi.Identifier(fmt.Sprintf("01NEW%021d", len(f.users))), Username: n.Username}
	f.users[n.Username] = u
	c := *u
	return &c, nil
}

func (f *fakeMAS) SetAdmin(_ context.Context, id string, admin bool) (*mas.User, error) {
	return f.write("set-admin", id, func(u *mas.User) { u.Admin = admin })
}
func (f *fakeMAS) Lock(_ context.Context, id string) (*mas.User, error) {
	return f.write("lock", id, func(u *mas.User) { u.LockedAt = &now })
}
func (f *fakeMAS) Unlock(_ context.Context, id string) (*mas.User, error) {
	return f.write("unlock", id, func(u *mas.User) { u.LockedAt = nil })
}
func (f *fakeMAS) Deactivate(_ context.Context, id string, erase bool) (*mas.User, error) {
	return f.write(fmt.Sprintf("deactivate(erase=%v)", erase), id, func(u *mas.User) { u.DeactivatedAt = &now })
}
func (f *fakeMAS) Reactivate(_ context.Context, id string) (*mas.User, error) {
	return f.write("reactivate", id, func(u *mas.User) { u.DeactivatedAt = nil })
}
func (f *fakeMAS) SetPassword(_ context.Context, id, pw string, _ bool) error {
	_, err := f.write("set-password", id, func(u *mas.User) { f.passwords[u.Username] = pw })
	return err
}
func (f *fakeMAS) CompatLogin(_ context.Context, username, password string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["login"]; err != nil {
		return "", false, err
	}
	if pw, ok := f.passwords[username]; !ok || pw != password {
		return "", false, nil
	}
	f.logins++
	return "mct_fake", true, nil
}
func (f *fakeMAS) ListUsers(context.Context, int) ([]mas.User, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []mas.User
	for _, u := range f.users {
		out = append(out, *u)
	}
	return out, len(out), nil
}
func (f *fakeMAS) UserEmails(_ context.Context, id string) ([]mas.Email, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mas.Email{}, f.emails[id]...), nil
}
func (f *fakeMAS) AddUserEmail(_ context.Context, id, email string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, "add-email "+email)
	f.emails[id] = append(f.emails[id], mas.Email{ID: httpapi.Identifier("01EM" + email), Email: email})
	return nil
}
func (f *fakeMAS) DeleteUserEmail(_ context.Context, emailID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, "delete-email "+emailID)
	for id, list := range f.emails {
		for i, e := range list {
			if string(e.ID) == emailID {
				f.emails[id] = append(list[:i:i], list[i+1:]...)
			}
		}
	}
	return nil
}
func (f *fakeMAS) CompatLogout(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logouts++
	return nil
}

func masRun(t *testing.T, f *fakeMAS, check bool, desired ...*Desired) []*Outcome {
	t.Helper()
	r := &MASRunner{Client: f, ServerName: "test", CheckMode: check, Concurrency: 2}
	out, err := r.Run(context.Background(), desired)
	require.NoError(t, err)
	return out
}

func declare(t *testing.T, d *Desired, name string, v any) {
	t.Helper()
	require.NoError(t, d.Declare(name, v))
}

// Check mode predicts exactly what the run does, and sends no write; the
// rerun has nothing to do.
func TestMASRunnerCreateCheckApplyRerun(t *testing.T) {
	t.Parallel()
	f := newFakeMAS()
	alice := want("alice", func(d *Desired) {
		declare(t, d, "password", "correct-horse-1")
		declare(t, d, "admin", true)
		declare(t, d, "locked", true)
	})
	checked := masRun(t, f, true, alice)
	assert.Empty(t, f.writes)
	assert.Equal(t, ActionCreated, checked[0].Action)
	assert.True(t, checked[0].Changed())

	applied := masRun(t, f, false, alice)
	assert.Equal(t, []string{"create alice", "set-password 01NEW000000000000000000000", "set-admin 01NEW000000000000000000000", "lock 01NEW000000000000000000000"}, f.writes)
	assert.Equal(t, checked[0].Action, applied[0].Action)
	assert.Equal(t, checked[0].Changes, applied[0].Changes)
	assert.Equal(t, checked[0].After, applied[0].After)
	assert.Equal(t, checked[0].User.View(), applied[0].User.View())
	assert.Equal(t, "@alice:test", applied[0].UserID)

	f.writes = nil
	again := masRun(t, f, false, alice)
	assert.Empty(t, f.writes, "a rerun writes nothing")
	assert.Equal(t, ActionUnchanged, again[0].Action)
	assert.False(t, again[0].Changed())
}

func TestMASRunnerUpdateDeactivateReactivate(t *testing.T) {
	t.Parallel()
	f := newFakeMAS(&mas.User{Username: "bob", Admin: true, LockedAt: &now})
	bob := want("bob", func(d *Desired) {
		declare(t, d, "admin", false)
		declare(t, d, "locked", false)
		declare(t, d, "password", "not-applied-1")
	})
	checked := masRun(t, f, true, bob)
	assert.Empty(t, f.writes)
	out := masRun(t, f, false, bob)
	assert.Equal(t, ActionUpdated, out[0].Action)
	assert.Equal(t, []string{"admin", "locked"}, out[0].Changes, "the password of an existing user is on_create")
	assert.Equal(t, map[string]any{"admin": true, "locked": true}, out[0].Before)
	assert.Equal(t, checked[0].User.View(), out[0].User.View())

	gone := want("bob", func(d *Desired) { d.State = StateAbsent })
	f.writes = nil
	out = masRun(t, f, false, gone)
	assert.Equal(t, ActionDeactivated, out[0].Action)
	assert.Equal(t, []string{"deactivate(erase=false) 01ID0000000000000000000000"}, f.writes, "never erased unless asked")
	f.writes = nil
	out = masRun(t, f, false, gone)
	assert.Equal(t, ActionUnchanged, out[0].Action)
	assert.Empty(t, f.writes)

	out = masRun(t, f, true, want("bob", nil))
	assert.Equal(t, ActionReactivated, out[0].Action)
	assert.Empty(t, f.writes)
	out = masRun(t, f, false, want("bob", nil))
	assert.Equal(t, ActionReactivated, out[0].Action)
	assert.Equal(t, []string{"reactivate 01ID0000000000000000000000"}, f.writes)

	// The register-user command does not bring back a deactivated user
	// unless asked, and says a password was not applied.
	_, err := f.Deactivate(context.Background(), "01ID0000000000000000000000", true)
	require.NoError(t, err)
	r := &MASRunner{Client: f, ServerName: "test", Concurrency: 1, Seed: true}
	seeded, err := r.Run(context.Background(), []*Desired{want("bob", func(d *Desired) { declare(t, d, "password", "x-pass-123") })})
	require.NoError(t, err)
	require.Error(t, seeded[0].Err)
	assert.Contains(t, seeded[0].Err.Error(), "is deactivated")
	_, err = f.Reactivate(context.Background(), "01ID0000000000000000000000")
	require.NoError(t, err)
	seeded, err = r.Run(context.Background(), []*Desired{want("bob", func(d *Desired) { declare(t, d, "password", "x-pass-123") })})
	require.NoError(t, err)
	require.NoError(t, seeded[0].Err)
	require.Len(t, seeded[0].Warnings, 1)
	assert.Contains(t, seeded[0].Warnings[0].Error(), "password given was not applied")
}

// A create MAS refuses with 409 is explained: raced in, or half-provisioned.
func TestMASRunnerCreateConflicts(t *testing.T) {
	t.Parallel()
	for title, want_ := range map[string]string{
		"User already exists":                    "was created by someone else since it was read",
		"Username is reserved by the homeserver": "exists in Synapse but not in MAS (half-provisioned",
	} {
		f := newFakeMAS()
		f.fail["create"] = &mas.Error{Method: http.MethodPost, Path: "/api/admin/v1/users", Status: http.StatusConflict, Titles: []string{title}}
		out := masRun(t, f, false, want("carol", nil))
		require.Error(t, out[0].Err)
		assert.Contains(t, out[0].Err.Error(), want_)
		assert.False(t, out[0].Changed())
	}
	f := newFakeMAS()
	f.fail["set-password"] = &mas.Error{Status: http.StatusBadRequest, Titles: []string{"Password is too weak"}}
	out := masRun(t, f, false, want("dave", func(d *Desired) { declare(t, d, "password", "weak-but-long") }))
	require.Error(t, out[0].Err)
	assert.Contains(t, out[0].Err.Error(), "MAS refused its password: MAS answered 400: Password is too weak")
	assert.True(t, out[0].Changed(), "the user was created")

	f = newFakeMAS(&mas.User{Username: "erin"})
	f.fail["set-admin"] = &mas.Error{Status: http.StatusInternalServerError}
	out = masRun(t, f, false, want("erin", func(d *Desired) { declare(t, d, "admin", true) }))
	require.Error(t, out[0].Err)
	assert.Equal(t, ActionFailed, out[0].Action)
	assert.True(t, out[0].Changed(), "a 5xx to a write may have applied it")
	f.fail["set-admin"] = &mas.Error{Status: http.StatusBadRequest}
	out = masRun(t, f, false, want("erin", func(d *Desired) { declare(t, d, "admin", true) }))
	assert.False(t, out[0].Changed(), "a refused write did not")
}

// What the MAS backend does not manage is refused before any request,
// naming the field and why.
func TestCheckMAS(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]any{"external_ids": []any{map[string]any{"auth_provider": "oidc", "external_id": "x"}}, "user_type": "bot", "shadow_banned": true} {
		d := want("al", func(d *Desired) { declare(t, d, name, v) })
		err := CheckMAS([]*Desired{d})
		require.Error(t, err, name)
		assert.Contains(t, problem.Render(err, problem.Module), name+" cannot be managed on a homeserver that delegates to MAS")
	}
	d := want("al", func(d *Desired) {
		declare(t, d, "password", "pw-long-1")
		declare(t, d, "locked", true)
		d.UpdatePassword = PasswordAlways
	})
	require.ErrorContains(t, CheckMAS([]*Desired{d}), "update_password=always cannot be kept for a locked user")
	require.NoError(t, CheckMAS([]*Desired{want("al", func(d *Desired) { declare(t, d, "admin", true) })}))

	f := newFakeMAS()
	_, err := (&MASRunner{Client: f, ServerName: "test"}).Run(context.Background(), []*Desired{want("al", func(d *Desired) { declare(t, d, "user_type", "bot") })})
	require.Error(t, err)
	assert.Empty(t, f.writes)
	out := masRun(t, f, false, &Desired{Entry: problem.Entry{Name: "@x:other"}, Localpart: "x", Server: "other", State: StatePresent})
	require.Error(t, out[0].Err, "another server's user")
	out = masRun(t, f, false, want("nobody", func(d *Desired) { d.State = StateAbsent }))
	assert.Equal(t, ActionUnchanged, out[0].Action)
}

// update_password=always verifies through the compatibility login, ends
// the session at once, and sets the password only when it differs; a rerun
// changes nothing and logs nobody out.
func TestMASRunnerPasswordAlways(t *testing.T) {
	t.Parallel()
	f := newFakeMAS(&mas.User{Username: "al"})
	f.passwords["al"] = "old-password-1"
	al := want("al", func(d *Desired) { declare(t, d, "password", "new-password-1"); d.UpdatePassword = PasswordAlways })
	checked := masRun(t, f, true, al)
	assert.Empty(t, f.writes)
	assert.Equal(t, []string{"password"}, checked[0].Changes)
	out := masRun(t, f, false, al)
	assert.Equal(t, []string{"set-password 01ID0000000000000000000000"}, f.writes)
	assert.Equal(t, ActionUpdated, out[0].Action)
	assert.Contains(t, out[0].PasswordNote, "MAS's set-password ends none")
	f.writes = nil
	out = masRun(t, f, false, al)
	assert.Equal(t, ActionUnchanged, out[0].Action)
	assert.Empty(t, f.writes)
	assert.Equal(t, 1, f.logins)
	assert.Equal(t, f.logins, f.logouts, "every login is logged out")

	// A locked user cannot log in: refused, naming why.
	f = newFakeMAS(&mas.User{Username: "lo", LockedAt: &now})
	out = masRun(t, f, false, want("lo", func(d *Desired) { declare(t, d, "password", "pw-long-2"); d.UpdatePassword = PasswordAlways }))
	require.Error(t, out[0].Err)
	assert.Contains(t, out[0].Err.Error(), "is locked, so its password cannot be verified")
	assert.Empty(t, f.writes)

	// MAS's login rate limit, still there after the one wait: fails naming
	// the limit and how to raise it.
	f = newFakeMAS(&mas.User{Username: "rl"})
	f.fail["login"] = &mas.Error{Status: http.StatusTooManyRequests, Code: "M_LIMIT_EXCEEDED"}
	r := &MASRunner{Client: f, ServerName: "test", Concurrency: 2, LoginLimitWait: time.Millisecond}
	out, err := r.Run(context.Background(), []*Desired{want("rl", func(d *Desired) { declare(t, d, "password", "pw-long-3"); d.UpdatePassword = PasswordAlways })})
	require.NoError(t, err)
	require.Error(t, out[0].Err)
	assert.Contains(t, out[0].Err.Error(), "rate_limiting.login.per_ip")
	assert.Empty(t, f.writes)
}

type fakeProfiles map[string]*synapse.Profile

func (p fakeProfiles) Profile(_ context.Context, id string) (*synapse.Profile, error) {
	return p[id], nil
}

// The display name and avatar go with MAS's create; an existing user's are
// read from Synapse, and a difference fails (not changed yet under MAS).
func TestMASRunnerProfile(t *testing.T) {
	t.Parallel()
	name, avatar := "Al Ice", "mxc://test/al"
	f := newFakeMAS(&mas.User{Username: "bo"})
	profiles := fakeProfiles{"@bo:test": {DisplayName: &name}}
	r := &MASRunner{Client: f, Profiles: profiles, ServerName: "test", Concurrency: 1}
	al := want("al", func(d *Desired) { declare(t, d, "displayname", name); declare(t, d, "avatar_url", avatar) })
	out, err := r.Run(context.Background(), []*Desired{al})
	require.NoError(t, err)
	assert.Equal(t, ActionCreated, out[0].Action)
	assert.Equal(t, name, out[0].User.View()["displayname"])
	assert.Equal(t, avatar, out[0].After["avatar_url"])

	out, err = r.Run(context.Background(), []*Desired{want("bo", func(d *Desired) { declare(t, d, "displayname", name) })})
	require.NoError(t, err)
	assert.Equal(t, ActionUnchanged, out[0].Action)
	out, err = r.Run(context.Background(), []*Desired{want("bo", func(d *Desired) { declare(t, d, "displayname", "Other") })})
	require.NoError(t, err)
	require.Error(t, out[0].Err)
	assert.Contains(t, problem.Render(out[0].Err, problem.Module), `displayname of @bo:test is "Al Ice" in Synapse, not the declared "Other"`)
}

// A half-provisioned account is adopted only when asked.
func TestMASRunnerAdopt(t *testing.T) {
	t.Parallel()
	reserved := &mas.Error{Status: http.StatusConflict, Titles: []string{"Username is reserved by the homeserver"}}
	f := newFakeMAS()
	f.fail["create"] = reserved
	out := masRun(t, f, false, want("half", nil))
	require.Error(t, out[0].Err)
	assert.Contains(t, problem.Render(out[0].Err, problem.Module), "only with mas_adopt_synapse_accounts=true")
	r := &MASRunner{Client: f, ServerName: "test", Concurrency: 1, Adopt: true}
	out, err := r.Run(context.Background(), []*Desired{want("half", nil)})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	assert.Equal(t, ActionCreated, out[0].Action)
	require.Len(t, out[0].Warnings, 1)
	assert.Contains(t, out[0].Warnings[0].Error(), "MAS adopted Synapse's account")
}

// Exclusive mode deactivates the active MAS users the list does not
// declare, never a protected one or a legacy guest, and refuses before any
// write beyond its threshold.
func TestMASRunnerExclusive(t *testing.T) {
	t.Parallel()
	f := newFakeMAS(&mas.User{Username: "keep"}, &mas.User{Username: "gone"}, &mas.User{Username: "bot-1"},
		&mas.User{Username: "guest", LegacyGuest: true}, &mas.User{Username: "old", DeactivatedAt: &now})
	r := &MASRunner{Client: f, ServerName: "test", Concurrency: 1, Exclusive: true, Protect: []string{"bot-*"},
		MaxDeactivations: 0, MaxDeactivationsPercent: 25}
	_, err := r.Run(context.Background(), []*Desired{want("keep", nil)})
	require.Error(t, err, "max_deactivations=0 allows none")
	assert.Contains(t, problem.Render(err, problem.Module), "exclusive would deactivate 1 of the 2 MAS accounts it may deactivate (@gone:test)")
	assert.Empty(t, f.writes)

	r.MaxDeactivations, r.CheckMode = 10, true
	out, err := r.Run(context.Background(), []*Desired{want("keep", nil)})
	require.NoError(t, err)
	require.Len(t, out, 2)
	assert.True(t, out[1].Undeclared)
	assert.Equal(t, "@gone:test", out[1].UserID)
	assert.Empty(t, f.writes)
	r.CheckMode = false
	_, err = r.Run(context.Background(), []*Desired{want("keep", nil)})
	require.NoError(t, err)
	assert.Equal(t, []string{"deactivate(erase=false) 01ID0000000000000000000001"}, f.writes)
	f.writes = nil
	out, err = r.Run(context.Background(), []*Desired{want("keep", nil)})
	require.NoError(t, err)
	assert.Len(t, out, 1, "the rerun has nothing to deactivate")
	assert.Empty(t, f.writes)
}

// Emails: added at creation, then kept equal to the declaration (case
// aside); an msisdn is refused before any request.
func TestMASRunnerEmails(t *testing.T) {
	t.Parallel()
	f := newFakeMAS()
	emails := func(addrs ...string) []any {
		out := []any{}
		for _, a := range addrs {
			out = append(out, map[string]any{"medium": "email", "address": a})
		}
		return out
	}
	al := func(addrs ...string) *Desired {
		return want("al", func(d *Desired) { declare(t, d, "threepids", emails(addrs...)) })
	}
	out := masRun(t, f, false, al("a@example.org"))
	assert.Equal(t, ActionCreated, out[0].Action)
	assert.Contains(t, f.writes, "add-email a@example.org")
	f.writes = nil
	out = masRun(t, f, false, al("A@Example.org"))
	assert.Equal(t, ActionUnchanged, out[0].Action, "compared without regard to case")
	assert.Empty(t, f.writes)
	checked := masRun(t, f, true, al("b@example.org"))
	assert.Empty(t, f.writes)
	out = masRun(t, f, false, al("b@example.org"))
	assert.Equal(t, ActionUpdated, out[0].Action)
	assert.Equal(t, []string{"threepids"}, out[0].Changes)
	assert.Equal(t, []string{"add-email b@example.org", "delete-email 01EMa@example.org"}, f.writes)
	assert.Equal(t, checked[0].User.View(), out[0].User.View())
	f.writes = nil
	out = masRun(t, f, false, al("b@example.org"))
	assert.Equal(t, ActionUnchanged, out[0].Action)
	assert.Empty(t, f.writes)

	d := want("al", func(d *Desired) {
		declare(t, d, "threepids", []any{map[string]any{"medium": "msisdn", "address": "123"}})
	})
	require.ErrorContains(t, CheckMAS([]*Desired{d}), "keeps email addresses only")
}
