package modules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
)

// roleVars is what the role passes in RoleKey's vars.
var roleVars = map[string]any{
	"admin_token": "matrix_users_admin_token", "admin_user": "matrix_users_admin_user",
	"admin_password": "matrix_users_admin_password", "registration_shared_secret": "matrix_users_registration_shared_secret",
	"exclusive": "matrix_users_exclusive", "protect": "matrix_users_protect", "users": "matrix_users_list", "user": "username",
}

// Messages are rendered in the role's words: each option as the variable
// that sets it, each entry as one of matrix_users_list; a user ID that looks
// like an option is a user ID (nothing is rewritten, so nothing can be
// rewritten wrongly).
func TestRoleWords(t *testing.T) {
	raw := map[string]any{"user": "x", RoleKey: map[string]any{"seed": false, "vars": roleVars}}
	rc, err := takeRoleContext(raw)
	require.NoError(t, err)
	assert.NotContains(t, raw, RoleKey, "never reaches the argument spec")
	w := rc.Words()

	alice := problem.Entry{List: true, Index: 2, Name: "alice"}
	m := problem.Errorf(problem.Credentials, "%s needs %s: %s cannot; @admin_token:example.com exists", problem.Option("exclusive"), problem.AdminCredentials{}, problem.Name("registration_shared_secret")).About(alice)
	assert.Equal(t, "matrix_users_list[2] (alice): matrix_users_exclusive needs matrix_users_admin_token or matrix_users_admin_user/matrix_users_admin_password: matrix_users_registration_shared_secret cannot; @admin_token:example.com exists", m.Render(w))
	assert.Equal(t, "users[2] (alice): option exclusive needs admin_token or admin_user/admin_password: registration_shared_secret cannot; @admin_token:example.com exists", m.Error(), "a module used directly names its options")
	assert.Equal(t, "option erase", w.Option("erase"), "an option the role does not name stays one")

	path := func(steps ...ansible.Step) ansible.Path { return ansible.Path(steps) }
	users := func(i int, label string) ansible.Step {
		return ansible.Step{Option: "users", Elem: true, Index: i, Label: label}
	}
	opt := func(name string) ansible.Step { return ansible.Step{Option: name} }
	assert.Equal(t, "option matrix_users_list[3] (bob).password", w.OptionPath(path(users(3, "bob"), opt("password"))))
	assert.Equal(t, "matrix_users_list[2]", w.ElementPath(path(users(2, ""))), "an entry without a plain name")
	assert.Equal(t, "matrix_users_admin_token", w.OptionPath(path(opt("admin_token"))))
	assert.Equal(t, "matrix_users_protect[0]", w.OptionPath(path(ansible.Step{Option: "protect", Elem: true})))
	assert.Equal(t, "username", w.OptionPath(path(opt("user"))))
	assert.Equal(t, "option timeout", w.OptionPath(path(opt("timeout"))))

	// Register-user mode: the one user is named by its name, its options
	// are extra vars of their own.
	seedVars := map[string]any{"users": "", "password": "password", "user": "username", "admin_token": "matrix_users_admin_token"}
	seed, err := takeRoleContext(map[string]any{RoleKey: map[string]any{"seed": true, "reactivate": true, "vars": seedVars}})
	require.NoError(t, err)
	assert.True(t, seed.Seed)
	assert.True(t, seed.Reactivate)
	assert.False(t, rc.Reactivate)
	sw := seed.Words()
	assert.Equal(t, "alice", sw.Entry(problem.Entry{List: true, Name: "alice"}))
	assert.Equal(t, "username", sw.Entry(problem.Entry{List: true}))
	assert.Equal(t, "password", sw.OptionPath(path(users(0, "alice"), opt("password"))))
	assert.Equal(t, "username", sw.OptionPath(path(users(0, ""), opt("user"))))
	assert.Equal(t, "username", sw.ElementPath(path(users(0, ""))))

	_, err = takeRoleContext(map[string]any{RoleKey: "nonsense"})
	assert.Error(t, err)
	none, err := takeRoleContext(map[string]any{})
	require.NoError(t, err)
	assert.Equal(t, "option admin_token", none.Words().Option("admin_token"), "modules used directly keep option names")
}

// A role run's messages are rendered before the result is written, and the
// scrub runs on what is printed: a secret is masked whatever names stand
// around it, and the role's own names are public words, so a secret that
// holds one does not shred it in messages.
func TestRoleRunsScrubTheRenderedText(t *testing.T) {
	token := "x-users_admin_token-y1"
	res := runModule(t, map[string]any{"_mxadmin_module": "matrix_user", "user": "bob", "admin_token": token, "homeserver_url": "not a url",
		RoleKey: map[string]any{"vars": roleVars}})
	assert.Equal(t, true, res["failed"])
	msg := res["msg"].(string)
	assert.NotContains(t, msg, "users_admin_token-y1")
	assert.Contains(t, msg, "option homeserver_url")

	res = runModule(t, map[string]any{"_mxadmin_module": "matrix_user", "user": "bob", "admin_token": "tok " + token,
		RoleKey: map[string]any{"vars": roleVars}})
	assert.Contains(t, res["msg"], "matrix_users_admin_token: may not contain whitespace", "the role's name of the option is left whole")
	assert.NotContains(t, res["msg"], token)
}

func TestDescribeChanges(t *testing.T) {
	o := &reconcile.Outcome{Action: reconcile.ActionUpdated, Changes: []string{"password", "displayname", "admin"},
		Before:       map[string]any{"admin": true, "displayname": "Carol <c>", "password": "********"},
		After:        map[string]any{"admin": false, "displayname": nil, "password": "******** (changed)"},
		PasswordNote: "logs the user out of their other sessions"}
	assert.Equal(t, `password (logs the user out of their other sessions), displayname "Carol <c>"→null, admin true→false`, describeChanges(o))

	o = &reconcile.Outcome{Action: reconcile.ActionCreated, Changes: []string{"password", "admin"},
		Before: map[string]any{}, After: map[string]any{"admin": true, "password": "******** (set)"}}
	assert.Equal(t, "new user (password, admin true)", describeChanges(o))
	assert.Equal(t, "new user", describeChanges(&reconcile.Outcome{Action: reconcile.ActionCreated}))
	assert.Equal(t, "could not be verified", describeChanges(&reconcile.Outcome{Action: reconcile.ActionUnverified}))
	assert.Empty(t, describeChanges(&reconcile.Outcome{Action: reconcile.ActionUnchanged}))
}
