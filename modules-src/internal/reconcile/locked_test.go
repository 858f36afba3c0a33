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

	old.Detailed = true // the user's own answer
	// The runner learns it from the answers (lockingSupport) and refuses
	// locked: true for every user, before any write.
	f := newFake(account(me))
	refuse, err := lockingSupport(SupportQuery{Ctx: t.Context(), Client: f, Me: me, Seen: []*synapse.User{&old}, Explain: func(err error) error { return err }})
	require.NoError(t, err)
	require.NotNil(t, refuse, "a user's own answer without locked: this Synapse cannot lock")
	r := adminRunner(f)
	r.refusals = map[string]func(problem.Entry, any) error{"locked": refuse}
	for name, cur := range map[string]*Account{"existing": AccountOf(&old), "new": nil} {
		p := r.plan(with(&Desired{Entry: problem.Entry{Name: "bob"}, Localpart: "bob", State: StatePresent}, "locked", true), "@bob:test", cur, PasswordNotChecked)
		require.Error(t, p.Err, name)
		assert.Contains(t, p.Err.Error(), "cannot lock users", name)
		assert.False(t, p.Create, name)
		assert.Nil(t, p.Update, name)
	}
	// Not locked is what such a server always is: nothing to do, no refusal.
	p := r.plan(with(&Desired{Entry: problem.Entry{Name: "bob"}, Localpart: "bob", State: StatePresent}, "locked", false), "@bob:test", AccountOf(&old), PasswordNotChecked)
	require.NoError(t, p.Err)
	assert.Equal(t, ActionUnchanged, p.Action)

	refuse, err = lockingSupport(SupportQuery{Ctx: t.Context(), Client: f, Me: me, Seen: []*synapse.User{&listed}})
	require.NoError(t, err)
	assert.Nil(t, refuse, "an answer with locked: this Synapse can lock")
}
