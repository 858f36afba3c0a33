package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// A create must never land on an account that exists, whatever raced in
// between, and a password goes only to an account this run created.
// Synapse's PUT /_synapse/admin/v2/users/<id> creates (201) or modifies
// (200); with an empty body a modify changes nothing (checked against
// Synapse 1.163: an existing account, deactivated or not, is left as it
// was). So a create is an empty PUT, and the password and fields follow in
// a second PUT only after a 201.

// putBodies records the keys of every user PUT body the module sends,
// by user ID, in order.
type putBodies struct {
	mu   sync.Mutex
	keys map[string][]string
}

func recordPutBodies(f *fixture, next func(w http.ResponseWriter, r *http.Request) bool) *putBodies {
	b := &putBodies{keys: map[string][]string{}}
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/_synapse/admin/v2/users/") {
			data, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(data))
			var body map[string]any
			_ = json.Unmarshal(data, &body)
			keys := make([]string, 0, len(body))
			for k := range body {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			id, _ := url.PathUnescape(r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
			b.mu.Lock()
			b.keys[id] = append(b.keys[id], strings.Join(keys, ","))
			b.mu.Unlock()
		}
		return next != nil && next(w, r)
	})
	return b
}

func (b *putBodies) of(id string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.keys[id]
}

// isCreate tells the empty PUT that creates an account.
func isCreate(r *http.Request) bool {
	if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/_synapse/admin/v2/users/") {
		return false
	}
	data, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(data))
	return bytes.Equal(bytes.TrimSpace(data), []byte("{}"))
}

func TestCreateCarriesNothingThenTheRest(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("twostep")
	bodies := recordPutBodies(f, nil)
	defer f.proxy.SetFault(nil)
	r := f.run(t, map[string]any{"user": name, "password": "two-step-pass-1", "displayname": "Two Step", "admin": true, "locked": canLock(t)}).mustSucceed(t)
	assert.True(t, r.bool("created"))
	rest := "admin,displayname,locked,logout_devices,password"
	if !canLock(t) {
		rest = "admin,displayname,logout_devices,password"
	}
	assert.Equal(t, []string{"", rest}, bodies.of(f.srv.UserID(name)), "an empty create, then everything else (locked too, which a create ignores)")
	assert.Zero(t, f.proxy.Logouts(), "a new account's password logs nobody out")
	hash, err := f.srv.PasswordHash(f.token, f.adminID, f.srv.UserID(name))
	require.NoError(t, err)
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte("two-step-pass-1")), "the declared password is set")
	u := f.read(t, name)
	assert.Equal(t, "Two Step", u["displayname"])
	assert.Equal(t, true, u["admin"])
}

// An account someone else makes between the module's read and its create
// is handled as the existing account it is: a password declared with
// update_password: on_create is not sent to it, and the result says so.
func TestCreateFindsTheAccountMadeMeanwhile(t *testing.T) {
	f := newFixture(t)
	p := uniqueUser("race")
	appear, taken, legacy, retire, other := p+"-appear", p+"-taken", p+"-legacy", p+"-retire", p+"-other"
	legacyID := ""
	var mu sync.Mutex
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !isCreate(r) {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		// Another party registers the account just before the create
		// reaches Synapse. (The proxy's goroutine: no FailNow here.)
		switch {
		case strings.HasSuffix(r.URL.Path, "/"+f.srv.UserID(appear)):
			if _, err := f.srv.Register(appear, "their-pass-1", false); err != nil {
				t.Errorf("registering %s: %v", appear, err)
			}
		case strings.HasSuffix(r.URL.Path, "/"+f.srv.UserID(taken)):
			if _, err := f.srv.Register(taken, "their-pass-2", false); err != nil {
				t.Errorf("registering %s: %v", taken, err)
			}
		case strings.HasSuffix(r.URL.Path, "/"+f.srv.UserID(retire)):
			if _, err := f.srv.Register(retire, "their-pass-3", false); err != nil {
				t.Errorf("registering %s: %v", retire, err)
			}
		case strings.HasSuffix(r.URL.Path, "/"+f.srv.UserID(legacy)) && legacyID == "":
			// An account that differs only in case: Synapse refuses the
			// create as taken (M_USER_IN_USE).
			localpart := strings.ToUpper(legacy[:1]) + legacy[1:]
			legacyID = f.srv.UserID(localpart)
			if _, err := f.srv.Exec("INSERT INTO users (name, password_hash, creation_ts, is_guest, admin, deactivated) VALUES (?, NULL, ?, 0, 0, 0)", legacyID, time.Now().Unix()); err != nil {
				t.Errorf("inserting %s: %v", legacyID, err)
			}
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	users := []any{
		map[string]any{"username": appear, "password": "my-pass-1"},
		map[string]any{"username": taken, "password": "my-pass-2", "displayname": "Mine"},
		map[string]any{"username": legacy, "password": "my-pass-3", "admin": true},
		map[string]any{"username": retire, "state": "absent"},
		map[string]any{"username": other, "password": "my-pass-4"},
	}
	r := f.run(t, map[string]any{"users": users, "report_unchanged": true}).mustSucceed(t)
	got := r.batchUsers()
	assert.Equal(t, "unchanged", got[f.srv.UserID(appear)]["action"])
	assert.Equal(t, "updated", got[f.srv.UserID(taken)]["action"])
	assert.Equal(t, []any{"displayname"}, got[f.srv.UserID(taken)]["changes"], "its declared fields, never its password")
	require.NotEmpty(t, legacyID)
	assert.Equal(t, "updated", got[legacyID]["action"], "the legacy account found: %v", got)
	assert.Equal(t, []any{"admin"}, got[legacyID]["changes"])
	assert.Equal(t, "deactivated", got[f.srv.UserID(retire)]["action"], "state: absent applies to the account that appeared")
	assert.Equal(t, "created", got[f.srv.UserID(other)]["action"])
	assert.Equal(t, 1, r.summary()["created"])
	for _, id := range []string{f.srv.UserID(appear), f.srv.UserID(taken), legacyID} {
		warnings := fmt.Sprint(got[id]["warnings"])
		assert.Contains(t, warnings, "did not exist when this run read the users, but existed when it was to be created", id)
		assert.Contains(t, warnings, "so the declared password was not set", id)
	}
	// Their passwords are theirs.
	_, err := f.srv.Login(appear, "their-pass-1")
	assert.NoError(t, err)
	_, err = f.srv.Login(appear, "my-pass-1")
	assert.Error(t, err)
	_, err = f.srv.Login(taken, "their-pass-2")
	assert.NoError(t, err)
	_, err = f.srv.Login(other, "my-pass-4")
	assert.NoError(t, err)
	assert.Equal(t, true, f.read(t, retire)["deactivated"])
	for _, req := range f.proxy.Requests() {
		if req.Hash && req.Method == http.MethodPut {
			assert.True(t, strings.HasSuffix(req.Path, "/"+f.srv.UserID(other)), "a password went to %s", req.Path)
		}
	}
}

// Two runs declaring the same 300 new users with different passwords, at
// the same time: every account is created by exactly one of them, the other
// reports it as existing, and no password is overwritten.
func TestCreateConcurrentRunsNeverOverwrite(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	_, token := srv.Admin(t)
	recordSecrets(token)
	const n = 300
	p := uniqueUser("twin")
	runs := make([]*startedModule, 2)
	proxies := make([]*synapsetest.Proxy, 2)
	for k := range runs {
		proxies[k] = synapsetest.NewProxy(srv.URL, "")
		t.Cleanup(proxies[k].Close)
		var users []any
		for i := 0; i < n; i++ {
			users = append(users, map[string]any{"username": fmt.Sprintf("%s-%03d", p, i), "password": fmt.Sprintf("run%d-pass-%03d", k, i)})
		}
		runs[k] = startModule(t, "matrix_user", map[string]any{"homeserver_url": proxies[k].URL, "admin_token": token, "users": users, "concurrency": 8,
			// Both runs list every user: the loser of each create race reports it unchanged.
			"report_unchanged": true})
	}
	results := []Run{runs[0].wait(t, 5*time.Minute).mustSucceed(t), runs[1].wait(t, 5*time.Minute).mustSucceed(t)}
	created := results[0].summary()["created"] + results[1].summary()["created"]
	assert.Equal(t, n, created, "every account created once: %v, %v", results[0].summary(), results[1].summary())
	t.Logf("run 0: %v; run 1: %v", results[0].summary(), results[1].summary())

	// The stored hashes, all at once, straight from Synapse.
	status, out, err := srv.Do(http.MethodGet, "/_synapse/admin/v1/search_users/"+url.PathEscape(srv.UserID("admin"))+"?term="+url.QueryEscape(p), token, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	hashes := map[string]string{}
	for _, row := range out.([]any) {
		m := row.(map[string]any)
		h, _ := m["password_hash"].(string)
		hashes[m["name"].(string)] = h
	}
	passwordsTo := func(k int) map[string]bool {
		out := map[string]bool{}
		for _, req := range proxies[k].Requests() {
			if req.Hash {
				id, _ := url.PathUnescape(req.Path[strings.LastIndex(req.Path, "/")+1:])
				out[id] = true
			}
		}
		return out
	}
	sent := []map[string]bool{passwordsTo(0), passwordsTo(1)}
	users := []map[string]map[string]any{results[0].batchUsers(), results[1].batchUsers()}
	for i := 0; i < n; i++ {
		id := srv.UserID(fmt.Sprintf("%s-%03d", p, i))
		creator := -1
		for k := range users {
			if users[k][id]["action"] == "created" {
				require.Equal(t, -1, creator, "%s created by both runs", id)
				creator = k
			} else {
				assert.Equal(t, "unchanged", users[k][id]["action"], "%s: the other run reports it as existing", id)
			}
		}
		require.NotEqual(t, -1, creator, "%s created by neither run", id)
		assert.True(t, sent[creator][id], "%s: its creator set its password", id)
		assert.False(t, sent[1-creator][id], "%s: the other run sent it no password", id)
		pw := fmt.Sprintf("run%d-pass-%03d", creator, i)
		assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(hashes[id]), []byte(pw)), "%s has its creator's password", id)
	}
}

// A create whose answer is lost (the connection cut after Synapse made the
// account) is retried; the retry finds the account, and nothing tells
// whether this run made it or someone else did: no password is sent to it,
// the run fails saying so, and a rerun with update_password: always sets it.
func TestCreateAnswerLost(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("lost")
	id := f.srv.UserID(name)
	var once sync.Once
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !isCreate(r) || !strings.HasSuffix(r.URL.Path, "/"+id) {
			return false
		}
		cut := false
		once.Do(func() {
			cut = true
			// Synapse makes the account; its answer never arrives.
			if st, _, err := f.srv.Do(http.MethodPut, "/_synapse/admin/v2/users/"+url.PathEscape(id), f.token, map[string]any{}); err != nil || st != http.StatusCreated {
				t.Errorf("creating %s behind the module's back: %d %v", id, st, err)
			}
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		return cut
	})
	r := f.run(t, map[string]any{"user": name, "password": "lost-pass-1", "retries": 2})
	f.proxy.SetFault(nil)
	requireCleanFailure(t, r, "the answer to the create of "+id+" was lost, and the retry found the account: this run may have created it", "update_password: always")
	assert.True(t, r.changed(), "the create may have been applied")
	assert.Zero(t, f.proxy.Hashes(), "no password sent to an account it cannot tell is its own")

	r = f.run(t, map[string]any{"user": name, "password": "lost-pass-1", "update_password": "always"}).mustSucceed(t)
	assert.Equal(t, []string{"password"}, r.changes())
	_, err := f.srv.Login(name, "lost-pass-1")
	require.NoError(t, err)
}

// rewriteList answers the user list itself: it asks Synapse (with the
// module's own token and query, limit changed to pageSize when not 0), lets
// lie change the page, and sends that. call counts the pages asked for.
func rewriteList(t *testing.T, f *fixture, pageSize int, lie func(call int, page map[string]any)) {
	var mu sync.Mutex
	calls := 0
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/_synapse/admin/v2/users") {
			return false
		}
		mu.Lock()
		calls++
		call := calls
		mu.Unlock()
		q := r.URL.Query()
		if pageSize > 0 {
			q.Set("limit", fmt.Sprint(pageSize))
		}
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		status, out, err := f.srv.Do(http.MethodGet, r.URL.Path+"?"+q.Encode(), token, nil)
		if err != nil || status != http.StatusOK {
			t.Errorf("the real list: %d %v", status, err)
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		page := out.(map[string]any)
		if lie != nil {
			lie(call, page)
		}
		writeJSONAnswer(w, http.StatusOK, page)
		return true
	})
}

// A user list that does not add up fails the run before any write: acted
// on, a user missing from it would be "created" (and its password set), and
// one missing from exclusive mode's count would slip past the threshold.
func TestUserListThatDoesNotAddUp(t *testing.T) {
	f := newFixture(t)
	victim, other := uniqueUser("victim"), uniqueUser("listother")
	f.run(t, map[string]any{"user": victim, "password": "victim-pass-1"}).mustSucceed(t)
	f.run(t, map[string]any{"user": other}).mustSucceed(t)
	victimID := f.srv.UserID(victim)
	without := func(page map[string]any, id string) []any {
		var kept []any
		for _, u := range page["users"].([]any) {
			if u.(map[string]any)["name"] != id {
				kept = append(kept, u)
			}
		}
		return kept
	}
	users := []any{
		map[string]any{"username": victim, "password": "not-the-victims-1"},
		map[string]any{"username": uniqueUser("listnew"), "password": "new-pass-1"},
	}
	for name, tc := range map[string]struct {
		lie  func(call int, page map[string]any)
		want string
	}{
		"short of its total": {func(_ int, page map[string]any) { page["users"] = without(page, victimID) }, "the user list ends after"},
		"a user twice": {func(_ int, page map[string]any) {
			list := without(page, victimID)
			page["users"] = append(list, list[0])
		}, "twice"},
		"a user of another server": {func(_ int, page map[string]any) {
			for _, u := range page["users"].([]any) {
				if m := u.(map[string]any); m["name"] == victimID {
					m["name"] = "@" + victim + ":evil.example"
				}
			}
		}, `the user list holds "@` + victim + `:evil.example", which is no user of this homeserver`},
		"an empty page that says more follow": {func(_ int, page map[string]any) {
			page["users"], page["next_token"] = []any{}, "1000"
		}, "page 1 of the user list is empty but says more follow"},
		"no total": {func(_ int, page map[string]any) { delete(page, "total") }, "has no total"},
	} {
		rewriteList(t, f, 0, tc.lie)
		r := f.run(t, map[string]any{"users": users})
		requireCleanFailure(t, r, "cannot read the user list, so nothing was changed", tc.want)
		f.requireNoWrites(t)
		_, err := f.srv.Login(victim, "victim-pass-1")
		assert.NoError(t, err, "%s: the victim's password is its own", name)
	}
	f.proxy.SetFault(nil)

	// A list consistently short (the victim left out, the total lowered
	// to match) passes as a list; the create then finds the account, and
	// its password is still not touched.
	rewriteList(t, f, 0, func(_ int, page map[string]any) {
		page["users"] = without(page, victimID)
		page["total"] = page["total"].(float64) - 1
	})
	r := f.run(t, map[string]any{"users": users}).mustSucceed(t)
	f.proxy.SetFault(nil)
	assert.Equal(t, "unchanged", r.batchUsers()[victimID]["action"])
	assert.Contains(t, fmt.Sprint(r.batchUsers()[victimID]["warnings"]), "so the declared password was not set")
	_, err := f.srv.Login(victim, "victim-pass-1")
	assert.NoError(t, err)
}

// Accounts registered while the list is paged shift Synapse's offsets (it
// pages by offset in name order): the run stops before any write and says
// to rerun, and the rerun reads the pages whole.
func TestUserListChangedWhileReadSaysRerun(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	for i := 0; i < 7; i++ {
		_, err := srv.Register(fmt.Sprintf("paged-%d", i), "paged-pass-1", false)
		require.NoError(t, err)
	}
	users := []any{map[string]any{"username": "paged-3", "displayname": "Three"}, map[string]any{"username": "paged-new", "password": "paged-pass-2"}}
	// Pages of 3 (Synapse pages them itself); after the first, someone
	// registers an account that sorts before every other.
	rewriteList(t, f, 3, func(call int, _ map[string]any) {
		if call == 1 {
			if _, err := srv.Register("a-newcomer", "newcomer-pass-1", false); err != nil {
				t.Errorf("registering: %v", err)
			}
		}
	})
	r := f.run(t, map[string]any{"users": users})
	requireCleanFailure(t, r, "the user list changed while it was read", "nothing was changed: rerun", "page 1 counted 8 accounts, page 2 counted 9")
	f.requireNoWrites(t)

	rewriteList(t, f, 3, nil)
	r = f.run(t, map[string]any{"users": users}).mustSucceed(t)
	f.proxy.SetFault(nil)
	assert.Equal(t, "updated", r.batchUsers()[srv.UserID("paged-3")]["action"])
	assert.Equal(t, "created", r.batchUsers()[srv.UserID("paged-new")]["action"])
	assert.Equal(t, 3, countContaining(pathsOf(f), "/_synapse/admin/v2/users"), "9 accounts in pages of 3")
}

func pathsOf(f *fixture) []string {
	var out []string
	for _, r := range f.proxy.Requests() {
		if r.Method == http.MethodGet {
			out = append(out, r.Path)
		}
	}
	return out
}
