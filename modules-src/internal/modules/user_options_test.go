package modules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

func prepare(t *testing.T, raw map[string]any) (*userRun, error) {
	t.Helper()
	p, _, err := ansible.Validate(served["matrix_user"].fullSpec(), raw)
	require.NoError(t, err)
	conn, err := connectionFrom(p)
	require.NoError(t, err)
	return prepareUserRun(p, &conn)
}

func TestDeclarations(t *testing.T) {
	run, err := prepare(t, map[string]any{"admin_token": "t", "update_password": "always", "logout_devices": false,
		"users": []any{
			map[string]any{"user": "@Alice:Test", "password": "pw", "avatar_url": "mxc://x/y",
				"threepids":    []any{map[string]any{"medium": "email", "address": "A@X.org"}},
				"external_ids": []any{map[string]any{"auth_provider": "oidc", "external_id": "a"}}},
			map[string]any{"user": "bob", "update_password": "on_create", "password": "pw", "logout_devices": true},
			map[string]any{"user": "carol"},
		}})
	require.NoError(t, err)
	require.Len(t, run.desired, 3)
	alice, bob, carol := run.desired[0], run.desired[1], run.desired[2]
	assert.Equal(t, problem.Entry{List: true, Index: 0, Name: "@Alice:Test"}, alice.Entry)
	assert.Equal(t, "alice", alice.Localpart)
	assert.Equal(t, "test", alice.Server)
	assert.Equal(t, reconcile.PasswordAlways, alice.UpdatePassword, "the top-level update_password is the default")
	assert.False(t, alice.LogoutDevices)
	threepids, _ := alice.Value("threepids")
	externalIDs, _ := alice.Value("external_ids")
	assert.Equal(t, []synapse.Threepid{{Medium: "email", Address: "a@x.org"}}, threepids)
	assert.Equal(t, []synapse.ExternalID{{AuthProvider: "oidc", ExternalID: "a"}}, externalIDs)
	assert.Equal(t, reconcile.PasswordOnCreate, bob.UpdatePassword, "an entry's own update_password wins")
	assert.True(t, bob.LogoutDevices)
	assert.Equal(t, reconcile.PasswordOnCreate, carol.UpdatePassword, "without a password there is nothing to update")
	assert.True(t, anyFullID(run.desired))
	assert.False(t, anyFullID(run.desired[1:]))

	for name, tc := range map[string]struct {
		raw  map[string]any
		want string
	}{
		"avatar_url not mxc":  {map[string]any{"user": "a", "avatar_url": "https://x/y.png"}, "option avatar_url: \"https://x/y.png\" is not an mxc:// URI"},
		"a bad email":         {map[string]any{"user": "a", "threepids": []any{map[string]any{"medium": "email", "address": "nope"}}}, "a: option threepids[0]: \"nope\" is not an email address"},
		"an empty external":   {map[string]any{"user": "a", "external_ids": []any{map[string]any{"auth_provider": "oidc", "external_id": ""}}}, "a: option external_ids[0]: auth_provider and external_id may not be empty"},
		"erase while present": {map[string]any{"user": "a", "erase": true}, "a: erase applies only with state=absent"},
		"duplicates": {map[string]any{"users": []any{map[string]any{"user": "a"}, map[string]any{"user": "@A:x"}}},
			"users[0] and users[1] both declare the user a"},
		"a per-user option at the top": {map[string]any{"admin": true, "users": []any{map[string]any{"user": "a"}}},
			"option admin is per user: with users, set it in each entry"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.raw["admin_token"] = "t"
			_, err := prepare(t, tc.raw)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestRoleRunsNameBatchEntries(t *testing.T) {
	raw := map[string]any{RoleKey: map[string]any{"vars": map[string]any{"users": "matrix_users_list", "admin_token": "matrix_users_admin_token"}}}
	rc, err := takeRoleContext(raw)
	require.NoError(t, err)
	entry := problem.Entry{List: true, Index: 0, Name: "a"}
	res := batchResult([]*reconcile.Outcome{{Entry: entry, Action: reconcile.ActionFailed,
		Err:      problem.Errorf(problem.Credentials, "give %s", problem.Name("admin_token")),
		Warnings: []*problem.Message{problem.Errorf(problem.Note, "%s is unused", problem.Option("admin_token"))}}}, Run{Role: rc}, false)
	users := res.Fields["users"].([]map[string]any)
	assert.Equal(t, "matrix_users_list[0] (a)", users[0]["user"])
	assert.Equal(t, "users[0] (a)", users[0]["ref"], "ref is the module's own reference")
	assert.Equal(t, "matrix_users_list[0] (a): give matrix_users_admin_token", users[0]["error"])
	assert.Equal(t, []string{"matrix_users_list[0] (a): matrix_users_admin_token is unused"}, users[0]["warnings"])
}
