package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// batchUsers returns the users list of a batch result by user ID.
func (r Run) batchUsers() map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := r.Result["users"].([]any)
	for _, u := range list {
		m := u.(map[string]any)
		out[m["user"].(string)] = m
	}
	return out
}

func (r Run) summary() map[string]int {
	out := map[string]int{}
	for k, v := range r.Result["summary"].(map[string]any) {
		out[k] = int(v.(float64))
	}
	return out
}

func TestBatchMixedOutcomesInOneRun(t *testing.T) {
	f := newFixture(t)
	p := uniqueUser("mix")
	keep, update, revive, retire, fresh := p+"-keep", p+"-update", p+"-revive", p+"-retire", p+"-fresh"
	for _, u := range []string{keep, update, revive, retire} {
		f.run(t, map[string]any{"user": u, "password": "mix-pass-1", "displayname": "Before"}).mustSucceed(t)
	}
	f.run(t, map[string]any{"user": revive, "state": "absent"}).mustSucceed(t)

	users := []any{
		map[string]any{"username": keep, "displayname": "Before"},
		map[string]any{"username": update, "displayname": "After", "admin": true},
		map[string]any{"username": revive, "password": "mix-pass-2"},
		map[string]any{"username": retire, "state": "absent"},
		map[string]any{"username": fresh, "password": "mix-pass-3", "user_type": "bot"},
	}
	predicted := f.check(t, map[string]any{"users": users}).mustSucceed(t)
	f.requireNoWrites(t)
	assert.Equal(t, "1 would be created, 1 would be updated, 1 would be reactivated, 1 would be deactivated, 1 unchanged", predicted.msg())

	r := f.run(t, map[string]any{"users": users}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, map[string]int{"created": 1, "updated": 1, "reactivated": 1, "deactivated": 1, "unchanged": 1, "failed": 0}, r.summary())
	got := r.batchUsers()
	want := map[string]string{update: "updated", revive: "reactivated", retire: "deactivated", fresh: "created"}
	for u, action := range want {
		assert.Equal(t, action, got[f.srv.UserID(u)]["action"], u)
	}
	assert.Len(t, got, len(want), "the unchanged user is counted, not listed")
	assert.Equal(t, []any{"displayname", "admin"}, got[f.srv.UserID(update)]["changes"])
	assert.Equal(t, predicted.Result["diff"], r.Result["diff"], "check mode predicted the diff of the real run")
	assert.Equal(t, predicted.Result["users"], r.Result["users"], "and every user's outcome")

	assert.Equal(t, "After", f.read(t, update)["displayname"])
	assert.Equal(t, false, f.read(t, revive)["deactivated"])
	assert.Equal(t, true, f.read(t, retire)["deactivated"])
	assert.Equal(t, "bot", f.read(t, fresh)["user_type"])

	r = f.run(t, map[string]any{"users": users}).mustSucceed(t)
	assert.False(t, r.changed(), "a rerun converges")
	assert.Equal(t, 5, r.summary()["unchanged"])
	assert.Equal(t, []any{}, r.Result["users"], "a no-op lists nobody")
	f.requireNoWrites(t)

	// report_unchanged lists every user, in the declared order.
	r = f.run(t, map[string]any{"users": users, "report_unchanged": true}).mustSucceed(t)
	list, _ := r.Result["users"].([]any)
	require.Len(t, list, len(users))
	for i, u := range list {
		assert.Equal(t, "unchanged", u.(map[string]any)["action"])
		assert.Equal(t, fmt.Sprintf("users[%d] (%s)", i, users[i].(map[string]any)["username"]), u.(map[string]any)["ref"])
	}
	f.requireNoWrites(t)
}

func TestBatchOneFailureDoesNotStopTheOthers(t *testing.T) {
	f := newFixture(t)
	p := uniqueUser("failmix")
	taken := []any{map[string]any{"auth_provider": "oidc-batch", "external_id": p}}
	f.run(t, map[string]any{"user": p + "-owner", "external_ids": taken}).mustSucceed(t)

	users := []any{
		map[string]any{"username": p + "-a", "password": "fail-mix-1"},
		map[string]any{"username": p + "-thief", "external_ids": taken},
		map[string]any{"username": p + "-b", "password": "fail-mix-2"},
	}
	r := f.run(t, map[string]any{"users": users})
	assert.True(t, r.failed())
	assert.True(t, r.changed(), "the others were created")
	assert.Equal(t, 2, r.summary()["created"])
	assert.Equal(t, 1, r.summary()["failed"])
	thief := r.batchUsers()[f.srv.UserID(p+"-thief")]
	assert.Equal(t, "failed", thief["action"])
	assert.Contains(t, thief["error"], "409")
	assert.Contains(t, thief["error"], "the account exists without it", "Synapse creates the account before it refuses the external ID: the error says so")
	assert.Contains(t, r.msg(), p+"-thief")
	assert.NotNil(t, f.read(t, p+"-a"))
	assert.NotNil(t, f.read(t, p+"-b"))

	users[1] = map[string]any{"username": p + "-thief"}
	r = f.run(t, map[string]any{"users": users}).mustSucceed(t)
	assert.Equal(t, map[string]int{"created": 0, "updated": 0, "reactivated": 0, "deactivated": 0, "unchanged": 3, "failed": 0}, r.summary(), "the rerun converges with nothing duplicated")
}

func TestBatchDuplicatesRefusedBeforeAnyRequest(t *testing.T) {
	f := newFixture(t)
	for _, dup := range [][]any{
		{map[string]any{"username": "john"}, map[string]any{"username": "john"}},
		{map[string]any{"username": "John"}, map[string]any{"username": "john"}},
		{map[string]any{"username": "john"}, map[string]any{"username": "@john:test.local"}},
		{map[string]any{"user": "@John:test.local"}, map[string]any{"username": "JOHN"}},
	} {
		r := f.run(t, map[string]any{"users": dup})
		assert.True(t, r.failed())
		assert.Contains(t, r.msg(), "users[0] and users[1] both declare the user john")
		assert.Empty(t, f.proxy.Requests())
	}
}

func TestBatchNoOpRerunIsAHandfulOfReads(t *testing.T) {
	f := newFixture(t)
	p := uniqueUser("noop")
	var users []any
	for i := 0; i < 40; i++ {
		users = append(users, map[string]any{"username": fmt.Sprintf("%s-%02d", p, i), "password": "noop-pass-" + fmt.Sprint(i), "update_password": "always", "displayname": "User " + fmt.Sprint(i)})
	}
	r := f.run(t, map[string]any{"users": users}).mustSucceed(t)
	assert.Equal(t, 40, r.summary()["created"])

	r = f.run(t, map[string]any{"users": users}).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)
	var paths []string
	for _, req := range f.proxy.Requests() {
		paths = append(paths, req.Path)
	}
	// The four MAS probes, whoami, the user list (one page), and every
	// password hash in one request: 40 users, 7 requests.
	assert.Len(t, paths, 7, "%v", paths)
	assert.Equal(t, 1, countContaining(paths, "/_synapse/admin/v2/users"), "one page of the user list")
	assert.Equal(t, 1, countContaining(paths, "/search_users/"), "all hashes in one request")
}

func countContaining(paths []string, part string) int {
	n := 0
	for _, p := range paths {
		if strings.Contains(p, part) {
			n++
		}
	}
	return n
}

func TestBatchRetriesOneUserWithoutStallingOthers(t *testing.T) {
	f := newFixture(t)
	p := uniqueUser("retry")
	slow := f.srv.UserID(p + "-limited")
	// The first two PUTs for one user are rate limited by the "server"; the
	// others go through at once.
	var mu sync.Mutex
	limited := 0
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+slow) && limited < 2 {
			limited++
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":200}`))
			return true
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	users := []any{map[string]any{"username": p + "-limited"}}
	for i := 0; i < 5; i++ {
		users = append(users, map[string]any{"username": fmt.Sprintf("%s-%d", p, i)})
	}
	r := f.run(t, map[string]any{"users": users, "retries": 3}).mustSucceed(t)
	assert.Equal(t, 6, r.summary()["created"])
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, limited)
}

func TestBatchExclusive(t *testing.T) {
	bridge := synapsetest.AppService{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}
	srv := synapsetest.New(t, synapsetest.Config{AppServices: []synapsetest.AppService{bridge}, GuestAccess: true})
	f := fixtureOn(t, srv)
	bridge = srv.AppServices[0]
	for _, u := range []string{"alice", "bob", "stranger1", "stranger2", "bot-notify"} {
		_, err := srv.Register(u, "exclusive-pass-"+u, false)
		require.NoError(t, err)
	}
	require.NoError(t, srv.RegisterAppserviceUser(bridge, "bridge_carol"))
	guest, err := srv.RegisterGuest()
	require.NoError(t, err)
	_, err = srv.Register("olduser", "old-pass-1", false)
	require.NoError(t, err)
	f.run(t, map[string]any{"user": "olduser", "state": "absent"}).mustSucceed(t)

	args := map[string]any{
		"users":     []any{map[string]any{"username": "alice"}, map[string]any{"username": "bob", "displayname": "Bob"}},
		"exclusive": true,
		"protect":   []any{"bot-*"},
		// 2 of the 4 accounts exclusive mode may deactivate (alice, bob and
		// the strangers; not the admin, the bot, the bridge's or the guest).
		"max_deactivations_percent": 50,
	}
	predicted := f.check(t, args).mustSucceed(t)
	f.requireNoWrites(t)
	got := predicted.batchUsers()
	for _, stranger := range []string{"stranger1", "stranger2"} {
		u := got[srv.UserID(stranger)]
		require.NotNil(t, u, "check mode lists %s", stranger)
		assert.Equal(t, "deactivated", u["action"])
		assert.Equal(t, "(not declared)", u["ref"])
	}
	for _, untouched := range []string{f.adminID, srv.UserID("bot-notify"), srv.UserID("bridge_carol"), srv.UserID("bridgebot"), guest, srv.UserID("olduser")} {
		assert.NotContains(t, got, untouched, "exclusive mode leaves %s alone", untouched)
	}
	assert.Equal(t, 2, predicted.summary()["deactivated"])
	assert.Equal(t, false, f.read(t, "stranger1")["deactivated"], "check mode deactivated nothing")

	r := f.run(t, args).mustSucceed(t)
	assert.Equal(t, predicted.Result["users"], r.Result["users"])
	for _, stranger := range []string{"stranger1", "stranger2"} {
		assert.Equal(t, true, f.read(t, stranger)["deactivated"])
	}
	for _, u := range []string{"admin", "bot-notify", "bridge_carol", "alice", "bob"} {
		assert.Equal(t, false, f.read(t, u)["deactivated"], u)
	}
	guestUser, err := srv.User(f.token, guest)
	require.NoError(t, err)
	assert.Equal(t, false, guestUser["deactivated"])

	r = f.run(t, args).mustSucceed(t)
	assert.False(t, r.changed(), "a rerun converges")

	for name, bad := range map[string]map[string]any{
		"empty list":  {"users": []any{}, "exclusive": true},
		"single user": {"user": "alice", "exclusive": true},
		"bad pattern": {"users": []any{map[string]any{"username": "alice"}}, "exclusive": true, "protect": []any{"bot-["}},
	} {
		r := f.run(t, bad)
		assert.True(t, r.failed(), name)
		assert.Empty(t, f.proxy.Requests(), "%s: refused before any request", name)
	}
}
