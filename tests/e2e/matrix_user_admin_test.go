package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runAdmin runs matrix_user_admin with the fixture's admin token.
func (f *fixture) runAdmin(t *testing.T, extra map[string]any) Run {
	t.Helper()
	f.proxy.Reset()
	return runModule(t, "matrix_user_admin", f.args(extra))
}

// plainUser registers a user who is not an admin, bypassing the modules.
func (f *fixture) plainUser(t *testing.T, prefix string) string {
	t.Helper()
	name := uniqueUser(prefix)
	_, err := f.srv.Register(name, "plain-pass-"+name, false)
	require.NoError(t, err)
	return name
}

func TestAdminPromoteDemote(t *testing.T) {
	f := newFixture(t)
	name := f.plainUser(t, "promote")

	r := f.runAdmin(t, map[string]any{"user": name, "admin": true}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, true, r.Result["admin"])
	assert.Equal(t, f.srv.UserID(name), r.str("user_id"))
	assert.Len(t, f.proxy.Writes(), 1)
	assert.Equal(t, true, f.read(t, name)["admin"])
	diff := r.Result["diff"].(map[string]any)
	assert.Equal(t, map[string]any{"admin": false}, diff["before"])
	assert.Equal(t, map[string]any{"admin": true}, diff["after"])

	r = f.runAdmin(t, map[string]any{"user": name, "admin": true}).mustSucceed(t)
	assert.False(t, r.changed(), "promote again")
	f.requireNoWrites(t)

	r = f.runAdmin(t, map[string]any{"user": "@" + name + ":test.local", "admin": false}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, false, f.read(t, name)["admin"])
}

func TestAdminCheckModeBothWays(t *testing.T) {
	f := newFixture(t)
	name := f.plainUser(t, "admincheck")

	r := f.runAdmin(t, map[string]any{"user": name, "admin": true, "_ansible_check_mode": true}).mustSucceed(t)
	assert.True(t, r.changed(), "predicts the promotion")
	f.requireNoWrites(t)
	assert.Equal(t, false, f.read(t, name)["admin"], "the server is unchanged")

	f.runAdmin(t, map[string]any{"user": name, "admin": true}).mustSucceed(t)
	r = f.runAdmin(t, map[string]any{"user": name, "admin": false, "_ansible_check_mode": true}).mustSucceed(t)
	assert.True(t, r.changed(), "predicts the demotion")
	f.requireNoWrites(t)
	assert.Equal(t, true, f.read(t, name)["admin"], "the server is unchanged")
}

func TestAdminStringBooleans(t *testing.T) {
	f := newFixture(t)
	name := f.plainUser(t, "strbool")
	for _, tc := range []struct {
		value any
		want  bool
	}{{"1", true}, {"yes", true}, {"false", false}, {"on", true}, {"0", false}, {"True", true}, {"no", false}} {
		r := f.runAdmin(t, map[string]any{"user": name, "admin": tc.value}).mustSucceed(t)
		assert.Equal(t, tc.want, r.Result["admin"], "%v", tc.value)
		assert.Equal(t, tc.want, f.read(t, name)["admin"], "%v", tc.value)
	}
	r := f.runAdmin(t, map[string]any{"user": name, "admin": "maybe"})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "option admin")
	assert.Empty(t, f.proxy.Requests(), "refused before any request")
}

func TestAdminMissingUser(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("ghost")
	for _, admin := range []bool{true, false} {
		r := f.runAdmin(t, map[string]any{"user": name, "admin": admin})
		assert.True(t, r.failed())
		assert.Contains(t, r.msg(), "user @"+name+":test.local does not exist")
		f.requireNoWrites(t)
	}
	assert.Nil(t, f.read(t, name), "never creates users")
}

func TestAdminSelfDemotionRefused(t *testing.T) {
	f := newFixture(t)
	r := f.runAdmin(t, map[string]any{"user": "admin", "admin": false})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "refusing to demote @admin:test.local")
	f.requireNoWrites(t)
	assert.Equal(t, true, f.read(t, "admin")["admin"])
	r = f.runAdmin(t, map[string]any{"user": "admin", "admin": true}).mustSucceed(t)
	assert.False(t, r.changed())
}

func TestAdminNonAdminToken(t *testing.T) {
	f := newFixture(t)
	name := f.plainUser(t, "target")
	plainToken, err := f.srv.Register(uniqueUser("notadmin"), "not-admin-pass", false)
	require.NoError(t, err)
	f.proxy.Reset()
	r := runModule(t, "matrix_user_admin", map[string]any{"homeserver_url": f.proxy.URL, "admin_token": plainToken, "user": name, "admin": true})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "M_FORBIDDEN")
	assert.Contains(t, r.msg(), "is not a server admin")
	f.requireNoWrites(t)
}

func TestAdminSharedSecretRefused(t *testing.T) {
	f := newFixture(t)
	f.proxy.Reset()
	r := runModule(t, "matrix_user_admin", map[string]any{"homeserver_url": f.proxy.URL, "service_account": "", "registration_shared_secret": f.srv.SharedSecret, "user": "anyone", "admin": true})
	assert.True(t, r.failed())
	assert.Contains(t, r.msg(), "admin_token")
	assert.Contains(t, r.msg(), "admin_user")
	assert.Empty(t, f.proxy.Requests())
}

func TestAdminDeactivatedUserCanBePromoted(t *testing.T) {
	f := newFixture(t)
	name := f.plainUser(t, "deactadmin")
	f.run(t, map[string]any{"user": name, "state": "absent"}).mustSucceed(t)
	r := f.runAdmin(t, map[string]any{"user": name, "admin": true}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, true, r.Result["deactivated"])
	assert.Equal(t, true, f.read(t, name)["admin"])
}

func TestAdminLoginMode(t *testing.T) {
	f := newFixture(t)
	name := f.plainUser(t, "adminlogin")
	r := runModule(t, "matrix_user_admin", map[string]any{"homeserver_url": f.proxy.URL, "admin_user": "admin",
		"admin_password": "admin-test-password-7Qk", "user": name, "admin": "yes"}).mustSucceed(t)
	assert.True(t, r.changed())
}

func TestPlaybookMatrixUserAdmin(t *testing.T) {
	f := newFixture(t)
	name := f.plainUser(t, "pbadmin")
	vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name, "test_admin": "yes"}
	pb := ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_user_admin.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	_, changed, _ := pb.Recap(t, "synapse_host")
	assert.Equal(t, 1, changed)
	assert.Equal(t, true, f.read(t, name)["admin"])

	pb = ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_user_admin.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	_, changed, _ = pb.Recap(t, "synapse_host")
	assert.Equal(t, 0, changed)

	vars["test_admin"] = "no"
	pb = ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_user_admin.yml", "--check", "--diff", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, `-    "admin": true`)
	assert.Contains(t, pb.Output, `+    "admin": false`)
	assert.Equal(t, true, f.read(t, name)["admin"])
}
