package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// insertLegacyUser writes an account with upper case in its ID straight into
// Synapse's database: Synapse refuses such IDs now, but servers older than
// that rule (or application services) have them.
func insertLegacyUser(t *testing.T, srv *synapsetest.Server, localpart string) string {
	t.Helper()
	userID := "@" + localpart + ":" + srv.ServerName
	_, err := srv.Exec("INSERT INTO users (name, password_hash, creation_ts, is_guest, admin, deactivated) VALUES (?, NULL, ?, 0, 0, 0)", userID, time.Now().Unix())
	require.NoError(t, err)
	_, err = srv.Exec("INSERT INTO profiles (user_id, full_user_id, displayname) VALUES (?, ?, ?)", localpart, userID, localpart)
	require.NoError(t, err)
	return userID
}

// A legacy mixed-case account (@LegacyJohn) is matched to the declared user
// (legacyjohn) case-insensitively and managed under its own ID: check mode
// used to predict "would be created" where the real run failed.
func TestLegacyMixedCaseUserIsManaged(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	legacy := insertLegacyUser(t, srv, "LegacyJohn")
	other := insertLegacyUser(t, srv, "OldBob")

	// Single user.
	args := map[string]any{"user": "legacyjohn", "displayname": "John"}
	predicted := f.check(t, args).mustSucceed(t)
	f.requireNoWrites(t)
	assert.Equal(t, "updated", predicted.str("action"), predicted.msg())
	assert.Equal(t, legacy, predicted.str("user_id"))
	r := f.run(t, args).mustSucceed(t)
	assert.Equal(t, "updated", r.str("action"), r.msg())
	assert.Equal(t, legacy, r.str("user_id"))
	assert.Equal(t, predicted.Result["diff"], r.Result["diff"])
	u, err := srv.User(f.token, legacy)
	require.NoError(t, err)
	assert.Equal(t, "John", u["displayname"])
	lower, err := srv.User(f.token, srv.UserID("legacyjohn"))
	require.NoError(t, err)
	assert.Nil(t, lower, "no second, lower-case account was made")
	assert.False(t, f.run(t, args).mustSucceed(t).changed(), "a rerun converges")

	// A batch, in the other spelling of the declaration.
	users := map[string]any{"users": []any{map[string]any{"username": "@OLDBOB:" + srv.ServerName, "displayname": "Bob"}, map[string]any{"username": "legacyjohn"}}}
	predicted = f.check(t, users).mustSucceed(t)
	f.requireNoWrites(t)
	assert.Equal(t, "1 would be updated, 1 unchanged", predicted.msg())
	r = f.run(t, users).mustSucceed(t)
	assert.Equal(t, predicted.Result["users"], r.Result["users"])
	assert.Contains(t, r.batchUsers(), other)
	u, err = srv.User(f.token, other)
	require.NoError(t, err)
	assert.Equal(t, "Bob", u["displayname"])

	// The admin flag, and exclusive mode, which must not take the declared
	// legacy accounts for strangers.
	ra := runModule(t, "matrix_user_admin", f.args(map[string]any{"user": "legacyjohn", "admin": true})).mustSucceed(t)
	assert.Equal(t, legacy, ra.str("user_id"))
	u, err = srv.User(f.token, legacy)
	require.NoError(t, err)
	assert.Equal(t, true, u["admin"])
	r = f.run(t, merge(users, map[string]any{"exclusive": true})).mustSucceed(t)
	assert.False(t, r.changed(), "nothing undeclared: %s", r.msg())

	// Two accounts that differ only in case: refused, nothing written.
	insertLegacyUser(t, srv, "OLDbob")
	r = f.run(t, users)
	require.True(t, r.failed())
	f.requireNoWrites(t)
	assert.Contains(t, r.Stdout, "matches several accounts that differ only in case")
	assert.True(t, strings.Contains(r.Stdout, "@OLDbob:"+srv.ServerName))
}
