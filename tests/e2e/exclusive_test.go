package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// TestExclusiveProtectAndThreshold runs exclusive mode on a server of its
// own: protect patterns must cover localparts with / . = + (path.Match's
// '*' stops at '/'), and the safety threshold must stop a run that would
// deactivate too many accounts before any write, in check mode too.
func TestExclusiveProtectAndThreshold(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	bots := []string{"bot-relay/irc", "bot.x", "bot=y", "bot+z"}
	strangers := []string{"robot-1", "s1", "s2", "s3", "s4", "s5"}
	for _, u := range append(append([]string{"keep"}, bots...), strangers...) {
		_, err := srv.Register(u, "exclusive-pass-7x", false)
		require.NoError(t, err, u)
	}
	// 12 active accounts: @admin, keep, 4 bots, 6 strangers. The patterns
	// reach each bot another way: '*' across '/', '*' then a literal, a
	// whole ID in another case, '?' for one character.
	args := map[string]any{
		"users":     []any{map[string]any{"username": "keep"}},
		"exclusive": true,
		"protect":   []any{"bot-*", "bot*y", "@BOT+*:" + srv.ServerName, "bot.?"},
	}

	// The defaults allow min(10, 25 % of 12 = 3): 6 is too many, which
	// the first 4 read already show; the other 2 are not read.
	for _, check := range []bool{true, false} {
		r := f.run(t, merge(args, map[string]any{"_ansible_check_mode": check}))
		require.True(t, r.failed(), "check=%v: %s", check, r.Stdout)
		f.requireNoWrites(t)
		assert.Contains(t, r.msg(), "would deactivate at least 4 undeclared users")
		assert.Contains(t, r.msg(), "2 more undeclared accounts were not read: "+srv.UserID("s4")+", "+srv.UserID("s5"))
		assert.Equal(t, 4, countContaining(pathsOf(f), "/_synapse/admin/v2/users/"), "4 accounts read")
		assert.Contains(t, r.msg(), "of the 12 active local accounts")
		assert.Contains(t, r.msg(), "max_deactivations 10, max_deactivations_percent 25%, so at most 3")
		assert.Contains(t, r.msg(), srv.UserID("robot-1"))
		for _, b := range bots {
			assert.NotContains(t, r.msg(), srv.UserID(b), "protected")
		}
	}
	// The count limit alone stops it too.
	r := f.run(t, merge(args, map[string]any{"max_deactivations": 5, "max_deactivations_percent": 100}))
	require.True(t, r.failed())
	f.requireNoWrites(t)
	assert.Contains(t, r.msg(), "so at most 5")
	for _, bad := range []map[string]any{{"max_deactivations": -1}, {"max_deactivations_percent": 101}, {"max_deactivations_percent": -5}} {
		r := f.run(t, merge(args, bad))
		require.True(t, r.failed())
		assert.Contains(t, r.msg(), "option max_deactivations")
		assert.Empty(t, f.proxy.Requests(), "refused before any request")
	}
	for _, u := range strangers {
		assert.Equal(t, false, f.read(t, u)["deactivated"], "%s: nothing was deactivated", u)
	}

	// Raised: check mode shows the count, then the run deactivates exactly
	// the strangers.
	raised := merge(args, map[string]any{"max_deactivations_percent": 50})
	predicted := f.check(t, raised).mustSucceed(t)
	f.requireNoWrites(t)
	assert.Equal(t, 6, predicted.summary()["deactivated"])
	r = f.run(t, raised).mustSucceed(t)
	assert.Equal(t, 6, r.summary()["deactivated"])
	assert.Equal(t, predicted.Result["users"], r.Result["users"])
	for _, u := range strangers {
		assert.Equal(t, true, f.read(t, u)["deactivated"], u)
	}
	for _, u := range append([]string{"admin", "keep"}, bots...) {
		assert.Equal(t, false, f.read(t, u)["deactivated"], "%s is protected or declared", u)
	}
	// Rerun with the defaults: nothing left to deactivate, nothing fails.
	r = f.run(t, args).mustSucceed(t)
	assert.False(t, r.changed())
}
