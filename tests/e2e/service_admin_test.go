package e2e

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// The service admin (issue 20): with only the registration shared secret,
// the modules register an admin of the collection's own once, and log in as
// it on every run. These tests are module runs (not playbooks), so that the
// oldest-Synapse and PostgreSQL stages run them too; TestMDADServiceAdmin is
// the same through the role in a matrix-docker-ansible-deploy checkout.

// servicePassword derives the service admin's password as
// docs/service-admin.md describes it, with the standard library's HKDF
// (the module uses golang.org/x/crypto's), so that the test pins the
// documented derivation, and the secret scan knows the password.
func servicePassword(t *testing.T, secret, serverName, localpart string) string {
	t.Helper()
	key, err := hkdf.Key(sha256.New, []byte(secret), []byte("mxadmin.synapse/service-admin/v1"),
		"server_name="+serverName+"\x00localpart="+localpart, 32)
	require.NoError(t, err)
	pw := "Mx1-" + base64.RawURLEncoding.EncodeToString(key)
	recordSecrets(pw)
	return pw
}

// serviceFixture is a Synapse of its own (the service admin is an account
// of the server, which other tests would count), seen through a proxy.
type serviceFixture struct {
	*fixture
	account string
}

func newServiceFixture(t *testing.T, account string) *serviceFixture {
	t.Helper()
	srv := synapsetest.New(t, synapsetest.Config{})
	return &serviceFixture{fixture: fixtureOn(t, srv), account: account}
}

// defaultServiceAccount is service_account's default, which runs of the
// default leave out.
const defaultServiceAccount = "mxadmin-synapse"

// sessionPaths are the writes a run makes for its own session.
func sessionWrite(path string) bool {
	return strings.HasSuffix(path, "/login") || strings.HasSuffix(path, "/logout")
}

// userWrites are the last run's writes but its own login and logout.
func (f *serviceFixture) userWrites() []string {
	var out []string
	for _, w := range f.proxy.Writes() {
		if !sessionWrite(w.Path) {
			out = append(out, w.Method+" "+w.Path)
		}
	}
	return out
}

func (f *serviceFixture) id() string { return f.srv.UserID(f.account) }

// secretArgs are connection options with only the shared secret.
func (f *serviceFixture) secretArgs(extra map[string]any) map[string]any {
	a := map[string]any{"homeserver_url": f.proxy.URL, "registration_shared_secret": f.srv.SharedSecret, "retries": 0}
	if f.account != defaultServiceAccount {
		a["service_account"] = f.account
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func (f *serviceFixture) user(t *testing.T, extra map[string]any) Run {
	t.Helper()
	f.proxy.Reset()
	return runModule(t, "matrix_user", f.secretArgs(extra))
}

func (f *serviceFixture) admin(t *testing.T, extra map[string]any) Run {
	t.Helper()
	f.proxy.Reset()
	return runModule(t, "matrix_user_admin", f.secretArgs(extra))
}

// devices are the service admin's devices: after every run, none.
func (f *serviceFixture) devices(t *testing.T) []string {
	t.Helper()
	d, err := f.srv.Devices(f.token, f.id())
	require.NoError(t, err)
	return d
}

func (f *serviceFixture) requireNoDevices(t *testing.T, when string) {
	t.Helper()
	require.Empty(t, f.devices(t), "%s: the service admin has no device left (every run logs out)", when)
}

func TestServiceAdminWithOnlyTheSharedSecret(t *testing.T) {
	t.Parallel()
	f := newServiceFixture(t, defaultServiceAccount)
	pw := servicePassword(t, f.srv.SharedSecret, f.srv.ServerName, f.account)
	alice := uniqueUser("svc-alice")

	// Check mode before the service admin exists: nothing is created, the
	// run says which account the first real run creates, nothing is read.
	r := f.user(t, map[string]any{"_ansible_check_mode": true, "user": alice, "password": "alice-pass-1"}).mustSucceed(t)
	assert.Empty(t, f.userWrites(), "a login was tried, nothing else")
	assert.Equal(t, "unverified", r.str("action"))
	assert.Contains(t, strings.Join(r.warnings(), "\n"), "the service admin "+f.id()+" does not exist yet: the first run without check mode creates it")
	u, err := f.srv.User(f.token, f.id())
	require.NoError(t, err)
	require.Nil(t, u, "check mode created nothing")
	r = f.admin(t, map[string]any{"user": alice, "admin": true, "_ansible_check_mode": true})
	requireCleanFailure(t, r, "the service admin "+f.id()+" does not exist yet")
	assert.Empty(t, f.userWrites())

	// The first real run creates the service admin and then the user, as
	// with an admin token.
	r = f.user(t, map[string]any{"user": alice, "password": "alice-pass-1"}).mustSucceed(t)
	assert.Equal(t, "created", r.str("action"))
	assert.Contains(t, strings.Join(r.warnings(), "\n"), "created the service admin "+f.id())
	svc := f.read(t, f.account)
	require.NotNil(t, svc)
	assert.Equal(t, true, svc["admin"])
	assert.Equal(t, "bot", svc["user_type"])
	assert.Contains(t, svc["displayname"], "mxadmin.synapse service admin")
	f.requireNoDevices(t, "after the creating run")
	token, err := f.srv.Login(f.account, pw)
	require.NoError(t, err, "the service admin's password is the documented derivation")
	recordSecrets(token)
	status, _, err := f.srv.Do(http.MethodPost, "/_matrix/client/v3/logout", token, map[string]any{})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	// Rerun: unchanged, nothing written, one login and its logout.
	r = f.user(t, map[string]any{"user": alice, "password": "alice-pass-1"}).mustSucceed(t)
	assert.Equal(t, "unchanged", r.str("action"))
	assert.False(t, r.changed())
	assert.Empty(t, r.warnings())
	assert.Equal(t, 1, f.countRequests(http.MethodPost, "/_matrix/client/v3/login"))
	assert.Equal(t, 1, f.countRequests(http.MethodPost, "/_matrix/client/v3/logout"))
	assert.Empty(t, f.userWrites(), "a rerun writes nothing but its own session")
	f.requireNoDevices(t, "after a rerun")

	// admin=yes on an existing user, then the other module demotes it.
	r = f.user(t, map[string]any{"user": alice, "admin": true}).mustSucceed(t)
	assert.Equal(t, []string{"admin"}, r.changes())
	assert.Equal(t, true, f.read(t, alice)["admin"])
	r = f.admin(t, map[string]any{"user": alice, "admin": false}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, false, f.read(t, alice)["admin"])
	f.requireNoDevices(t, "after promote and demote")

	// update_password=always compares and applies.
	r = f.user(t, map[string]any{"user": alice, "password": "alice-pass-2", "update_password": "always"}).mustSucceed(t)
	assert.Contains(t, r.changes(), "password")
	r = f.user(t, map[string]any{"user": alice, "password": "alice-pass-2", "update_password": "always"}).mustSucceed(t)
	assert.False(t, r.changed())

	// A list with locked, in exclusive mode: a stranger is deactivated, the
	// service admin is neither touched nor listed.
	stranger := uniqueUser("svc-stranger")
	_, err = f.srv.Register(stranger, "stranger-pass-1", false)
	require.NoError(t, err)
	bob := uniqueUser("svc-bob")
	// Locking needs Synapse 1.91 (the oldest stage runs 1.90): its user
	// answer has "locked" exactly when it can.
	_, canLock := f.read(t, alice)["locked"]
	bobEntry := map[string]any{"user": bob, "password": "bob-pass-1", "displayname": "Bob"}
	if canLock {
		bobEntry["locked"] = true
	}
	list := map[string]any{"users": []any{map[string]any{"user": alice}, bobEntry}, "exclusive": true, "protect": []any{"admin"}}
	r = f.user(t, merge(list, map[string]any{"_ansible_check_mode": true})).mustSucceed(t)
	assert.Empty(t, f.userWrites())
	assert.Contains(t, r.Stdout, f.srv.UserID(stranger))
	assert.NotContains(t, r.Stdout, f.id(), "the service admin is not listed as undeclared")
	r = f.user(t, list).mustSucceed(t)
	if canLock {
		assert.Equal(t, true, f.read(t, bob)["locked"])
	}
	assert.Equal(t, true, f.read(t, stranger)["deactivated"])
	svc = f.read(t, f.account)
	assert.Equal(t, false, svc["deactivated"])
	assert.Equal(t, true, svc["admin"])
	r = f.user(t, list).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoDevices(t, "after the exclusive runs")

	// Check mode once it exists: logs in and out, reads, writes nothing.
	r = f.user(t, map[string]any{"user": alice, "admin": true, "_ansible_check_mode": true}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, false, f.read(t, alice)["admin"])
	f.requireNoDevices(t, "after a check run")

	// Declaring it, in either module, is refused before any request.
	for _, args := range []map[string]any{
		{"user": f.account, "admin": false},
		{"users": []any{map[string]any{"user": alice}, map[string]any{"user": f.id(), "locked": true}}},
	} {
		r = f.user(t, args)
		requireCleanFailure(t, r, "is the collection's service admin (service_account)")
		assert.Empty(t, f.proxy.Requests())
	}
	r = f.admin(t, map[string]any{"user": "@" + strings.ToUpper(f.account) + ":" + f.srv.ServerName, "admin": false})
	requireCleanFailure(t, r, "is the collection's service admin")
	assert.Empty(t, f.proxy.Requests())

	// service_account "" restores the shared secret alone.
	r = f.user(t, map[string]any{"service_account": "", "user": alice, "password": "alice-pass-2", "admin": true})
	requireCleanFailure(t, r)
	assert.Contains(t, r.msg(), "could not be checked or set")
	assert.Contains(t, r.msg(), "admin_token")
}

// The service admin's password no longer logs in (changed behind its back,
// as after a rotated shared secret): the run fails before any write, naming
// the account and the fix; an admin token resets it, once.
func TestServiceAdminRefusals(t *testing.T) {
	t.Parallel()
	f := newServiceFixture(t, "ops-svc")
	alice := uniqueUser("svcr-alice")
	f.user(t, map[string]any{"user": alice, "password": "alice-pass-1"}).mustSucceed(t)
	pw := servicePassword(t, f.srv.SharedSecret, f.srv.ServerName, f.account)

	status, _, err := f.srv.Do(http.MethodPut, "/_synapse/admin/v2/users/"+url.PathEscape(f.id()), f.token, map[string]any{"password": "someone-else-1"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	r := f.user(t, map[string]any{"user": alice, "admin": true})
	requireCleanFailure(t, r, "the service admin "+f.id()+" exists, but the password derived from registration_shared_secret does not log in", "Give admin_token once")
	assert.Equal(t, false, f.read(t, alice)["admin"])
	for _, w := range f.proxy.Writes() {
		assert.True(t, strings.HasSuffix(w.Path, "/login") || strings.HasSuffix(w.Path, "/_synapse/admin/v1/register"), "nothing but the login and the registration probe: %s %s", w.Method, w.Path)
	}
	f.requireNoDevices(t, "after a refused run")

	// An admin token with the shared secret: check mode says, a real run
	// resets it (once), and the shared secret alone works again.
	withToken := map[string]any{"admin_token": f.token, "user": alice}
	r = f.user(t, merge(withToken, map[string]any{"_ansible_check_mode": true})).mustSucceed(t)
	assert.Contains(t, strings.Join(r.warnings(), "\n"), "a run without check mode resets it")
	assert.Empty(t, f.userWrites(), "check mode only tried the derived password")
	r = f.user(t, withToken).mustSucceed(t)
	assert.Contains(t, strings.Join(r.warnings(), "\n"), "reset the password of the service admin "+f.id())
	r = f.user(t, withToken).mustSucceed(t)
	assert.Empty(t, r.warnings(), "reset once")
	f.requireNoWrites(t)
	_, err = f.srv.Login(f.account, pw)
	require.NoError(t, err)
	f.user(t, map[string]any{"user": alice, "admin": true}).mustSucceed(t)
	assert.Equal(t, true, f.read(t, alice)["admin"])

	// A wrong server_name never creates the account with a password no
	// correct run derives.
	r = f.user(t, map[string]any{"user": alice, "service_account": "wrongname-svc", "server_name": "other.example"})
	requireCleanFailure(t, r, "server_name")
	u, err := f.srv.User(f.token, f.srv.UserID("wrongname-svc"))
	require.NoError(t, err)
	assert.Nil(t, u)

	// Another shared secret (the server's was rotated and the inventory
	// still has the old one): refused, naming the variable.
	r = f.user(t, map[string]any{"user": alice, "registration_shared_secret": "an-old-shared-secret-1"})
	requireCleanFailure(t, r, "registration_shared_secret does not match")

	// Locked (Synapse 1.91 or later can lock), then deactivated: refused,
	// naming the account.
	status, _, err = f.srv.Do(http.MethodPut, "/_synapse/admin/v2/users/"+url.PathEscape(f.id()), f.token, map[string]any{"locked": true})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	if f.read(t, f.account)["locked"] == true {
		r = f.user(t, map[string]any{"user": alice})
		requireCleanFailure(t, r, "the service admin "+f.id()+" is locked", "Nothing was changed")
		assert.Empty(t, f.userWrites())
	}
	status, _, err = f.srv.Do(http.MethodPost, "/_synapse/admin/v1/deactivate/"+url.PathEscape(f.id()), f.token, map[string]any{})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	r = f.user(t, map[string]any{"user": alice})
	requireCleanFailure(t, r, f.id())
	f.requireNoDevices(t, "after the refusals")

	// A namesake someone else registered, not an admin: never used, never
	// promoted, with its own password or even with the derived one.
	for _, namesake := range []struct{ name, password string }{
		{"svc-namesake", "their-own-pass-1"},
		{"svc-namesake2", servicePassword(t, f.srv.SharedSecret, f.srv.ServerName, "svc-namesake2")},
	} {
		_, err = f.srv.Register(namesake.name, namesake.password, false)
		require.NoError(t, err)
		r = f.user(t, map[string]any{"service_account": namesake.name, "user": alice})
		requireCleanFailure(t, r, f.srv.UserID(namesake.name))
		assert.Equal(t, false, f.read(t, namesake.name)["admin"], "never promoted")
		d, err := f.srv.Devices(f.token, f.srv.UserID(namesake.name))
		require.NoError(t, err)
		assert.Len(t, d, 1, "only the device of the test's own registration: the run logged out")
	}
	assert.Contains(t, r.msg(), "is not a server admin")
}

// Two runs at once (the first two runs, which both find no service admin;
// then two later ones) never log each other out; an interrupted run logs
// out before it exits.
func TestServiceAdminConcurrentAndInterrupted(t *testing.T) {
	t.Parallel()
	f := newServiceFixture(t, "race-svc")
	batch := func(prefix string, n int) []any {
		var users []any
		for i := 0; i < n; i++ {
			users = append(users, map[string]any{"user": prefix + "-" + string(rune('a'+i%26)) + string(rune('a'+i/26)), "password": "race-pass-1"})
		}
		return users
	}
	for round := 0; round < 2; round++ {
		var wg sync.WaitGroup
		runs := make([]Run, 2)
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := startModule(t, "matrix_user", f.secretArgs(map[string]any{"users": batch(uniqueUser("race"), 30+i*60), "concurrency": 2}))
				runs[i] = m.wait(t, 3*time.Minute)
			}()
		}
		wg.Wait()
		for i, r := range runs {
			r.mustSucceed(t)
			assert.Equal(t, 30+i*60, r.summary()["created"], "round %d run %d", round, i)
		}
		f.requireNoDevices(t, "after two concurrent runs")
	}

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		blockUserList(f.fixture)
		f.proxy.Reset()
		m := startModule(t, "matrix_user", f.secretArgs(map[string]any{"users": []any{map[string]any{"user": "sig-a", "password": "sig-pass-1"}, map[string]any{"user": "sig-b", "password": "sig-pass-1"}}}))
		waitForRequest(t, f.fixture, "/_synapse/admin/v2/users")
		require.Len(t, f.devices(t), 1, "the run's device exists while it runs")
		require.NoError(t, m.cmd.Process.Signal(sig))
		r := m.wait(t, 30*time.Second)
		requireCleanFailure(t, r, "interrupted")
		f.proxy.SetFault(nil)
		f.requireNoDevices(t, "after an interrupted run")
	}

	// Killed outright: its device stays (it could be a live run) until it
	// has not been used for half an hour; then the next real run removes it.
	blockUserList(f.fixture)
	f.proxy.Reset()
	m := startModule(t, "matrix_user", f.secretArgs(map[string]any{"users": []any{map[string]any{"user": "kill-a", "password": "kill-pass-1"}, map[string]any{"user": "kill-b", "password": "kill-pass-1"}}}))
	waitForRequest(t, f.fixture, "/_synapse/admin/v2/users")
	require.NoError(t, m.cmd.Process.Kill())
	<-m.done
	f.proxy.SetFault(nil)
	left := f.devices(t)
	require.Len(t, left, 1, "a killed run leaves its device")
	time.Sleep(6 * time.Second) // Synapse writes last-seen times every 5 s
	ageDevice(t, f.srv, f.id(), left[0], time.Hour)
	f.user(t, map[string]any{"user": "kill-a", "password": "kill-pass-1"}).mustSucceed(t)
	f.requireNoDevices(t, "the next run removed the killed run's device")
}

// With Synapse's own login rate limits (a burst of 5, then one login per
// account about every 5.5 minutes), runs that each log in soon hit them: the
// run that is refused fails at once (the wait is far beyond the wait
// budget), naming rc_login and what to set, and leaves no device.
func TestServiceAdminLoginRateLimitNamed(t *testing.T) {
	t.Parallel()
	srv := synapsetest.New(t, synapsetest.Config{DefaultLoginLimits: true})
	f := &serviceFixture{fixture: fixtureOn(t, srv), account: "limit-svc"}
	servicePassword(t, srv.SharedSecret, srv.ServerName, f.account)
	alice := uniqueUser("limit-alice")
	var refused Run
	for i := 0; i < 8; i++ {
		start := time.Now()
		r := f.user(t, map[string]any{"user": alice, "password": "alice-pass-1"})
		if r.failed() {
			refused = r
			assert.Less(t, time.Since(start), 30*time.Second, "a wait of minutes is not slept through")
			break
		}
	}
	require.NotNil(t, refused.Result, "Synapse's default rc_login refuses a login within 8 runs")
	requireCleanFailure(t, refused, "logging in as the service admin "+f.id()+" was refused by Synapse's login rate limit (rc_login", "matrix_synapse_rc_login", "admin_token")
	f.requireNoDevices(t, "after the refused run")
}

// matrix-docker-ansible-deploy's login limits (matrix_synapse_rc_login: a
// burst of 3, then one login every 6 s) are waited out: runs in a row all
// succeed, and the waits show in the result's retries.
func TestServiceAdminWaitsOutMDADLoginLimits(t *testing.T) {
	t.Parallel()
	mdad := "{per_second: 0.17, burst_count: 3}"
	srv := synapsetest.New(t, synapsetest.Config{DefaultLoginLimits: true,
		Extra: "rc_login:\n  address: " + mdad + "\n  account: " + mdad + "\n  failed_attempts: " + mdad + "\n"})
	f := &serviceFixture{fixture: fixtureOn(t, srv), account: "mdadlimit-svc"}
	servicePassword(t, srv.SharedSecret, srv.ServerName, f.account)
	alice := uniqueUser("mdadlimit")
	waited := 0
	for i := 0; i < 6; i++ {
		r := f.user(t, map[string]any{"user": alice, "password": "alice-pass-1", "retries": 3}).mustSucceed(t)
		waited += int(r.Result["retries"].(map[string]any)["429"].(float64))
	}
	assert.Positive(t, waited, "some logins were rate-limited and waited out")
	f.requireNoDevices(t, "after the runs")
}
