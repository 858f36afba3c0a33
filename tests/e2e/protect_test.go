package e2e

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// A protect pattern that no account can match protected nothing, and the
// account it was written for was deactivated. Such patterns are refused
// before any request, naming the pattern and the rule.
func TestProtectPatternsThatCanNeverMatchAreRefused(t *testing.T) {
	f := newFixture(t)
	base := map[string]any{"users": []any{map[string]any{"username": "alice"}}, "exclusive": true}
	for pattern, rule := range map[string]string{
		"@notices":           "a full user ID names its server: @localpart:server.name",
		"notices:test.local": "a pattern with a server part is a full user ID, which starts with @",
		"bot-* ":             "it has a space, and no user ID has one",
		" notices":           "it has a space",
		"bot!":               `'!' is in no user ID (a localpart has only a-z, 0-9 and . _ = - / +)`,
		"@:test.local":       "it matches neither a localpart (bot-*) nor a full user ID (@bot-*:example.com)",
	} {
		r := f.run(t, merge(base, map[string]any{"protect": []any{"bot-*", pattern}}))
		requireCleanFailure(t, r, fmt.Sprintf("option protect: %q can never match an account: %s", pattern, rule))
		assert.Empty(t, f.proxy.Requests(), "%q: refused before any request", pattern)
	}
	// A full ID on another server: refused before any request when
	// server_name says which server this is, else before any write.
	typo := "@notices:test.lcoal"
	r := f.run(t, merge(base, map[string]any{"protect": []any{typo}, "server_name": "test.local"}))
	requireCleanFailure(t, r, fmt.Sprintf("option protect: %q can never match an account of this homeserver: its accounts are @localpart:test.local", typo))
	assert.Empty(t, f.proxy.Requests())
	r = f.run(t, merge(base, map[string]any{"protect": []any{typo}}))
	requireCleanFailure(t, r, fmt.Sprintf("%q can never match an account of this homeserver", typo))
	f.requireNoWrites(t)
}

// An entry that failed (a typo of the server part, another server) used to
// fail alone while exclusive mode deactivated the real account as
// undeclared. Now it stops exclusive mode before any write.
func TestExclusiveStopsOnAnEntryOfAnotherServer(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	for _, u := range []string{"keep", "bot"} {
		_, err := srv.Register(u, "exclusive-typo-"+u, false)
		require.NoError(t, err)
	}
	users := []any{map[string]any{"username": "keep"}, map[string]any{"username": "@bot:exmaple.org"}}
	for _, check := range []bool{true, false} {
		r := f.run(t, map[string]any{"users": users, "exclusive": true, "_ansible_check_mode": check})
		requireCleanFailure(t, r, "exclusive mode stopped before any change: users[1] (@bot:exmaple.org): @bot:exmaple.org is on another server; this homeserver is test.local",
			"cannot tell which account such an entry keeps")
		f.requireNoWrites(t)
	}
	assert.Equal(t, false, f.read(t, "bot")["deactivated"])

	// Through the role: the entry as the inventory names it.
	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": users, "matrix_users_exclusive": true}))
	require.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "matrix_users_list[1] (@bot:exmaple.org): @bot:exmaple.org is on another server")
	f.requireNoWrites(t)
	assert.Equal(t, false, f.read(t, "bot")["deactivated"])
}
