package e2e

import (
	"fmt"
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
	// whole ID in another case, '?' for one character. Exclusive mode may
	// deactivate 7 of them: keep and the strangers (never its own admin,
	// nor the protected bots).
	args := map[string]any{
		"users":     []any{map[string]any{"username": "keep"}},
		"exclusive": true,
		"protect":   []any{"bot-*", "bot*y", "@BOT+*:" + srv.ServerName, "bot.?"},
	}

	// The defaults allow min(10, 25 % of keep and the undeclared): 2 of 3
	// is too many, which the first 2 read already show; the other 4 are
	// not read.
	for _, check := range []bool{true, false} {
		r := f.run(t, merge(args, map[string]any{"_ansible_check_mode": check}))
		require.True(t, r.failed(), "check=%v: %s", check, r.Stdout)
		f.requireNoWrites(t)
		assert.Contains(t, r.msg(), "would deactivate at least 2 undeclared users")
		assert.Contains(t, r.msg(), "4 more undeclared accounts were not read: "+srv.UserID("s2")+", "+srv.UserID("s3"))
		assert.Equal(t, 2, countContaining(pathsOf(f), "/_synapse/admin/v2/users/"), "2 accounts read")
		assert.Contains(t, r.msg(), "at least 2 of the at least 3 accounts exclusive mode may deactivate (66%); 0 application-service accounts found so far and 4 protected accounts are never touched")
		assert.Contains(t, r.msg(), "max_deactivations 10, max_deactivations_percent 25%, so at most 1")
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
	// the strangers (6 of the 7 accounts it may deactivate).
	raised := merge(args, map[string]any{"max_deactivations_percent": 90})
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

// The case: a bridged server holds more puppets than people, so a
// threshold counted over every active account let a list cut short
// deactivate most of the people (13 of 24 read as "24% of the 54 active
// local accounts"). The share is of the accounts exclusive mode may
// deactivate: the puppets, registered through the client API with the
// application service's token, are counted out, and never touched.
func TestExclusiveThresholdCountsAppserviceUsersOut(t *testing.T) {
	bridge := synapsetest.AppService{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}
	srv := synapsetest.New(t, synapsetest.Config{AppServices: []synapsetest.AppService{bridge}})
	f := fixtureOn(t, srv)
	bridge = srv.AppServices[0]
	var declared []any
	for i := range 10 {
		name := fmt.Sprintf("staff%02d", i)
		_, err := srv.Register(name, "exclusive-as-pass-1", false)
		require.NoError(t, err)
		declared = append(declared, map[string]any{"username": name})
	}
	var left []string
	for i := range 13 {
		name := fmt.Sprintf("left%02d", i)
		_, err := srv.Register(name, "exclusive-as-pass-1", false)
		require.NoError(t, err)
		left = append(left, name)
	}
	for i := range 30 {
		require.NoError(t, srv.RegisterAppserviceUser(bridge, fmt.Sprintf("bridge_%02d", i)))
	}
	// 24 people (the admin, 10 declared, 13 left) and 30 puppets. Over the
	// 54 active accounts the 13 were 24% and passed 25% (with a count
	// limit above 13); over the 23 exclusive mode may deactivate, 56%.
	args := map[string]any{"users": declared, "exclusive": true, "max_deactivations": 20}
	for _, check := range []bool{true, false} {
		r := f.run(t, merge(args, map[string]any{"_ansible_check_mode": check}))
		require.True(t, r.failed(), "check=%v: %s", check, r.Stdout)
		f.requireNoWrites(t)
		assert.Contains(t, r.msg(), "accounts exclusive mode may deactivate")
		assert.Contains(t, r.msg(), "application-service accounts found so far and 0 protected accounts are never touched")
		assert.Regexp(t, `at least \d+ of the at least \d+ accounts`, r.msg())
		assert.Contains(t, r.msg(), "max_deactivations 20, max_deactivations_percent 25%, so at most")
	}
	for _, u := range left {
		assert.Equal(t, false, f.read(t, u)["deactivated"], u)
	}

	// With every account read, the message counts them all: 13 of the 23,
	// the 31 accounts of the bridge (its puppets and its sender) counted out.
	r := f.run(t, merge(args, map[string]any{"max_deactivations": 12, "max_deactivations_percent": 100, "protect": []any{"bridge_2*"}}))
	require.True(t, r.failed(), r.Stdout)
	assert.Contains(t, r.msg(), "and 10 protected accounts are never touched")

	// Raised to what the list means: the 13 people go, no puppet.
	raised := merge(args, map[string]any{"max_deactivations_percent": 60})
	predicted := f.check(t, raised).mustSucceed(t)
	f.requireNoWrites(t)
	assert.Equal(t, 13, predicted.summary()["deactivated"])
	r = f.run(t, raised).mustSucceed(t)
	assert.Equal(t, 13, r.summary()["deactivated"])
	for _, u := range left {
		assert.Equal(t, true, f.read(t, u)["deactivated"], u)
	}
	for i := range 30 {
		assert.Equal(t, false, f.read(t, fmt.Sprintf("bridge_%02d", i))["deactivated"], "a puppet is never touched")
	}
	assert.Equal(t, false, f.read(t, "admin")["deactivated"])
}
