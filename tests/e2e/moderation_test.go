package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// The fields with endpoints of their own: a bot's rate-limit override, a
// shadow-ban, a suspension. Each is checked on the server through its own
// endpoint or through what it does to other users, not through the
// module's report.

// override reads a user's rate-limit override straight from Synapse.
func (f *fixture) override(t *testing.T, localpart string) map[string]any {
	t.Helper()
	status, out, err := f.srv.Do(http.MethodGet, "/_synapse/admin/v1/users/"+url.PathEscape(f.srv.UserID(localpart))+"/override_ratelimit", f.token, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "%v", out)
	return out.(map[string]any)
}

// countRequests counts the requests of the last run to paths containing s.
func (f *fixture) countRequests(method, s string) int {
	n := 0
	for _, r := range f.proxy.Requests() {
		if r.Method == method && strings.Contains(r.Path, s) {
			n++
		}
	}
	return n
}

func TestRatelimitOverride(t *testing.T) {
	f := newFixture(t)
	bot := uniqueUser("ratebot")
	recordSecrets("ratebot-pass-1")
	exempt := map[string]any{"user": bot, "password": "ratebot-pass-1", "user_type": "bot",
		"ratelimit": map[string]any{"messages_per_second": 0, "burst_count": 0}}

	predicted := f.check(t, merge(exempt, map[string]any{"_ansible_diff": true})).mustSucceed(t)
	f.requireNoWrites(t)
	assert.Equal(t, []string{"password", "user_type", "ratelimit"}, predicted.changes())
	assert.Equal(t, map[string]any{"messages_per_second": 0.0, "burst_count": 0.0}, predicted.user()["ratelimit"])
	real := f.run(t, merge(exempt, map[string]any{"_ansible_diff": true})).mustSucceed(t)
	assertSamePrediction(t, predicted, real)
	assert.Equal(t, map[string]any{"messages_per_second": 0.0, "burst_count": 0.0}, f.override(t, bot), "set, as the override endpoint reads it")

	// A rerun reads the override (one request) and sends nothing.
	r := f.run(t, exempt).mustSucceed(t)
	assert.False(t, r.changed(), r.msg())
	f.requireNoWrites(t)
	assert.Equal(t, 1, f.countRequests(http.MethodGet, "/override_ratelimit"))

	// Another limit: check mode and diff show it, then it is applied.
	limited := merge(exempt, map[string]any{"ratelimit": map[string]any{"messages_per_second": 5, "burst_count": 20}, "_ansible_diff": true})
	predicted = f.check(t, limited).mustSucceed(t)
	f.requireNoWrites(t)
	diff := predicted.Result["diff"].(map[string]any)
	assert.Equal(t, map[string]any{"messages_per_second": 0.0, "burst_count": 0.0}, diff["before"].(map[string]any)["ratelimit"])
	assert.Equal(t, map[string]any{"messages_per_second": 5.0, "burst_count": 20.0}, diff["after"].(map[string]any)["ratelimit"])
	assert.Contains(t, predicted.msg(), "would be updated: ratelimit")
	real = f.run(t, limited).mustSucceed(t)
	assertSamePrediction(t, predicted, real)
	assert.Equal(t, map[string]any{"messages_per_second": 5.0, "burst_count": 20.0}, f.override(t, bot))

	// {} removes the override: the server's limits apply again.
	removed := merge(exempt, map[string]any{"ratelimit": map[string]any{}})
	r = f.run(t, removed).mustSucceed(t)
	assert.Equal(t, []string{"ratelimit"}, r.changes())
	assert.Empty(t, f.override(t, bot), "no override: Synapse answers {}")
	assert.Nil(t, r.user()["ratelimit"])
	r = f.run(t, removed).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)

	// One number without the other is refused before any request.
	r = f.run(t, merge(exempt, map[string]any{"ratelimit": map[string]any{"messages_per_second": 5}}))
	requireCleanFailure(t, r, "option ratelimit: give both messages_per_second and burst_count")
	assert.Empty(t, f.proxy.Requests())

	// The role's drift gate sees it.
	list := []any{map[string]any{"username": bot, "ratelimit": map[string]any{"messages_per_second": 0, "burst_count": 0}}}
	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list, "matrix_users_fail_on_drift": true}), "--check", "--diff")
	assert.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, f.srv.UserID(bot)+`: ratelimit null→{\"burst_count\":0,\"messages_per_second\":0}`)
	f.requireNoWrites(t)
}

// room is a room alice created and bob joined, with their tokens.
type room struct {
	f          *fixture
	id         string
	aliceToken string
	bobToken   string
	txn        atomic.Int64
}

func newRoom(t *testing.T, f *fixture, alice, bob, password string) *room {
	t.Helper()
	r := &room{f: f}
	var err error
	r.aliceToken, err = f.srv.Login(alice, password)
	require.NoError(t, err)
	r.bobToken, err = f.srv.Login(bob, password)
	require.NoError(t, err)
	recordSecrets(r.aliceToken, r.bobToken)
	status, out, err := f.srv.Do(http.MethodPost, "/_matrix/client/v3/createRoom", r.aliceToken, map[string]any{"preset": "public_chat"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "%v", out)
	r.id = out.(map[string]any)["room_id"].(string)
	status, out, err = f.srv.Do(http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(r.id), r.bobToken, map[string]any{})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "%v", out)
	return r
}

// send sends a text message as the holder of token, and returns the status
// and the answer.
func (r *room) send(t *testing.T, token, body string) (int, map[string]any) {
	t.Helper()
	txn := fmt.Sprintf("mxadmin-%d", r.txn.Add(1))
	status, out, err := r.f.srv.Do(http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(r.id)+"/send/m.room.message/"+txn, token,
		map[string]any{"msgtype": "m.text", "body": body})
	require.NoError(t, err)
	m, _ := out.(map[string]any)
	return status, m
}

// seenByAlice reports whether alice sees a message with body in the room.
func (r *room) seenByAlice(t *testing.T, body string) bool {
	t.Helper()
	status, out, err := r.f.srv.Do(http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(r.id)+"/messages?dir=b&limit=100", r.aliceToken, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "%v", out)
	for _, ev := range out.(map[string]any)["chunk"].([]any) {
		if content, ok := ev.(map[string]any)["content"].(map[string]any); ok && content["body"] == body {
			return true
		}
	}
	return false
}

func TestShadowBannedMessagesAreNotSeen(t *testing.T) {
	f := newFixture(t)
	alice, mallory := uniqueUser("shadowa"), uniqueUser("shadowm")
	const password = "shadow-pass-1"
	recordSecrets(password)
	f.run(t, map[string]any{"users": []any{
		map[string]any{"username": alice, "password": password},
		map[string]any{"username": mallory, "password": password},
	}}).mustSucceed(t)
	rm := newRoom(t, f, alice, mallory, password)
	status, _ := rm.send(t, rm.bobToken, "before the ban")
	require.Equal(t, http.StatusOK, status)
	require.True(t, rm.seenByAlice(t, "before the ban"))

	ban := map[string]any{"user": mallory, "shadow_banned": true, "_ansible_diff": true}
	predicted := f.check(t, ban).mustSucceed(t)
	f.requireNoWrites(t)
	assert.Equal(t, map[string]any{"shadow_banned": false, "deactivated": false}, predicted.Result["diff"].(map[string]any)["before"])
	assert.Equal(t, map[string]any{"shadow_banned": true, "deactivated": false}, predicted.Result["diff"].(map[string]any)["after"])
	real := f.run(t, ban).mustSucceed(t)
	assertSamePrediction(t, predicted, real)
	assert.Equal(t, true, f.read(t, mallory)["shadow_banned"])

	// What a shadow-banned user sends seems to work, and nobody sees it.
	status, out := rm.send(t, rm.bobToken, "while banned")
	assert.Equal(t, http.StatusOK, status, "%v", out)
	assert.NotEmpty(t, out["event_id"], "Synapse answers with an event ID all the same")
	assert.False(t, rm.seenByAlice(t, "while banned"))

	r := f.run(t, ban).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)

	// The module never shadow-bans its own admin.
	r = f.run(t, map[string]any{"user": "admin", "shadow_banned": true})
	requireCleanFailure(t, r, "refusing to shadow-ban "+f.adminID)
	f.requireNoWrites(t)

	f.run(t, map[string]any{"user": mallory, "shadow_banned": false}).mustSucceed(t)
	status, _ = rm.send(t, rm.bobToken, "after the ban")
	require.Equal(t, http.StatusOK, status)
	assert.True(t, rm.seenByAlice(t, "after the ban"))
}

// A suspended user can read but not send (Synapse 1.122 on); on an older
// Synapse a declared suspended: true is refused before any write, as the
// docs say, and suspended: false is what every user is.
func TestSuspendedUserCannotSend(t *testing.T) {
	f := newFixture(t)
	alice, bob := uniqueUser("suspa"), uniqueUser("suspb")
	const password = "suspend-pass-1"
	recordSecrets(password)
	f.run(t, map[string]any{"users": []any{
		map[string]any{"username": alice, "password": password},
		map[string]any{"username": bob, "password": password},
	}}).mustSucceed(t)

	if !synapsetest.AtLeast(t, 1, 122) {
		for _, check := range []bool{true, false} {
			r := f.run(t, map[string]any{"user": bob, "suspended": true, "displayname": "Bob", "_ansible_check_mode": check})
			requireCleanFailure(t, r, "suspended: this Synapse cannot suspend users (PUT /_synapse/admin/v1/suspend/<user_id> needs Synapse 1.122 or later), so "+bob+" was left alone")
			f.requireNoWrites(t)
		}
		assert.Equal(t, bob, f.read(t, bob)["displayname"], "nothing was sent, not even the display name")
		r := f.run(t, map[string]any{"user": bob, "suspended": false}).mustSucceed(t)
		assert.False(t, r.changed(), "no user of this Synapse is suspended")
		f.requireNoWrites(t)
		return
	}

	rm := newRoom(t, f, alice, bob, password)
	suspend := map[string]any{"user": bob, "suspended": true, "_ansible_diff": true}
	predicted := f.check(t, suspend).mustSucceed(t)
	f.requireNoWrites(t)
	assert.Equal(t, []string{"suspended"}, predicted.changes())
	assert.Equal(t, true, predicted.Result["diff"].(map[string]any)["after"].(map[string]any)["suspended"])
	real := f.run(t, suspend).mustSucceed(t)
	assertSamePrediction(t, predicted, real)
	assert.Equal(t, true, f.read(t, bob)["suspended"])

	status, out := rm.send(t, rm.bobToken, "while suspended")
	assert.Equal(t, http.StatusForbidden, status, "%v", out)
	assert.Contains(t, fmt.Sprint(out["errcode"]), "SUSPENDED")
	assert.False(t, rm.seenByAlice(t, "while suspended"))

	r := f.run(t, suspend).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)

	// The module never suspends its own admin.
	r = f.run(t, map[string]any{"user": "admin", "suspended": true})
	requireCleanFailure(t, r, "refusing to suspend "+f.adminID)
	f.requireNoWrites(t)

	f.run(t, map[string]any{"user": bob, "suspended": false}).mustSucceed(t)
	status, _ = rm.send(t, rm.bobToken, "after the suspension")
	require.Equal(t, http.StatusOK, status)
	assert.True(t, rm.seenByAlice(t, "after the suspension"))
}
