package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// A missing or wrong password_pepper made every update_password: always
// comparison differ: every such user was set again, and logged out, on
// every run, silently. The first password a run sets is now read back from
// Synapse's stored hash (unless a comparison that matched proved the
// pepper): if it does not match, the run fails naming password_pepper and
// sends no other compared password. A wrong pepper costs one user's
// password write per run, and none when the run also creates a user.
func TestWrongPepperFailsAfterOneWrite(t *testing.T) {
	const pepper = "server-pepper-42"
	srv := synapsetest.New(t, synapsetest.Config{Pepper: pepper})
	f := fixtureOn(t, srv)
	p := uniqueUser("pep")
	var users []any
	for i := 0; i < 5; i++ {
		users = append(users, map[string]any{"username": fmt.Sprintf("%s-%d", p, i), "password": fmt.Sprintf("pep-pass-%d", i), "update_password": "always"})
	}
	f.run(t, map[string]any{"users": users, "password_pepper": pepper}).mustSucceed(t)

	for _, wrong := range []map[string]any{{}, {"password_pepper": "not-the-pepper"}} {
		for run := 0; run < 2; run++ {
			r := f.run(t, merge(map[string]any{"users": users}, wrong))
			requireCleanFailure(t, r, "password_pepper is not this Synapse's pepper")
			assert.Equal(t, 1, f.proxy.Logouts(), "one user's password set (and sessions ended) per run: %v", wrong)
			assert.Equal(t, 1, f.proxy.Hashes())
			assert.Equal(t, 5, r.summary()["failed"])
			held, set := 0, 0
			for _, u := range r.batchUsers() {
				e, _ := u["error"].(string)
				require.Contains(t, e, "password_pepper is not this Synapse's pepper")
				switch {
				case strings.Contains(e, "nothing was sent"):
					held++
				case strings.Contains(e, "its password was set, but it does not match"):
					set++
				}
			}
			assert.Equal(t, 1, set)
			assert.Equal(t, 4, held)
		}
	}
	// Every password still logs in: Synapse peppers what it is sent.
	for i := 0; i < 5; i++ {
		_, err := srv.Login(fmt.Sprintf("%s-%d", p, i), fmt.Sprintf("pep-pass-%d", i))
		assert.NoError(t, err)
	}

	// With a new user in the run, its password is the one read back: a
	// wrong pepper then logs nobody out.
	fresh := p + "-fresh"
	r := f.run(t, map[string]any{"users": append(users, map[string]any{"username": fresh, "password": "pep-fresh-1"})})
	requireCleanFailure(t, r, "password_pepper is not this Synapse's pepper")
	assert.Contains(t, r.batchUsers()[srv.UserID(fresh)]["error"], "@"+fresh+":test.local: its password was set, but it does not match the hash Synapse stored for it with password_pepper")
	assert.Zero(t, f.proxy.Logouts())
	assert.Equal(t, 1, f.proxy.Hashes(), "the new user's password only")
	_, err := srv.Login(fresh, "pep-fresh-1")
	assert.NoError(t, err, "created, and its password works")

	// The right pepper: the comparisons prove it, nothing is read back,
	// nothing is sent.
	r = f.run(t, map[string]any{"users": users, "password_pepper": pepper}).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)
	assert.Equal(t, 5, countContaining(pathsOf(f), "/search_users/"), "the five comparisons")

	// Changed passwords with the right pepper: the first is set alone and
	// read back, then the others.
	for _, u := range users {
		u.(map[string]any)["password"] = u.(map[string]any)["password"].(string) + "-new"
	}
	r = f.run(t, map[string]any{"users": users, "password_pepper": pepper}).mustSucceed(t)
	assert.Equal(t, 5, r.summary()["updated"])
	assert.Equal(t, 5+1, countContaining(pathsOf(f), "/search_users/"), "five comparisons, one read back")
}

// In a login run, the admin's own stored hash (in the bulk hash read)
// proves the pepper: no read back.
func TestPepperProvenByTheAdminsLogin(t *testing.T) {
	const pepper = "server-pepper-43"
	srv := synapsetest.New(t, synapsetest.Config{Pepper: pepper})
	f := fixtureOn(t, srv)
	p := uniqueUser("peplogin")
	var users []any
	for i := 0; i < 10; i++ {
		users = append(users, map[string]any{"username": fmt.Sprintf("%s-%d", p, i), "password": fmt.Sprintf("pep-login-%d", i), "update_password": "always"})
	}
	f.run(t, map[string]any{"users": users, "password_pepper": pepper}).mustSucceed(t)
	for _, u := range users {
		u.(map[string]any)["password"] = u.(map[string]any)["password"].(string) + "-new"
	}
	f.proxy.Reset()
	r := runModule(t, "matrix_user", f.loginArgs(map[string]any{"users": users, "password_pepper": pepper})).mustSucceed(t)
	assert.Equal(t, 10, r.summary()["updated"])
	assert.Equal(t, 1, countContaining(pathsOf(f), "/search_users/"), "every hash in one read, the admin's with them")
}

// A role run names the role's variable.
func TestRoleWrongPepperNamesItsVariable(t *testing.T) {
	const pepper = "server-pepper-44"
	srv := synapsetest.New(t, synapsetest.Config{Pepper: pepper})
	f := fixtureOn(t, srv)
	recordSecrets(pepper)
	name := uniqueUser("peprole")
	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": []any{map[string]any{"username": name, "password": "pep-role-pass-1"}}}))
	require.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "matrix_users_password_pepper is not this Synapse's pepper")
	assert.Contains(t, pb.Output, "matrix_users_list[0] ("+name+")")
	pb = f.runRole(t, f.roleVars(map[string]any{"matrix_users_password_pepper": pepper, "matrix_users_list": []any{map[string]any{"username": name, "password": "pep-role-pass-1"}}}))
	require.Equal(t, 0, pb.Exit, pb.Output)
}
