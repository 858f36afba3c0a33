package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

const me = "@admin:test"

// account is an active account as a Synapse that can lock users lists it.
func account(id string) *synapse.User {
	name := localpartOf(id)
	return &synapse.User{Name: id, Displayname: &name, LockedKnown: true,
		Threepids: []synapse.Threepid{}, ExternalIDs: []synapse.ExternalID{}}
}

func want(localpart string, set func(d *Desired)) *Desired {
	d := &Desired{Entry: problem.Entry{Name: localpart}, Localpart: localpart, State: StatePresent, UpdatePassword: PasswordOnCreate}
	if set != nil {
		set(d)
	}
	return d
}

func hashOf(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	return string(h)
}

func adminRunner(c Client) *Runner {
	return &Runner{Client: c, Facts: Facts{Me: me, CanRead: true}, ServerName: "test", Concurrency: 4,
		MaxDeactivations: 10, MaxDeactivationsPercent: 100}
}

func synapseErr(status int, errcode string) error {
	return &synapse.Error{Method: http.MethodPut, Path: "/_synapse/admin/v2/users/x", Status: status, Errcode: errcode, Message: "refused"}
}

// runOne runs r over desired and returns the outcomes by user ID (or Ref).
func runOne(t *testing.T, r *Runner, desired ...*Desired) (map[string]*Outcome, []string) {
	t.Helper()
	outcomes, warnings, err := r.Run(context.Background(), desired)
	require.NoError(t, err)
	byName := map[string]*Outcome{}
	for _, o := range outcomes {
		byName[o.Name().String()] = o
	}
	var texts []string
	for _, w := range warnings {
		texts = append(texts, w.Error())
	}
	return byName, texts
}

func TestRunCheckModeOnlyReads(t *testing.T) {
	for name, tc := range map[string]struct {
		desired []*Desired
		want    map[string]Action
	}{
		"one new user": {[]*Desired{want("bob", nil)}, map[string]Action{"@bob:test": ActionCreated}},
		"one unchanged": {[]*Desired{want("alice", func(d *Desired) { d.set("displayname", "alice") })},
			map[string]Action{"@alice:test": ActionUnchanged}},
		"a batch": {[]*Desired{want("alice", func(d *Desired) { d.set("admin", true) }), want("bob", nil), want("carol", func(d *Desired) { d.State = StateAbsent })}, map[string]Action{"@alice:test": ActionUpdated, "@bob:test": ActionCreated, "@carol:test": ActionDeactivated}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(account("@alice:test"), account("@carol:test"), account(me))
			r := adminRunner(f)
			r.CheckMode = true
			got, _ := runOne(t, r, tc.desired...)
			for id, action := range tc.want {
				require.Contains(t, got, id)
				assert.Equal(t, action, got[id].Action, id)
				assert.False(t, got[id].Wrote, id)
				assert.NoError(t, got[id].Err, id)
			}
			assert.Empty(t, f.writes(), "check mode sends no write")
		})
	}
}

func TestRunApplies(t *testing.T) {
	f := newFake(account("@alice:test"), account("@carol:test"), account("@dave:test"), account(me))
	got, warnings := runOne(t, adminRunner(f),
		want("alice", func(d *Desired) { d.set("displayname", "Alice A.") }),
		want("bob", func(d *Desired) { d.set("password", "pw"); d.set("locked", true) }),
		want("carol", func(d *Desired) { d.State = StateAbsent; d.Erase = true }),
		want("dave", nil),
	)
	assert.Empty(t, warnings)
	assert.Equal(t, ActionUpdated, got["@alice:test"].Action)
	assert.Equal(t, []string{"displayname"}, got["@alice:test"].Changes)
	assert.Equal(t, "Alice A.", got["@alice:test"].User.View()["displayname"])
	assert.Equal(t, ActionCreated, got["@bob:test"].Action)
	assert.Equal(t, true, got["@bob:test"].User.View()["locked"], "a create ignores locked: a second PUT sets it")
	assert.Equal(t, ActionDeactivated, got["@carol:test"].Action)
	assert.True(t, bool(got["@carol:test"].User.Erased))
	assert.Equal(t, ActionUnchanged, got["@dave:test"].Action)
	assert.False(t, got["@dave:test"].Wrote)
	assert.Equal(t, []string{"CREATE @bob:test", "DEACTIVATE @carol:test", "PUT @alice:test", "PUT @bob:test"}, f.writes(),
		"bob: an empty create, then its password and locked in one PUT")

	// The rerun finds nothing to do and sends nothing.
	before := len(f.writes())
	got, _ = runOne(t, adminRunner(f),
		want("alice", func(d *Desired) { d.set("displayname", "Alice A.") }),
		want("bob", func(d *Desired) { d.set("locked", true) }),
		want("carol", func(d *Desired) { d.State = StateAbsent; d.Erase = true }),
	)
	for id, o := range got {
		assert.Equal(t, ActionUnchanged, o.Action, id)
	}
	assert.Len(t, f.writes(), before)
}

func TestRunResolveID(t *testing.T) {
	f := newFake(account(me))
	got, _ := runOne(t, adminRunner(f),
		&Desired{Entry: problem.Entry{Name: "@x:other"}, Localpart: "x", Server: "other", State: StatePresent},
		&Desired{Entry: problem.Entry{Name: "long"}, Localpart: strings.Repeat("l", 250), State: StatePresent},
	)
	assert.ErrorContains(t, got["@x:other"].Err, "is on another server; this homeserver is test")
	assert.ErrorContains(t, got["long"].Err, "Synapse allows at most 255")
	assert.Empty(t, f.writes())

	// Without a server name (shared secret, none given) the ID is unknown
	// until Synapse names it.
	r := &Runner{Client: f, Facts: Facts{}, CheckMode: true}
	got, warnings := runOne(t, r, want("bob", func(d *Desired) { d.set("password", "pw") }))
	assert.Equal(t, ActionUnverified, got["bob"].Action)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "could not be verified in check mode (bob)")
}

func TestReadCurrent(t *testing.T) {
	readErr := synapseErr(http.StatusInternalServerError, "M_UNKNOWN")
	for name, tc := range map[string]struct {
		users   []*synapse.User
		setup   func(f *fakeClient)
		desired []*Desired
		// want is the action, or the text of the error, by name.
		want      map[string]string
		runErr    string
		wantCalls map[string]int
	}{
		"one user: one GET": {
			users: []*synapse.User{account("@alice:test")}, desired: []*Desired{want("alice", nil)},
			want: map[string]string{"@alice:test": "unchanged"}, wantCalls: map[string]int{"GET": 1, "LIST": 0},
		},
		"one user that cannot be read": {
			setup:   func(f *fakeClient) { f.getErr = map[string]error{"@alice:test": readErr} },
			desired: []*Desired{want("alice", nil)},
			want:    map[string]string{"@alice:test": "cannot read @alice:test: Synapse answered 500"},
		},
		"one legacy mixed-case user": {
			users: []*synapse.User{account("@Alice:test")}, desired: []*Desired{want("alice", func(d *Desired) { d.set("admin", true) })},
			want: map[string]string{"@Alice:test": "updated"},
		},
		"a batch: the list, no GET": {
			users:   []*synapse.User{account("@alice:test"), account("@bob:test")},
			desired: []*Desired{want("alice", nil), want("bob", nil), want("carol", nil)},
			want:    map[string]string{"@alice:test": "unchanged", "@bob:test": "unchanged", "@carol:test": "created"}, wantCalls: map[string]int{"GET": 0, "LIST": 1},
		},
		"a batch whose list cannot be read": {
			setup:   func(f *fakeClient) { f.listErr = readErr },
			desired: []*Desired{want("alice", nil), want("bob", nil)},
			runErr:  "cannot read the user list, so nothing was changed: Synapse answered 500",
		},
		"a batch with threepids: a GET for the existing user": {
			users:   []*synapse.User{account("@alice:test")},
			desired: []*Desired{want("alice", func(d *Desired) { d.set("threepids", []synapse.Threepid{}) }), want("bob", func(d *Desired) { d.set("external_ids", []synapse.ExternalID{}) })},
			want:    map[string]string{"@alice:test": "unchanged", "@bob:test": "created"}, wantCalls: map[string]int{"GET @alice": 1, "GET @bob": 0},
		},
		"a batch whose detail cannot be read": {
			users:   []*synapse.User{account("@alice:test")},
			setup:   func(f *fakeClient) { f.getErr = map[string]error{"@alice:test": readErr} },
			desired: []*Desired{want("alice", func(d *Desired) { d.set("threepids", []synapse.Threepid{}) }), want("bob", nil)},
			want:    map[string]string{"@alice:test": "cannot read @alice:test", "@bob:test": "created"},
		},
		"a batch: locked read per user where the list lacks it": {
			users:   []*synapse.User{{Name: "@alice:test"}},
			setup:   func(f *fakeClient) { f.lockedInGet = true },
			desired: []*Desired{want("alice", func(d *Desired) { d.set("locked", false) }), want("bob", nil)},
			want:    map[string]string{"@alice:test": "unchanged"}, wantCalls: map[string]int{"GET @alice": 1},
		},
		"a batch with a legacy mixed-case user": {
			users:   []*synapse.User{account("@Alice:test")},
			desired: []*Desired{want("alice", nil), want("bob", nil)},
			want:    map[string]string{"@Alice:test": "unchanged", "@bob:test": "created"},
		},
		"a batch with an ambiguous mixed-case user": {
			users:   []*synapse.User{account("@Alice:test"), account("@ALICE:test")},
			desired: []*Desired{want("alice", nil), want("bob", nil)},
			want:    map[string]string{"@alice:test": "differ only in case (@ALICE:test, @Alice:test)"},
		},
		"a batch where every user failed validation": {
			desired: []*Desired{{Entry: problem.Entry{Name: "a"}, Localpart: "a", Server: "elsewhere"}, {Entry: problem.Entry{Name: "b"}, Localpart: "b", Server: "elsewhere"}},
			want:    map[string]string{"a": "another server", "b": "another server"}, wantCalls: map[string]int{"LIST": 0, "GET": 0},
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(append(tc.users, account(me))...)
			if tc.setup != nil {
				tc.setup(f)
			}
			r := adminRunner(f)
			r.CheckMode = true
			outcomes, _, err := r.Run(context.Background(), tc.desired)
			if tc.runErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.runErr)
				return
			}
			require.NoError(t, err)
			got := map[string]*Outcome{}
			for _, o := range outcomes {
				got[o.Name().String()] = o
			}
			for id, w := range tc.want {
				require.Contains(t, got, id)
				if got[id].Err != nil {
					assert.Contains(t, got[id].Err.Error(), w, id)
				} else {
					assert.Equal(t, w, string(got[id].Action), id)
				}
			}
			for prefix, n := range tc.wantCalls {
				assert.Equal(t, n, f.count(prefix), prefix)
			}
		})
	}
}

func TestDetectLocking(t *testing.T) {
	old := func(id string) *synapse.User { return &synapse.User{Name: id} } // no "locked" key
	lock := func(d *Desired) { d.set("locked", true) }
	for name, tc := range map[string]struct {
		users []*synapse.User
		setup func(f *fakeClient)
		want  string
	}{
		"a Synapse that lists locked": {users: []*synapse.User{account("@alice:test"), account(me)}, want: "updated"},
		"a user's own answer has locked (1.91)": {users: []*synapse.User{old("@alice:test"), old(me)},
			setup: func(f *fakeClient) { f.lockedInGet = true }, want: "updated"},
		"nothing says locked (1.90)": {users: []*synapse.User{old("@alice:test"), old(me)}, want: "cannot lock users"},
		// alice is new: no user's own answer was read, the admin's tells.
		"the admin's own answer has locked": {users: []*synapse.User{old(me)},
			setup: func(f *fakeClient) { f.lockedInGet = true }, want: "created"},
		"the admin's own answer has no locked": {users: []*synapse.User{old(me)}, want: "cannot lock users"},
		"the admin cannot be read": {users: []*synapse.User{old(me)},
			setup: func(f *fakeClient) { f.getErr = map[string]error{me: synapseErr(http.StatusBadGateway, "")} },
			want:  "cannot tell whether this Synapse can lock users (reading @admin:test)"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(tc.users...)
			if tc.setup != nil {
				tc.setup(f)
			}
			r := adminRunner(f)
			r.CheckMode = true
			// Two users: the list is read, and alice's GET is only for
			// locked where the list lacks it.
			got, _ := runOne(t, r, want("alice", lock), want("bob", nil))
			o := got["@alice:test"]
			if o.Err != nil {
				assert.Contains(t, o.Err.Error(), tc.want)
			} else {
				assert.Equal(t, tc.want, string(o.Action))
			}
		})
	}
}

func TestCheckPasswords(t *testing.T) {
	stored := hashOf(t, "old-password")
	always := func(pw string) func(d *Desired) {
		return func(d *Desired) { d.set("password", pw); d.UpdatePassword = PasswordAlways }
	}
	for name, tc := range map[string]struct {
		setup    func(f *fakeClient)
		password string
		ctx      func() context.Context
		want     string // action, or text of the error
		warning  string
		writes   int
	}{
		"the same password":      {password: "old-password", want: "unchanged"},
		"a different password":   {password: "new-password", want: "updated", writes: 1},
		"hashes unreadable":      {setup: func(f *fakeClient) { f.hashErr = synapse.ErrHashesUnavailable }, password: "old-password", want: "updated", writes: 1, warning: "1 password(s) could not be compared"},
		"the hash read fails":    {setup: func(f *fakeClient) { f.hashErr = synapseErr(http.StatusForbidden, "M_FORBIDDEN") }, password: "x", want: "cannot read the stored password hash of @alice:test"},
		"the hash is not listed": {setup: func(f *fakeClient) { f.hashHidden = map[string]bool{"@alice:test": true} }, password: "x", want: "did not return its stored hash"},
		"interrupted": {password: "old-password", want: "the password was not compared: interrupted",
			ctx: func() context.Context {
				ctx, cancel := context.WithCancelCause(context.Background())
				cancel(errors.New("interrupted"))
				return ctx
			}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(account("@alice:test"), account(me))
			f.hashes["@alice:test"] = stored
			if tc.setup != nil {
				tc.setup(f)
			}
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			outcomes, warnings, err := adminRunner(f).Run(ctx, []*Desired{want("alice", always(tc.password))})
			require.NoError(t, err)
			o := outcomes[0]
			if o.Err != nil {
				assert.Contains(t, o.Err.Error(), tc.want)
				assert.False(t, o.Wrote, "nothing is sent for a password that was not compared")
			} else {
				assert.Equal(t, tc.want, string(o.Action))
			}
			assert.Len(t, f.writes(), tc.writes)
			if tc.warning != "" {
				require.NotEmpty(t, warnings)
				assert.Contains(t, warnings[0].Error(), tc.warning)
			}
		})
	}
}

// Above hashesPerUserLimit users, one request reads every hash; a user the
// bulk answer lacks is read alone.
func TestCheckPasswordsInBulk(t *testing.T) {
	f := newFake(account(me))
	var desired []*Desired
	for i := range hashesPerUserLimit + 2 {
		id := fmt.Sprintf("@u%d:test", i)
		f.users[id] = account(id)
		f.hashes[id] = hashOf(t, "pw")
		desired = append(desired, want(fmt.Sprintf("u%d", i), func(d *Desired) { d.set("password", "pw"); d.UpdatePassword = PasswordAlways }))
	}
	r := adminRunner(f)
	got, _ := runOne(t, r, desired...)
	for id, o := range got {
		assert.Equal(t, ActionUnchanged, o.Action, id)
	}
	assert.Equal(t, 1, f.count("HASHES :test"))
	assert.Equal(t, 1, f.count("HASHES "), "one request for all")

	f.calls = nil
	f.bulkHashErr = synapseErr(http.StatusBadGateway, "")
	got, _ = runOne(t, r, desired...)
	for id, o := range got {
		assert.ErrorContains(t, o.Err, "cannot read the stored password hash", id)
	}
	assert.Equal(t, 1, f.count("HASHES "), "no per-user reads after the bulk read failed")
}

func TestApplyErrors(t *testing.T) {
	refused := synapseErr(http.StatusBadRequest, "M_THREEPID_IN_USE")
	noAnswer := &synapse.UnreachableError{Method: http.MethodPut, URL: "http://x", Err: errors.New("connection reset by peer")}
	for name, tc := range map[string]struct {
		users   []*synapse.User
		setup   func(f *fakeClient)
		desired *Desired
		want    string
		// wrote: Synapse acknowledged a write; maybe: one may have been
		// applied; hasUser: the result reports an account.
		wrote, maybe, hasUser bool
	}{
		"a create refused": {
			setup:   func(f *fakeClient) { f.createErr = map[string]error{"@bob:test": refused} },
			desired: want("bob", func(d *Desired) { d.set("password", "pw") }),
			want:    "cannot create @bob:test: Synapse answered 400",
		},
		"a create whose answer was lost": {
			setup: func(f *fakeClient) {
				f.createErr = map[string]error{"@bob:test": noAnswer}
				f.createCreates = map[string]bool{"@bob:test": true}
			},
			desired: want("bob", func(d *Desired) { d.set("password", "pw") }),
			want:    "cannot create @bob:test: Synapse is unreachable (PUT http://x): connection reset by peer (explained); the request may still have created it without its password (rerun with update_password: always for it: that creates it, or sets its password)",
			maybe:   true,
		},
		"a create whose threepids are refused": {
			setup:   func(f *fakeClient) { f.putErr = map[string]error{"@bob:test": refused} },
			desired: want("bob", func(d *Desired) { d.set("threepids", []synapse.Threepid{{Medium: "email", Address: "b@x.org"}}) }),
			want:    "created @bob:test, but could not set threepids, so the account exists without it: Synapse answered 400 M_THREEPID_IN_USE",
			wrote:   true, hasUser: true,
		},
		"a create whose locked PUT fails": {
			setup:   func(f *fakeClient) { f.putErrIfExists = map[string]error{"@bob:test": refused} },
			desired: want("bob", func(d *Desired) { d.set("locked", true) }),
			want:    "created @bob:test, but could not set locked, so the account exists without it: Synapse answered 400", wrote: true, hasUser: true,
		},
		"a create whose password PUT gets no answer": {
			setup:   func(f *fakeClient) { f.putErr = map[string]error{"@bob:test": noAnswer} },
			desired: want("bob", func(d *Desired) { d.set("password", "pw"); d.set("displayname", "Bob") }),
			want:    "created @bob:test, but could not set password, displayname, so the account exists without it (its password is not set, and a rerun with update_password: on_create leaves an existing account's password alone: rerun with update_password: always for it)",
			wrote:   true, maybe: true, hasUser: true,
		},
		"an update refused midway": {
			users:   []*synapse.User{account("@alice:test")},
			setup:   func(f *fakeClient) { f.putErr = map[string]error{"@alice:test": refused} },
			desired: want("alice", func(d *Desired) { d.set("admin", true); d.set("displayname", "A") }),
			want:    "cannot update @alice:test (displayname, admin): Synapse answered 400 M_THREEPID_IN_USE: refused [PUT /_synapse/admin/v2/users/x] (explained); Synapse applies the fields one by one, so some may have been set (rerun to see)",
			maybe:   true, hasUser: true,
		},
		"an update of one field refused": {
			users:   []*synapse.User{account("@alice:test")},
			setup:   func(f *fakeClient) { f.putErr = map[string]error{"@alice:test": refused} },
			desired: want("alice", func(d *Desired) { d.set("admin", true) }),
			want:    "cannot update @alice:test (admin): Synapse answered 400", hasUser: true,
		},
		"a deactivation refused": {
			users:   []*synapse.User{account("@alice:test")},
			setup:   func(f *fakeClient) { f.deactErr = map[string]error{"@alice:test": refused} },
			desired: want("alice", func(d *Desired) { d.State = StateAbsent }),
			want:    "cannot deactivate @alice:test: Synapse answered 400", hasUser: true,
		},
		"a new account's deactivation refused": {
			setup:   func(f *fakeClient) { f.deactErr = map[string]error{"@bob:test": refused} },
			desired: want("bob", func(d *Desired) { d.State = StateAbsent }),
			want:    "created @bob:test, but could not deactivate it: Synapse answered 400", wrote: true, hasUser: true,
		},
		"Synapse 1.140's bcrypt bug": {
			setup: func(f *fakeClient) {
				f.putErr = map[string]error{"@bob:test": synapseErr(http.StatusInternalServerError, "M_UNKNOWN")}
			},
			desired: want("bob", func(d *Desired) { d.set("password", strings.Repeat("p", 80)) }),
			want:    "which Synapse 1.140.x cannot hash", wrote: true, maybe: true, hasUser: true,
		},
		"a short password's 500 is left as it is": {
			users: []*synapse.User{account("@alice:test")},
			setup: func(f *fakeClient) {
				f.putErr = map[string]error{"@alice:test": synapseErr(http.StatusInternalServerError, "M_UNKNOWN")}
			},
			desired: want("alice", func(d *Desired) { d.set("password", "short"); d.UpdatePassword = PasswordAlways }),
			want:    "cannot update @alice:test (password): Synapse answered 500", maybe: true, hasUser: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(append(tc.users, account(me))...)
			f.hashErr = synapse.ErrHashesUnavailable
			if tc.setup != nil {
				tc.setup(f)
			}
			r := adminRunner(f)
			r.Explain = func(err error) error { return fmt.Errorf("%w (explained)", err) }
			got, _ := runOne(t, r, tc.desired)
			o := got[UserID(tc.desired.Localpart, "test")]
			require.Error(t, o.Err)
			assert.Contains(t, o.Err.Error(), tc.want)
			if !strings.Contains(tc.want, "1.140") {
				assert.Contains(t, o.Err.Error(), "(explained)", "Explain adds its hint to every Synapse error")
			}
			assert.Equal(t, ActionFailed, o.Action)
			assert.Equal(t, tc.wrote, o.Wrote, "acknowledged writes")
			assert.Equal(t, tc.maybe, o.MaybeWrote, "writes that may have been applied")
			assert.Equal(t, tc.wrote || tc.maybe, o.Changed(), "changed: a write acknowledged, or one whose answer was lost")
			assert.Equal(t, tc.hasUser, o.User != nil, "a failed create reports no user")
		})
	}
}

// A panic while applying one user fails that user, not the module.
func TestApplyPanicFailsOneUser(t *testing.T) {
	f := newFake(account(me))
	r := adminRunner(f)
	r.Explain = func(error) error { panic("boom") }
	f.createErr = map[string]error{"@bob:test": synapseErr(http.StatusBadRequest, "")}
	got, _ := runOne(t, r, want("bob", nil), want("carol", nil))
	assert.ErrorContains(t, got["@bob:test"].Err, "internal error: boom")
	assert.Equal(t, ActionCreated, got["@carol:test"].Action)
}

// A create is an empty PUT; the password and the fields follow only when it
// created the account. Everything declared rides in the second PUT.
func TestCreateIsEmptyThenTheRest(t *testing.T) {
	f := newFake(account(me))
	f.hashErr = synapse.ErrHashesUnavailable
	got, _ := runOne(t, adminRunner(f),
		want("bob", func(d *Desired) { d.set("password", "pw"); d.set("displayname", "Bob") }),
		want("carol", nil),
	)
	assert.Equal(t, ActionCreated, got["@bob:test"].Action)
	assert.True(t, got["@bob:test"].Wrote)
	assert.Equal(t, "Bob", got["@bob:test"].User.View()["displayname"])
	assert.Equal(t, ActionCreated, got["@carol:test"].Action)
	assert.Equal(t, []string{"CREATE @bob:test", "CREATE @carol:test", "PUT @bob:test"}, f.writes(),
		"carol declares nothing a new account lacks: one request")
	assert.Equal(t, []string{"@bob:test"}, f.passwords)
}

// An account that appeared between the read and the create is never
// overwritten: it is read again and planned as the existing account it is,
// and the outcome says so.
func TestCreateFindsTheAccountAppeared(t *testing.T) {
	other := account("@bob:test")
	other.Displayname = ptr("Made by another run")
	for name, tc := range map[string]struct {
		set     func(d *Desired)
		appear  *synapse.User
		hashes  map[string]string
		action  Action
		changes []string
		writes  []string
		note    string
	}{
		"on_create: the password is not sent": {
			set:    func(d *Desired) { d.set("password", "mine") },
			action: ActionUnchanged, writes: []string{"CREATE @bob:test"},
			note: "so the declared password was not set",
		},
		"on_create with a field: the field is, the password is not": {
			set:    func(d *Desired) { d.set("password", "mine"); d.set("displayname", "Bob") },
			action: ActionUpdated, changes: []string{"displayname"}, writes: []string{"CREATE @bob:test", "PUT @bob:test"},
			note: "handled as the existing account it is",
		},
		"always, the same password": {
			set:    func(d *Desired) { d.set("password", "mine"); d.UpdatePassword = PasswordAlways },
			hashes: map[string]string{"@bob:test": "mine"},
			action: ActionUnchanged, writes: []string{"CREATE @bob:test"},
		},
		"always, another password": {
			set:    func(d *Desired) { d.set("password", "mine"); d.UpdatePassword = PasswordAlways },
			hashes: map[string]string{"@bob:test": "theirs"},
			action: ActionUpdated, changes: []string{"password"}, writes: []string{"CREATE @bob:test", "PUT @bob:test"},
		},
		"absent: deactivated as declared": {
			set:    func(d *Desired) { d.State = StateAbsent },
			action: ActionDeactivated, changes: []string{"deactivated"}, writes: []string{"CREATE @bob:test", "DEACTIVATE @bob:test"},
		},
		"absent, and already deactivated": {
			set: func(d *Desired) { d.State = StateAbsent },
			appear: func() *synapse.User {
				u := account("@bob:test")
				u.Deactivated = true
				return u
			}(),
			action: ActionUnchanged, writes: []string{"CREATE @bob:test"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(account(me))
			appear := other
			if tc.appear != nil {
				appear = tc.appear
			}
			f.appear = map[string]*synapse.User{"@bob:test": appear}
			for id, pw := range tc.hashes {
				f.hashes[id] = hashOf(t, pw)
			}
			// Two users, so that the list (not a GET) is the read.
			got, _ := runOne(t, adminRunner(f), want("bob", tc.set), want("carol", nil))
			o := got["@bob:test"]
			require.NoError(t, o.Err)
			assert.Equal(t, tc.action, o.Action)
			assert.ElementsMatch(t, tc.changes, o.Changes)
			assert.ElementsMatch(t, append(tc.writes, "CREATE @carol:test"), f.writes())
			require.NotEmpty(t, o.Warnings)
			assert.Contains(t, o.Warnings[len(o.Warnings)-1].Error(), "@bob:test did not exist when this run read the users, but existed when it was to be created")
			assert.Contains(t, o.Warnings[len(o.Warnings)-1].Error(), tc.note)
			if tc.action == ActionUnchanged {
				assert.False(t, o.Changed())
			}
			if len(tc.changes) == 0 || tc.changes[0] != "password" {
				assert.Empty(t, f.passwords, "no password is sent to an account someone else created")
			}
		})
	}
}

// Synapse refuses the create of @bob when @Bob (a legacy account) exists:
// that account is found and managed, not a new one made.
func TestCreateFindsALegacyAccount(t *testing.T) {
	f := newFake(account(me))
	// Made between this run's read and its create.
	f.appear = map[string]*synapse.User{"@bob:test": account("@Bob:test")}
	got, _ := runOne(t, adminRunner(f), want("bob", func(d *Desired) { d.set("admin", true); d.set("password", "pw") }), want("carol", nil))
	o := got["@Bob:test"]
	require.NotNil(t, o, "%v", got)
	require.NoError(t, o.Err)
	assert.Equal(t, ActionUpdated, o.Action)
	assert.Equal(t, []string{"admin"}, o.Changes)
	assert.Empty(t, f.passwords)
}

// When the create's answer was lost and a retry found the account, this run
// may have made it, or someone else did: no password goes to it.
func TestCreateAnswerLost(t *testing.T) {
	f := newFake(account(me))
	f.createLost = map[string]bool{"@bob:test": true, "@carol:test": true}
	f.appear = map[string]*synapse.User{"@bob:test": account("@bob:test"), "@carol:test": account("@carol:test")}
	got, _ := runOne(t, adminRunner(f), want("bob", func(d *Desired) { d.set("password", "pw") }), want("carol", func(d *Desired) { d.set("admin", true) }))
	bob := got["@bob:test"]
	require.Error(t, bob.Err)
	assert.Contains(t, bob.Err.Error(), "the answer to the create of @bob:test was lost, and the retry found the account: this run may have created it")
	assert.Contains(t, bob.Err.Error(), "update_password: always")
	assert.True(t, bob.MaybeWrote)
	assert.True(t, bob.Changed())
	carol := got["@carol:test"]
	require.NoError(t, carol.Err)
	assert.Equal(t, ActionUpdated, carol.Action, "without a password, it is managed as the existing account it is")
	assert.Empty(t, f.passwords)

	// update_password: always sets the password of an existing account
	// anyway, once compared.
	f = newFake(account(me))
	f.createLost = map[string]bool{"@dave:test": true}
	f.appear = map[string]*synapse.User{"@dave:test": account("@dave:test")}
	f.hashes["@dave:test"] = "" // no password yet: Synapse answers null
	got, _ = runOne(t, adminRunner(f), want("dave", func(d *Desired) { d.set("password", "pw"); d.UpdatePassword = PasswordAlways }))
	require.NoError(t, got["@dave:test"].Err)
	assert.Equal(t, ActionUpdated, got["@dave:test"].Action)
	assert.Equal(t, []string{"@dave:test"}, f.passwords)
}

// A run interrupted before a write sends nothing more, and what it did not
// send is no change.
func TestInterruptedRunSendsNothing(t *testing.T) {
	f := newFake(account("@alice:test"), account(me))
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupted by SIGTERM"))
	outcomes, _, err := adminRunner(f).Run(ctx, []*Desired{want("alice", func(d *Desired) { d.set("displayname", "A") }), want("bob", func(d *Desired) { d.set("password", "pw") })})
	require.NoError(t, err)
	for _, o := range outcomes {
		require.Error(t, o.Err, o.Name())
		assert.Contains(t, o.Err.Error(), "the run was interrupted (interrupted by SIGTERM)")
		assert.False(t, o.Changed(), "%s: nothing was sent", o.Name())
	}
	assert.Nil(t, outcomes[1].User, "a create not sent reports no user")
	require.NotNil(t, outcomes[0].User)
	assert.Equal(t, "alice", outcomes[0].User.View()["displayname"])
	assert.Empty(t, f.writes())
}

func TestRegistration(t *testing.T) {
	inUse := &synapse.Error{Method: http.MethodPost, Path: "/_synapse/admin/v1/register", Status: http.StatusBadRequest, Errcode: synapse.ErrcodeUserInUse}
	for name, tc := range map[string]struct {
		registered *synapse.Registered
		err        error
		seed       bool
		set        func(d *Desired)
		want       string // action, or text of the error
		warning    string
	}{
		"registered":                  {want: "created"},
		"registered under another ID": {registered: &synapse.Registered{UserID: "@bob:real.name"}, want: "Synapse registered @bob:real.name, not the declared @bob:test: server_name (test) is not this homeserver's name"},
		"the first answer was lost": {registered: &synapse.Registered{Retried: true}, err: inUse, want: "unverified",
			warning: "the answer to the first registration attempt was lost, and the retry found the user: that attempt created it, or someone else registered it"},
		"exists, nothing else declared": {registered: &synapse.Registered{}, err: inUse, want: "unverified"},
		"exists, with a display name": {registered: &synapse.Registered{}, err: inUse, set: func(d *Desired) { d.set("displayname", "Bob") },
			want: "@bob:test exists, and its displayname could not be checked or set"},
		"exists, seeded with a password": {registered: &synapse.Registered{}, err: inUse, seed: true,
			want: "@bob:test exists, and its password could not be checked or set"},
		"refused": {err: synapseErr(http.StatusForbidden, "M_FORBIDDEN"), want: "cannot register @bob:test: Synapse answered 403"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.registered, f.registerErr = tc.registered, tc.err
			r := &Runner{Client: f, ServerName: "test", SharedSecret: "s", Concurrency: 1, Seed: tc.seed}
			d := want("bob", func(d *Desired) { d.set("password", "pw") })
			if tc.set != nil {
				tc.set(d)
			}
			outcomes, _, err := r.Run(context.Background(), []*Desired{d})
			require.NoError(t, err)
			o := outcomes[0]
			if o.Err != nil {
				assert.Contains(t, o.Err.Error(), tc.want)
			} else {
				assert.Equal(t, tc.want, string(o.Action))
			}
			if tc.warning != "" {
				require.NotEmpty(t, o.Warnings)
				assert.Contains(t, o.Warnings[0].Error(), tc.warning)
			}
			assert.Equal(t, []string{"REGISTER bob"}, f.writes())
		})
	}
}

// A seeded password kept on an existing account is reported, not dropped.
func TestSeedPasswordKept(t *testing.T) {
	f := newFake(account("@bob:test"), account(me))
	r := adminRunner(f)
	r.Seed = true
	got, _ := runOne(t, r, want("bob", func(d *Desired) { d.set("password", "pw") }))
	o := got["@bob:test"]
	assert.Equal(t, ActionUnchanged, o.Action)
	require.Len(t, o.Warnings, 1)
	assert.Contains(t, o.Warnings[0].Error(), "the password given was not applied (update_password is on_create)")
}

// The register-user extra vars bring back a deactivated account only when
// asked (SeedReactivate); a declared list reactivates as it always did.
func TestSeedReactivatesOnlyWhenAsked(t *testing.T) {
	gone := func() *synapse.User { u := account("@bob:test"); u.Deactivated = true; return u }
	bob := want("bob", func(d *Desired) { d.set("password", "pw") })
	for _, check := range []bool{true, false} {
		f := newFake(gone(), account(me))
		r := adminRunner(f)
		r.Seed, r.CheckMode = true, check
		got, _ := runOne(t, r, bob)
		o := got["@bob:test"]
		assert.Equal(t, ActionFailed, o.Action, "check mode %v", check)
		assert.ErrorContains(t, o.Err, "@bob:test is deactivated, and the register-user extra vars reactivate an account only when asked: add reactivate=yes")
		assert.Empty(t, f.writes(), "nothing is sent")
	}

	f := newFake(gone(), account(me))
	r := adminRunner(f)
	r.Seed, r.SeedReactivate = true, true
	got, _ := runOne(t, r, bob)
	assert.Equal(t, ActionReactivated, got["@bob:test"].Action)

	f = newFake(gone(), account(me))
	got, _ = runOne(t, adminRunner(f), bob)
	assert.Equal(t, ActionReactivated, got["@bob:test"].Action, "a declared user is reactivated")
}

func TestUnverifiedWarningIsBounded(t *testing.T) {
	var outcomes []*Outcome
	for i := range maxNamesInWarning + 3 {
		outcomes = append(outcomes, &Outcome{UserID: fmt.Sprintf("@u%d:test", i), Action: ActionUnverified})
	}
	w := unverifiedWarning(outcomes, false)
	require.Len(t, w, 1)
	assert.Contains(t, w[0].Error(), "13 existing user(s) could not be verified")
	assert.Contains(t, w[0].Error(), "@u9:test and 3 more")
	assert.NotContains(t, w[0].Error(), "@u10:test")
	assert.Nil(t, unverifiedWarning(outcomes[:0], true))
}

func TestFindUser(t *testing.T) {
	ctx := context.Background()
	f := newFake(account("@alice:test"), account("@Carol:test"), account("@Dave:test"), account("@DAVE:test"))
	u, err := FindUser(ctx, f, "@alice:test")
	require.NoError(t, err)
	assert.Equal(t, "@alice:test", u.Name)
	assert.Equal(t, 0, f.count("LIST"), "an exact match needs no list")
	u, err = FindUser(ctx, f, "@nobody:test")
	require.NoError(t, err)
	assert.Nil(t, u)
	assert.Equal(t, 0, f.count("LIST"), "a name free in every case needs no list")
	u, err = FindUser(ctx, f, "@carol:test")
	require.NoError(t, err)
	assert.Equal(t, "@Carol:test", u.Name)
	assert.Equal(t, 1, f.count("LIST"), "taken in another case: the list says by whom")
	_, err = FindUser(ctx, f, "@dave:test")
	assert.ErrorContains(t, err, "differ only in case")
	f.listErr = errors.New("cut")
	_, err = FindUser(ctx, f, "@carol:test")
	assert.ErrorContains(t, err, "reading the user list to look for @carol:test in another case: cut")
}
