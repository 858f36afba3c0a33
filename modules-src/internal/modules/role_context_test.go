package modules

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
)

func TestRoleContextNamesRoleVariables(t *testing.T) {
	raw := map[string]any{"user": "x", RoleKey: map[string]any{"seed": false, "vars": map[string]any{
		"admin_token": "matrix_users_admin_token", "admin_user": "matrix_users_admin_user",
		"admin_password": "matrix_users_admin_password", "registration_shared_secret": "matrix_users_registration_shared_secret",
		"exclusive": "matrix_users_exclusive", "users": "matrix_users_list", "user": "username",
	}}}
	rc, err := takeRoleContext(raw)
	require.NoError(t, err)
	assert.NotContains(t, raw, RoleKey, "never reaches the argument spec")

	res := written(t, ansible.Result{
		Msg:      "users[2] (alice): option user: bad; option exclusive needs admin_token or admin_user/admin_password: registration_shared_secret cannot",
		Warnings: []string{"the users list, exclusive and admin_token_file stay as they are"},
	}, nil, rc)
	assert.Equal(t, "matrix_users_list[2] (alice): username: bad; matrix_users_exclusive needs matrix_users_admin_token or matrix_users_admin_user/matrix_users_admin_password: matrix_users_registration_shared_secret cannot", res["msg"])
	assert.Equal(t, []any{"the users list, exclusive and admin_token_file stay as they are"}, res["warnings"], "plain words and longer names are left alone")

	// Secrets are masked before the renaming: a secret that holds an
	// option name is not split by it and left unrecognised.
	res = written(t, ansible.Result{Msg: "proxy said: x-admin_token-y12345678"}, []string{"x-admin_token-y12345678"}, rc)
	assert.Equal(t, "proxy said: ********", res["msg"])

	assert.Equal(t, "@admin_token:example.com exists; give matrix_users_admin_token", rc.nameText("@admin_token:example.com exists; give admin_token"), "a user ID is not an option")

	assert.Equal(t, "matrix_users_list[2]: x; matrix_users_list[3] (bob).password: y", rc.nameText("users[2]: x; users[3] (bob).password: y"), "entries without a plain name, and sub-options")

	rc.vars["users"] = ""
	assert.Equal(t, "alice: password is required", rc.nameText("users[0] (alice): password is required"), "one user is named by its name")
	rc.vars["password"] = "password"
	assert.Equal(t, "password: expected a string, got a list", rc.nameText("option users[0] (alice).password: expected a string, got a list"), "its options are the extra vars")
	assert.Equal(t, "username: expected a string, got the boolean true", rc.nameText("option users[0].user: expected a string, got the boolean true"))
	assert.Equal(t, "username: missing", rc.nameText("users[0]: missing"))

	seed, err := takeRoleContext(map[string]any{RoleKey: map[string]any{"seed": true, "reactivate": true}})
	require.NoError(t, err)
	assert.True(t, seed.Seed)
	assert.True(t, seed.Reactivate)
	assert.False(t, rc.Reactivate)

	_, err = takeRoleContext(map[string]any{RoleKey: "nonsense"})
	assert.Error(t, err)
	none, err := takeRoleContext(map[string]any{})
	require.NoError(t, err)
	assert.Equal(t, "option admin_token", written(t, ansible.Result{Msg: "option admin_token"}, nil, none)["msg"], "modules used directly keep option names")
}

// written is a result as Main writes it for a role run.
func written(t *testing.T, r ansible.Result, secrets []string, rc Role) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, ansible.Write(&buf, r, secrets, rc.rename))
	var out map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &out))
	return out
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

// nameText rewrites one message, as the result's rename does.
func (rc Role) nameText(s string) string { return rc.namer()(s) }
