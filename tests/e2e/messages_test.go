package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// Every per-user message of a list names its entry (users[1] (bob)), which
// role runs show as matrix_users_list[1] (bob): a failure in a list of
// hundreds points at the line to fix.
func TestBatchMessagesNameTheirEntry(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{AppServices: []synapsetest.AppService{{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}}})
	f := fixtureOn(t, srv)
	alice, bob := uniqueUser("msgalice"), uniqueUser("msgbob")

	// With only the shared secret, a user without a password cannot be
	// registered.
	secret := map[string]any{"homeserver_url": f.proxy.URL, "service_account": "", "registration_shared_secret": srv.SharedSecret,
		"users": []any{map[string]any{"username": alice, "password": "msg-pass-1"}, map[string]any{"username": bob}}}
	r := runModule(t, "matrix_user", secret)
	requireCleanFailure(t, r, "Failed: users[1] ("+bob+"): password is required when only registration_shared_secret is given")
	assert.Equal(t, "users[1] ("+bob+"): password is required when only registration_shared_secret is given: shared-secret registration needs one",
		r.batchUsers()["users[1] ("+bob+")"]["error"], "the user ID is not known without server_name: the entry stands for it")

	// With a token: a create Synapse refuses, an update it refuses, and a
	// warning, each under its entry.
	_, err := srv.Register("msg-locked", "msg-pass-2", false)
	require.NoError(t, err)
	r = f.run(t, map[string]any{"users": []any{
		map[string]any{"username": "msg-locked"},
		map[string]any{"username": "bridge_x", "password": "msg-pass-3"},
		map[string]any{"username": alice, "external_ids": []any{map[string]any{"auth_provider": "oidc-msg", "external_id": "same"}}},
		map[string]any{"username": bob, "external_ids": []any{map[string]any{"auth_provider": "oidc-msg", "external_id": "same"}}},
	}})
	require.True(t, r.failed())
	users := r.batchUsers()
	assert.Contains(t, users[srv.UserID("bridge_x")]["error"], "users[1] (bridge_x): cannot create @bridge_x:test.local")
	assert.Contains(t, users[srv.UserID(bob)]["error"], "users[3] ("+bob+"): ")
	assert.Contains(t, r.msg(), "users[1] (bridge_x): cannot create")

	// The role names the inventory's list.
	pb := f.runRole(t, map[string]any{"matrix_users_homeserver_url": f.proxy.URL, "matrix_users_service_account": "", "matrix_users_registration_shared_secret": srv.SharedSecret,
		"matrix_users_list": []any{map[string]any{"username": uniqueUser("msgnew"), "password": "msg-pass-4"}, map[string]any{"username": bob}}})
	require.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "matrix_users_list[1] ("+bob+"): password is required when only matrix_users_registration_shared_secret is given")
}
