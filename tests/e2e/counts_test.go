package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// requestCounts says what the last run of f sent, for the log and the
// asserts: every request, the writes, the single-user reads, the hash reads.
func requestCounts(f *fixture) (all, writes, userGets, hashReads int, line string) {
	for _, r := range f.proxy.Requests() {
		all++
		switch {
		case r.Method != http.MethodGet:
			writes++
		case strings.Contains(r.Path, "/_synapse/admin/v2/users/"):
			userGets++
		case strings.Contains(r.Path, "/search_users/"):
			hashReads++
		}
	}
	return all, writes, userGets, hashReads, fmt.Sprintf("%d requests: %d writes, %d single-user reads, %d hash reads", all, writes, userGets, hashReads)
}

// TestRequestCounts measures what the usual runs cost, as the README
// reports it: a create of one user and of 100, a no-op rerun of 100, and an
// exclusive run the threshold refuses on a server with a bridge.
func TestRequestCounts(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("count")
	f.run(t, map[string]any{"user": name, "password": "count-pass-1", "displayname": "Count"}).mustSucceed(t)
	all, writes, _, hashReads, line := requestCounts(f)
	t.Logf("COUNT create 1 user: %s", line)
	// 4 MAS probes, whoami, the user's GET, username_available; the create
	// (an empty PUT) and the rest (password, displayname); the password
	// read back once for password_pepper.
	assert.Equal(t, 10, all)
	assert.Equal(t, 2, writes)
	assert.Equal(t, 1, hashReads)

	p := uniqueUser("count100")
	var users []any
	for i := 0; i < 100; i++ {
		users = append(users, map[string]any{"username": fmt.Sprintf("%s-%03d", p, i), "password": fmt.Sprintf("count-pass-%03d", i)})
	}
	r := f.run(t, map[string]any{"users": users}).mustSucceed(t)
	require.Equal(t, 100, r.summary()["created"])
	all, writes, _, hashReads, line = requestCounts(f)
	t.Logf("COUNT create 100 users: %s", line)
	// 4 probes, whoami, the list; 100 creates and 100 passwords; one read back.
	assert.Equal(t, 207, all)
	assert.Equal(t, 200, writes)
	assert.Equal(t, 1, hashReads)
	assert.Equal(t, 100, f.proxy.Hashes(), "one server-side hash per user")
	assert.Zero(t, f.proxy.Logouts(), "a new account has no session to log out")

	r = f.run(t, map[string]any{"users": users}).mustSucceed(t)
	assert.Equal(t, 100, r.summary()["unchanged"])
	all, writes, _, _, line = requestCounts(f)
	t.Logf("COUNT no-op rerun of 100 users: %s", line)
	assert.Equal(t, 6, all, "4 probes, whoami, the list")
	assert.Zero(t, writes)

	// Exclusive mode on a server with a bridge: 40 puppets of an
	// application service and 12 undeclared accounts, one declared.
	bridge := synapsetest.AppService{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}
	srv := synapsetest.New(t, synapsetest.Config{AppServices: []synapsetest.AppService{bridge}})
	g := fixtureOn(t, srv)
	bridge = srv.AppServices[0]
	for i := 0; i < 40; i++ {
		require.NoError(t, srv.RegisterAppserviceUser(bridge, fmt.Sprintf("bridge_%02d", i)))
	}
	for _, u := range append([]string{"keep"}, strings.Fields("s01 s02 s03 s04 s05 s06 s07 s08 s09 s10 s11 s12")...) {
		_, err := srv.Register(u, "count-pass-x", false)
		require.NoError(t, err, u)
	}
	r = g.run(t, map[string]any{"users": []any{map[string]any{"username": "keep"}}, "exclusive": true})
	require.True(t, r.failed(), r.Stdout)
	assert.Contains(t, r.msg(), "more than the safety threshold allows")
	all, writes, userGets, _, line := requestCounts(g)
	t.Logf("COUNT exclusive run refused by the threshold (40 bridge puppets, 12 undeclared, max 10): %s", line)
	assert.Zero(t, writes)
	// The puppets are counted out of the threshold's share: 2 of keep and 2
	// undeclared accounts is past 25%. A first round of 2 reads finds
	// puppets, the rest of their namespace waits, and a second round of 2
	// finds 2 undeclared accounts.
	assert.Contains(t, r.msg(), "at least 2 of the at least 3 accounts exclusive mode may deactivate (66%); 2 application-service accounts found so far")
	assert.Equal(t, 4, userGets)
	assert.Equal(t, 6+4, all)
}
