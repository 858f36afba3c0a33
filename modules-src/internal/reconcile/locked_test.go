package reconcile

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Synapse before 1.91 cannot lock (no "locked" anywhere, a PUT ignores it);
// 1.91 and 1.92 report it for one user but not in the list. The e2e suite
// runs the same against a real Synapse 1.90.
func TestLockedWhereTheServerCannotLock(t *testing.T) {
	var old, listed, detailed synapse.User
	require.NoError(t, json.Unmarshal([]byte(`{"name":"@bob:test","admin":false,"deactivated":false}`), &old))
	require.NoError(t, json.Unmarshal([]byte(`{"name":"@bob:test","deactivated":0,"locked":null}`), &listed))
	require.NoError(t, json.Unmarshal([]byte(`{"name":"@bob:test","locked":true}`), &detailed))
	assert.False(t, old.LockedKnown)
	assert.True(t, listed.LockedKnown, "a key with null is still the server reporting it")
	assert.True(t, detailed.LockedKnown)
	assert.True(t, bool(detailed.Locked))

	noLock := canRead
	noLock.LockUnsupported = true
	for name, cur := range map[string]*synapse.User{"existing": &old, "new": nil} {
		p := PlanUser(&Desired{Entry: problem.Entry{Name: "bob"}, Localpart: "bob", State: StatePresent, Locked: ptr(true)}, "@bob:test", cur, PasswordNotChecked, noLock)
		require.Error(t, p.Err, name)
		assert.Contains(t, p.Err.Error(), "cannot lock users", name)
		assert.False(t, p.Create, name)
		assert.Nil(t, p.Update, name)
	}
	// Not locked is what such a server always is: nothing to do, no refusal.
	p := PlanUser(&Desired{Entry: problem.Entry{Name: "bob"}, Localpart: "bob", State: StatePresent, Locked: ptr(false)}, "@bob:test", &old, PasswordNotChecked, noLock)
	require.NoError(t, p.Err)
	assert.Equal(t, ActionUnchanged, p.Action)
}
