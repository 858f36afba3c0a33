package e2e

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// fixture is a real Synapse seen through a counting proxy, and its admin.
type fixture struct {
	srv     *synapsetest.Server
	proxy   *synapsetest.Proxy
	adminID string
	token   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return fixtureOn(t, synapsetest.Shared(t))
}

func fixtureOn(t *testing.T, srv *synapsetest.Server) *fixture {
	t.Helper()
	id, token := srv.Admin(t)
	recordSecrets(token, srv.SharedSecret, synapsetest.AdminPassword, srv.Pepper)
	p := synapsetest.NewProxy(srv.URL, "")
	t.Cleanup(p.Close)
	return &fixture{srv: srv, proxy: p, adminID: id, token: token}
}

// args are connection options for the admin token plus extra.
func (f *fixture) args(extra map[string]any) map[string]any {
	a := map[string]any{"homeserver_url": f.proxy.URL, "admin_token": f.token, "retries": 0}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

// read reads a user straight from Synapse, bypassing the module.
func (f *fixture) read(t *testing.T, localpart string) map[string]any {
	t.Helper()
	u, err := f.srv.User(f.token, f.srv.UserID(localpart))
	require.NoError(t, err)
	return u
}

// run runs matrix_user, proxy counters reset first.
func (f *fixture) run(t *testing.T, extra map[string]any) Run {
	t.Helper()
	f.proxy.Reset()
	return runModule(t, "matrix_user", f.args(extra))
}

func (f *fixture) check(t *testing.T, extra map[string]any) Run {
	t.Helper()
	a := map[string]any{"_ansible_check_mode": true}
	for k, v := range extra {
		a[k] = v
	}
	return f.run(t, a)
}

// requireNoWrites asserts the last run only read.
func (f *fixture) requireNoWrites(t *testing.T) {
	t.Helper()
	require.Empty(t, f.proxy.Writes(), "the run should only read")
}

func TestCreateThenRerunIsUnchanged(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("create")
	args := map[string]any{"user": name, "password": "first-pass-123", "displayname": "Create Test", "admin": true}

	r := f.run(t, args).mustSucceed(t)
	assert.True(t, r.changed())
	assert.True(t, r.bool("created"))
	assert.Equal(t, "created", r.str("action"))
	assert.Equal(t, f.srv.UserID(name), r.str("user_id"))
	assert.Len(t, f.proxy.Writes(), 2, "a create is an empty PUT, then the password and fields")
	assert.Equal(t, map[string]any{"total": 0.0, "429": 0.0, "connection": 0.0}, r.Result["retries"], "a normal run retries nothing")

	u := f.read(t, name)
	require.NotNil(t, u)
	assert.Equal(t, "Create Test", u["displayname"])
	assert.Equal(t, true, u["admin"])
	_, err := f.srv.Login(name, "first-pass-123")
	require.NoError(t, err, "the declared password logs in")

	r = f.run(t, args).mustSucceed(t)
	assert.False(t, r.changed())
	assert.Equal(t, "unchanged", r.str("action"))
	f.requireNoWrites(t)
	assert.LessOrEqual(t, len(f.proxy.Requests()), 6, "a no-op run is the four MAS probes, whoami and one GET: %v", f.proxy.Requests())
	assert.Equal(t, "Create Test", r.user()["displayname"])
}

func TestLocalpartIsLowerCasedAndFullIDAccepted(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("case")
	f.run(t, map[string]any{"user": strings.ToUpper(name), "password": "case-pass-123"}).mustSucceed(t)
	require.NotNil(t, f.read(t, name))
	r := f.run(t, map[string]any{"user": f.srv.UserID(name), "password": "case-pass-123"}).mustSucceed(t)
	assert.False(t, r.changed(), "John, john and @john:server are the same user")
}

func TestEachFieldChangedAlone(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		field string
		value any
		want  func(t *testing.T, u map[string]any)
	}{
		{"admin", true, func(t *testing.T, u map[string]any) { assert.Equal(t, true, u["admin"]) }},
		{"displayname", "Renamed", func(t *testing.T, u map[string]any) { assert.Equal(t, "Renamed", u["displayname"]) }},
		{"displayname", "", func(t *testing.T, u map[string]any) { assert.Nil(t, u["displayname"]) }},
		{"avatar_url", "mxc://test.local/avatar", func(t *testing.T, u map[string]any) { assert.Equal(t, "mxc://test.local/avatar", u["avatar_url"]) }},
		{"user_type", "bot", func(t *testing.T, u map[string]any) { assert.Equal(t, "bot", u["user_type"]) }},
		{"locked", true, func(t *testing.T, u map[string]any) { assert.Equal(t, true, u["locked"]) }},
		{"threepids", []any{map[string]any{"medium": "email", "address": " Field.Test@Example.COM "}}, func(t *testing.T, u map[string]any) {
			tp := u["threepids"].([]any)
			require.Len(t, tp, 1)
			assert.Equal(t, "field.test@example.com", tp[0].(map[string]any)["address"], "stored the way Synapse canonicalises emails")
		}},
		{"external_ids", []any{map[string]any{"auth_provider": "oidc-test", "external_id": "ext-" + uniqueUser("x")}}, func(t *testing.T, u map[string]any) {
			assert.Len(t, u["external_ids"].([]any), 1)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			name := uniqueUser("field")
			base := map[string]any{"user": name, "password": "field-pass-123", "displayname": "Base", "admin": false}
			f.run(t, base).mustSucceed(t)
			if tc.field == "locked" && !canLock(t) {
				requireLockRefused(t, f, f.run(t, map[string]any{"user": name, tc.field: tc.value}))
				return
			}

			change := map[string]any{"user": name, tc.field: tc.value}
			r := f.run(t, change).mustSucceed(t)
			assert.True(t, r.changed())
			assert.Equal(t, "updated", r.str("action"))
			assert.Equal(t, []string{tc.field}, r.changes())
			assert.Len(t, f.proxy.Writes(), 1, "one PUT for the changed field")
			tc.want(t, f.read(t, name))

			r = f.run(t, change).mustSucceed(t)
			assert.False(t, r.changed(), "rerun with the same value")
			f.requireNoWrites(t)
		})
	}
}

func TestUserTypeCleared(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("utype")
	f.run(t, map[string]any{"user": name, "user_type": "bot"}).mustSucceed(t)
	assert.Equal(t, "bot", f.read(t, name)["user_type"])
	r := f.run(t, map[string]any{"user": name, "user_type": ""}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Nil(t, f.read(t, name)["user_type"], "an empty user_type clears it")
}

func TestCreateLockedNeedsSecondPut(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("lockedcreate")
	if !canLock(t) {
		requireLockRefused(t, f, f.run(t, map[string]any{"user": name, "locked": true}))
		assert.Nil(t, f.read(t, name), "nothing created")
		return
	}
	r := f.run(t, map[string]any{"user": name, "locked": true}).mustSucceed(t)
	assert.True(t, r.bool("created"))
	assert.Len(t, f.proxy.Writes(), 2, "Synapse ignores locked on create: create, then lock")
	assert.Equal(t, true, f.read(t, name)["locked"])
	f.run(t, map[string]any{"user": name, "locked": true}).mustSucceed(t)
	f.requireNoWrites(t)
}

func TestPasswordAlways(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("pw")
	f.run(t, map[string]any{"user": name, "password": "original-pass-1"}).mustSucceed(t)
	session, err := f.srv.Login(name, "original-pass-1")
	require.NoError(t, err)
	hash, err := f.srv.PasswordHash(f.token, f.adminID, f.srv.UserID(name))
	require.NoError(t, err)

	// Same password: nothing sent, nothing re-hashed, nobody logged out.
	r := f.run(t, map[string]any{"user": name, "password": "original-pass-1", "update_password": "always"}).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)
	assert.True(t, f.srv.TokenValid(session), "the user's session survives an unchanged password")
	again, err := f.srv.PasswordHash(f.token, f.adminID, f.srv.UserID(name))
	require.NoError(t, err)
	assert.Equal(t, hash, again, "the hash was not rewritten")

	// on_create (the default) never touches an existing user's password.
	r = f.run(t, map[string]any{"user": name, "password": "ignored-pass-2"}).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)

	// A new password is set, and logs the user out by default.
	r = f.run(t, map[string]any{"user": name, "password": "second-pass-2", "update_password": "always"}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, []string{"password"}, r.changes())
	assert.False(t, f.srv.TokenValid(session), "logout_devices defaults to true")
	session, err = f.srv.Login(name, "second-pass-2")
	require.NoError(t, err)

	// logout_devices: false keeps sessions.
	r = f.run(t, map[string]any{"user": name, "password": "third-pass-3", "update_password": "always", "logout_devices": false}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.True(t, f.srv.TokenValid(session))
	_, err = f.srv.Login(name, "third-pass-3")
	require.NoError(t, err)
}

func TestPasswordComparedAsSynapseHashesIt(t *testing.T) {
	f := newFixture(t)
	t.Run("NFKC", func(t *testing.T) {
		name := uniqueUser("nfkc")
		// Fullwidth letters normalise (NFKC) to ASCII, as Synapse hashes them.
		f.run(t, map[string]any{"user": name, "password": "ｐａｓｓｗｏｒｄ１２３"}).mustSucceed(t)
		r := f.run(t, map[string]any{"user": name, "password": "password123", "update_password": "always"}).mustSucceed(t)
		assert.False(t, r.changed(), "NFKC-equal passwords are the same password to Synapse")
		f.requireNoWrites(t)
	})
	t.Run("72 bytes", func(t *testing.T) {
		name := uniqueUser("long")
		prefix := strings.Repeat("x", 72)
		f.run(t, map[string]any{"user": name, "password": prefix + "-tail-one"}).mustSucceed(t)
		r := f.run(t, map[string]any{"user": name, "password": prefix + "-tail-two", "update_password": "always"}).mustSucceed(t)
		assert.False(t, r.changed(), "bcrypt (and Synapse) use only the first 72 bytes")
		_, err := f.srv.Login(name, prefix+"-anything")
		require.NoError(t, err, "Synapse agrees: the tail does not count")
	})
}

func TestPasswordPepper(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{Pepper: "pepper-for-tests-91"})
	f := fixtureOn(t, srv)
	name := uniqueUser("pepper")
	f.run(t, map[string]any{"user": name, "password": "peppered-pass-1", "password_pepper": "pepper-for-tests-91"}).mustSucceed(t)
	assert.Equal(t, 1, countContaining(pathsOf(f), "/search_users/"), "the password set is read back once")

	r := f.run(t, map[string]any{"user": name, "password": "peppered-pass-1", "update_password": "always", "password_pepper": "pepper-for-tests-91"}).mustSucceed(t)
	assert.False(t, r.changed(), "with the server's pepper the password matches")
	f.requireNoWrites(t)

	r = f.run(t, map[string]any{"user": name, "password": "peppered-pass-1", "update_password": "always", "_ansible_check_mode": true}).mustSucceed(t)
	assert.True(t, r.changed(), "without the pepper the hash cannot match, so the password would be set")
}

func TestDeactivateEraseReactivate(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("deact")
	f.run(t, map[string]any{"user": name, "password": "deact-pass-1", "displayname": "Soon Gone",
		"threepids": []any{map[string]any{"medium": "email", "address": name + "@example.com"}}}).mustSucceed(t)

	r := f.run(t, map[string]any{"user": name, "state": "absent"}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, "deactivated", r.str("action"))
	u := f.read(t, name)
	assert.Equal(t, true, u["deactivated"])
	assert.Equal(t, false, u["erased"])
	assert.Equal(t, true, r.user()["deactivated"])

	r = f.run(t, map[string]any{"user": name, "state": "absent"}).mustSucceed(t)
	assert.False(t, r.changed(), "deactivating twice changes nothing")
	f.requireNoWrites(t)

	r = f.run(t, map[string]any{"user": name, "state": "absent", "erase": true}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, []string{"erased"}, r.changes())
	assert.Equal(t, true, f.read(t, name)["erased"])
	r = f.run(t, map[string]any{"user": name, "state": "absent", "erase": true}).mustSucceed(t)
	assert.False(t, r.changed())

	r = f.run(t, map[string]any{"user": name, "password": "back-again-2"}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, "reactivated", r.str("action"))
	assert.Equal(t, []string{"password", "deactivated"}, r.changes())
	assert.Equal(t, false, f.read(t, name)["deactivated"])
	_, err := f.srv.Login(name, "back-again-2")
	require.NoError(t, err)
}

func TestAbsentUserIsCreatedDeactivated(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("reserved")
	r := f.run(t, map[string]any{"user": name, "state": "absent"}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, "created", r.str("action"))
	assert.Equal(t, []string{"deactivated"}, r.changes())
	u := f.read(t, name)
	require.NotNil(t, u, "the ID is reserved")
	assert.Equal(t, true, u["deactivated"])
	r = f.run(t, map[string]any{"user": name, "state": "absent"}).mustSucceed(t)
	assert.False(t, r.changed())
}

func TestCheckModePredictsAndWritesNothing(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("check")
	create := map[string]any{"user": name, "password": "check-pass-1", "displayname": "Check", "admin": true, "locked": canLock(t)}

	predicted := f.check(t, create).mustSucceed(t)
	assert.True(t, predicted.changed())
	assert.Equal(t, "created", predicted.str("action"))
	f.requireNoWrites(t)
	assert.Nil(t, f.read(t, name), "check mode created nothing")

	real := f.run(t, create).mustSucceed(t)
	assertSamePrediction(t, predicted, real)

	update := map[string]any{"user": name, "displayname": "Checked", "admin": false, "locked": false, "password": "check-pass-2", "update_password": "always"}
	predicted = f.check(t, update).mustSucceed(t)
	assert.True(t, predicted.changed())
	f.requireNoWrites(t)
	u := f.read(t, name)
	assert.Equal(t, "Check", u["displayname"], "check mode changed nothing")
	assert.Equal(t, true, u["admin"])
	real = f.run(t, update).mustSucceed(t)
	assertSamePrediction(t, predicted, real)

	predicted = f.check(t, map[string]any{"user": name, "state": "absent", "erase": true}).mustSucceed(t)
	f.requireNoWrites(t)
	assert.Equal(t, false, f.read(t, name)["deactivated"])
	real = f.run(t, map[string]any{"user": name, "state": "absent", "erase": true}).mustSucceed(t)
	assertSamePrediction(t, predicted, real)

	predicted = f.check(t, map[string]any{"user": name, "state": "absent", "erase": true}).mustSucceed(t)
	assert.False(t, predicted.changed(), "check mode on a converged user predicts no change")
}

// assertSamePrediction compares what check mode predicted with what the
// real run reported.
func assertSamePrediction(t *testing.T, predicted, real Run) {
	t.Helper()
	assert.Equal(t, predicted.changed(), real.changed(), "changed")
	assert.Equal(t, predicted.str("action"), real.str("action"), "action")
	assert.Equal(t, predicted.changes(), real.changes(), "changes")
	assert.Equal(t, predicted.Result["diff"], real.Result["diff"], "diff")
	assert.Equal(t, predicted.user(), real.user(), "user after the run")
}

func TestDiffShowsDeclaredFieldsAndHidesPassword(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("diff")
	f.run(t, map[string]any{"user": name, "password": "diff-pass-1", "displayname": "Before"}).mustSucceed(t)
	r := f.run(t, map[string]any{"user": name, "password": "diff-pass-2", "update_password": "always", "displayname": "After"}).mustSucceed(t)
	diff := r.Result["diff"].(map[string]any)
	before, after := diff["before"].(map[string]any), diff["after"].(map[string]any)
	assert.Equal(t, "Before", before["displayname"])
	assert.Equal(t, "After", after["displayname"])
	assert.Equal(t, "********", before["password"])
	assert.Equal(t, "******** (changed): logs the user out of their other sessions", after["password"])
	assert.Equal(t, f.srv.UserID(name), diff["before_header"])
	assert.NotContains(t, r.Stdout, "diff-pass")
	assert.Contains(t, r.msg(), "password (logs the user out of their other sessions)")

	r = f.run(t, map[string]any{"user": name, "password": "diff-pass-3", "update_password": "always", "logout_devices": false}).mustSucceed(t)
	assert.Equal(t, "******** (changed): keeps the user's other sessions logged in (logout_devices is false)", r.Result["diff"].(map[string]any)["after"].(map[string]any)["password"])
	assert.Contains(t, r.msg(), "keeps the user's other sessions logged in")
}

func TestBasePathBehindProxy(t *testing.T) {
	srv := synapsetest.Shared(t)
	_, token := srv.Admin(t)
	p := synapsetest.NewProxy(srv.URL, "/matrix")
	defer p.Close()
	name := uniqueUser("basepath")
	r := runModule(t, "matrix_user", map[string]any{"homeserver_url": p.URL + "/", "admin_token": token, "user": name, "password": "base-path-1"}).mustSucceed(t)
	assert.True(t, r.changed())
	for _, req := range p.Requests() {
		assert.True(t, strings.HasPrefix(req.Path, "/_"), "request under the prefix: %s", req.Path)
	}
}

func TestSharedSecretOnly(t *testing.T) {
	f := newFixture(t)
	secretArgs := func(extra map[string]any) map[string]any {
		a := map[string]any{"homeserver_url": f.proxy.URL, "service_account": "", "registration_shared_secret": f.srv.SharedSecret, "retries": 0}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	name := uniqueUser("secret")
	user := map[string]any{"user": name, "password": "secret-mode-1", "admin": true, "displayname": "By Secret"}

	f.proxy.Reset()
	r := runModule(t, "matrix_user", secretArgs(merge(user, map[string]any{"_ansible_check_mode": true}))).mustSucceed(t)
	assert.False(t, r.changed())
	assert.Equal(t, "unverified", r.str("action"))
	assert.NotEmpty(t, r.warnings())
	f.requireNoWrites(t)

	r = runModule(t, "matrix_user", secretArgs(user)).mustSucceed(t)
	assert.True(t, r.changed())
	assert.True(t, r.bool("created"))
	u := f.read(t, name)
	require.NotNil(t, u)
	assert.Equal(t, true, u["admin"])
	assert.Equal(t, "By Secret", u["displayname"])
	devices, err := f.srv.Devices(f.token, f.srv.UserID(name))
	require.NoError(t, err)
	assert.Empty(t, devices, "registration leaves no device behind (inhibit_login)")

	// Existing now: admin and displayname can neither be read nor set with
	// the shared secret, so the run fails rather than pass unverified.
	r = runModule(t, "matrix_user", secretArgs(user))
	assert.True(t, r.failed(), r.Stdout)
	assert.False(t, r.changed())
	assert.Contains(t, r.msg(), "exists, and its displayname and admin could not be checked or set")
	assert.Contains(t, r.msg(), "give admin_token or admin_user/admin_password")

	// With nothing declared but its existence, an existing user is
	// unverified, never unchanged, and a warning names it.
	r = runModule(t, "matrix_user", secretArgs(map[string]any{"user": name, "password": "secret-mode-1"})).mustSucceed(t)
	assert.False(t, r.changed())
	assert.Equal(t, "unverified", r.str("action"))
	assert.True(t, slices.ContainsFunc(r.warnings(), func(w string) bool {
		return strings.Contains(w, "1 existing user(s) could not be verified ("+name+")")
	}), "%v", r.warnings())

	// A new user with a field a registration cannot set is refused before
	// any request, not created without it.
	f.proxy.Reset()
	r = runModule(t, "matrix_user", secretArgs(map[string]any{"user": uniqueUser("lockedsecret"), "password": "secret-locked-1", "locked": true}))
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "locked cannot be set with only registration_shared_secret")
	assert.Empty(t, f.proxy.Requests(), "refused before any request")

	f.proxy.Reset()
	r = runModule(t, "matrix_user", secretArgs(map[string]any{"user": name, "state": "absent"}))
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "admin_token")
	assert.Empty(t, f.proxy.Requests(), "refused before any request")

	r = runModule(t, "matrix_user", secretArgs(map[string]any{"user": uniqueUser("nopw")}))
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "password is required")

	r = runModule(t, "matrix_user", merge(secretArgs(map[string]any{"user": uniqueUser("badsecret"), "password": "whatever-123"}), map[string]any{"service_account": "", "registration_shared_secret": "not-the-secret"}))
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "registration_shared_secret does not match")
}

func TestLoginMode(t *testing.T) {
	f := newFixture(t)
	loginArgs := func(extra map[string]any) map[string]any {
		a := map[string]any{"homeserver_url": f.proxy.URL, "admin_user": "admin", "admin_password": synapsetest.AdminPassword, "retries": 0}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	name := uniqueUser("login")
	for i := 0; i < 3; i++ {
		r := runModule(t, "matrix_user", loginArgs(map[string]any{"user": name, "password": "login-mode-1"})).mustSucceed(t)
		assert.Equal(t, i == 0, r.changed())
	}
	devices, err := f.srv.Devices(f.token, f.adminID)
	require.NoError(t, err)
	assert.Empty(t, ours(devices), "each run logs out again: no device or token is left behind")

	f.proxy.Reset()
	runModule(t, "matrix_user", loginArgs(map[string]any{"user": name}))
	logins := 0
	for _, req := range f.proxy.Requests() {
		if strings.HasSuffix(req.Path, "/login") {
			logins++
		}
	}
	assert.Equal(t, 1, logins, "one login per run")

	r := runModule(t, "matrix_user", loginArgs(map[string]any{"user": name, "admin_password": "wrong-password"}))
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "wrong admin_user or admin_password")
}

func TestAuthErrors(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("autherr")

	r := runModule(t, "matrix_user", map[string]any{"homeserver_url": f.proxy.URL, "admin_token": "syt_not_a_real_token", "user": name})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "M_UNKNOWN_TOKEN")

	plainToken, err := f.srv.Register(uniqueUser("plain"), "plain-user-pass", false)
	require.NoError(t, err)
	r = runModule(t, "matrix_user", map[string]any{"homeserver_url": f.proxy.URL, "admin_token": plainToken, "user": name})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "M_FORBIDDEN")
	assert.Contains(t, r.msg(), "is not a server admin")
	assert.Contains(t, r.msg(), name, "the message names the user")
}

func TestOtherServerRefused(t *testing.T) {
	f := newFixture(t)
	r := f.run(t, map[string]any{"user": "@someone:other.example"})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "another server")
	f.requireNoWrites(t)

	f.proxy.Reset()
	r = f.run(t, map[string]any{"user": "@someone:other.example", "server_name": "test.local"})
	assert.True(t, r.failed())
	assert.Empty(t, f.proxy.Requests(), "with server_name given, refused before any request")
}

func TestSelfProtection(t *testing.T) {
	f := newFixture(t)
	for _, args := range []map[string]any{
		{"user": "admin", "admin": false},
		{"user": "admin", "state": "absent"},
		{"user": "admin", "locked": true},
	} {
		r := f.run(t, args)
		assert.True(t, r.failed(), "%v", args)
		if args["locked"] != nil && !canLock(t) {
			assert.Contains(t, r.msg(), "cannot lock users")
		} else {
			assert.Contains(t, r.msg(), "authenticates as")
		}
		f.requireNoWrites(t)
	}
	assert.Equal(t, true, f.read(t, "admin")["admin"])
}

func TestExternalIDConflict(t *testing.T) {
	f := newFixture(t)
	ext := []any{map[string]any{"auth_provider": "oidc-conflict", "external_id": uniqueUser("shared")}}
	a, b := uniqueUser("exta"), uniqueUser("extb")
	f.run(t, map[string]any{"user": a, "external_ids": ext}).mustSucceed(t)
	f.run(t, map[string]any{"user": b}).mustSucceed(t)
	r := f.run(t, map[string]any{"user": b, "external_ids": ext})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "409")
	assert.Contains(t, r.msg(), "already linked")
	assert.Contains(t, r.msg(), b)
}

func TestAppserviceNamespace(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{AppServices: []synapsetest.AppService{{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}}})
	f := fixtureOn(t, srv)
	r := f.run(t, map[string]any{"user": "bridge_alice", "password": "bridge-pass-1"})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "M_EXCLUSIVE")
	assert.Contains(t, r.msg(), "application service")
}

// With password login off (or its local database, as LDAP setups have it),
// Synapse sets no password with a PUT on an existing account, and a create
// sends its password in a PUT of its own (see creates_test.go). The first
// refusal keeps every other password back: no more accounts are created
// without theirs, and the message names the cause and the fix.
func TestPasswordChangeDisabled(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{PasswordLoginDisabled: true})
	f := fixtureOn(t, srv)
	name := uniqueUser("nopwlogin")
	_, err := srv.Register(name, "initial-pass-1", false)
	require.NoError(t, err)
	r := f.run(t, map[string]any{"user": name, "password": "changed-pass-2", "update_password": "always"})
	assert.True(t, r.failed())
	assert.False(t, r.changed())
	assert.Contains(t, r.msg(), "Password change disabled")
	assert.Contains(t, r.msg(), name)
	assert.Contains(t, r.msg(), "leave password out of the declaration")
	assert.NotContains(t, r.msg(), "is not a server admin", "the 403 is about passwords, not the token")

	p := uniqueUser("nopwnew")
	users := []any{
		map[string]any{"username": p + "-a", "password": "new-pass-a"},
		map[string]any{"username": p + "-b", "password": "new-pass-b"},
		map[string]any{"username": p + "-c"},
	}
	r = f.run(t, map[string]any{"users": users})
	require.True(t, r.failed())
	sum := r.summary()
	assert.Equal(t, 1, sum["created"], "the user declared without a password: %v", sum)
	assert.Equal(t, 2, sum["failed"])
	held := 0
	for _, u := range []string{p + "-a", p + "-b"} {
		if f.read(t, u) == nil {
			held++
			assert.Contains(t, r.batchUsers()[srv.UserID(u)]["error"], "it was not created (it would have been left without its password)")
		}
	}
	assert.Equal(t, 1, held, "after the first refusal, no account is created without its password")
	assert.NotNil(t, f.read(t, p+"-c"))
}

func TestUnreachable(t *testing.T) {
	r := runModule(t, "matrix_user", map[string]any{"homeserver_url": "http://127.0.0.1:1", "admin_token": "whatever-token", "user": "john", "retries": 1, "timeout": 2})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "unreachable")
	assert.Contains(t, r.msg(), "127.0.0.1:1")
	// retries: 3 means the server was asked again 3 times, and the result
	// says 3 (the four MAS probes once counted 12).
	r = runModule(t, "matrix_user", map[string]any{"homeserver_url": "http://127.0.0.1:1", "admin_token": "whatever-token", "user": "john", "retries": 3, "timeout": 2})
	require.True(t, r.failed())
	assert.Equal(t, map[string]any{"total": 3.0, "429": 0.0, "connection": 3.0}, r.Result["retries"])
}

func TestLoginRateLimitFailsAtOnce(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{DefaultLoginLimits: true})
	_, _ = srv.Admin(t) // registered, not logged in: registration does not count as a login
	args := map[string]any{"homeserver_url": srv.URL, "admin_user": "admin", "admin_password": synapsetest.AdminPassword, "user": "limited"}
	var last Run
	for i := 0; i < 10; i++ {
		last = runModule(t, "matrix_user", args)
		if last.failed() {
			break
		}
	}
	require.True(t, last.failed(), "Synapse's default login limit (burst 5) must trip within 10 logins")
	assert.Contains(t, last.msg(), "rate limit")
	assert.Contains(t, last.msg(), "admin_token")
	assert.Regexp(t, `wait \d+`, last.msg())
}

func TestHTTPMethodsOfANoOpRun(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("methods")
	f.run(t, map[string]any{"user": name}).mustSucceed(t)
	f.run(t, map[string]any{"user": name}).mustSucceed(t)
	for _, req := range f.proxy.Requests() {
		assert.Equal(t, http.MethodGet, req.Method)
	}
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestMASHomeserverRefused(t *testing.T) {
	// A stand-in for Matrix Authentication Service: Synapse only needs its
	// OpenID discovery document to serve auth_metadata. The Synapse is real.
	mas := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer": "` + "http://" + r.Host + `/", "authorization_endpoint": "http://` + r.Host + `/authorize", "token_endpoint": "http://` + r.Host + `/oauth2/token", "jwks_uri": "http://` + r.Host + `/oauth2/keys.json", "response_types_supported": ["code"], "introspection_endpoint": "http://` + r.Host + `/oauth2/introspect", "account_management_uri": "http://` + r.Host + `/account"}`))
	}))
	defer mas.Close()
	srv := synapsetest.New(t, synapsetest.Config{
		PasswordLoginDisabled: true,
		Extra:                 masConfig(t, mas.URL+"/"),
	})
	p := synapsetest.NewProxy(srv.URL, "")
	defer p.Close()
	for _, auth := range []map[string]any{
		{"admin_token": "mas-shared-secret-for-tests"},
		{"service_account": "", "registration_shared_secret": srv.SharedSecret, "password": "some-password-1"},
	} {
		p.Reset()
		r := runModule(t, "matrix_user", merge(map[string]any{"homeserver_url": p.URL, "user": "someone"}, auth))
		assert.True(t, r.failed())
		assert.Contains(t, r.msg(), "Matrix Authentication Service")
		assert.Empty(t, p.Writes(), "refused before any write")
	}
}

func TestPasswordSetWhenHashesUnavailable(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("nohash")
	f.run(t, map[string]any{"user": name, "password": "hash-gone-1"}).mustSucceed(t)
	// A Synapse without the legacy search_users endpoint: the proxy answers
	// as Synapse does for an unknown admin path.
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/search_users/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`))
			return true
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	r := f.run(t, map[string]any{"user": name, "password": "hash-gone-1", "update_password": "always"}).mustSucceed(t)
	assert.True(t, r.changed(), "without hashes the password is set")
	assert.Equal(t, []string{"password"}, r.changes())
	assert.True(t, slices.ContainsFunc(r.warnings(), func(w string) bool { return strings.Contains(w, "could not be compared with the stored ones") }), "%v", r.warnings())
}
