package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// What differs between Synapse releases. make test runs the whole suite
// against the pinned Synapse and the oldest supported one (make e2e
// SYNAPSE_VERSION=...); the tests here take each release as it is, and the
// module finds out what the server can do by asking it, never by version.

// canLock reports whether the Synapse under test can lock users (1.91 on).
func canLock(t *testing.T) bool { return synapsetest.AtLeast(t, 1, 91) }

// requireLockRefused checks a run that declared locked: true against a
// Synapse that cannot lock: refused with a clear message, nothing written.
func requireLockRefused(t *testing.T, f *fixture, r Run) {
	t.Helper()
	assert.True(t, r.failed())
	assert.Contains(t, r.msg()+fmt.Sprint(r.Result["users"]), "cannot lock users")
	assert.Contains(t, r.msg()+fmt.Sprint(r.Result["users"]), "1.91")
	assert.Empty(t, f.proxy.Writes(), "nothing sent for a lock the server cannot do")
}

// masConfig is Synapse's configuration for delegating auth to MAS at
// endpoint, written the way the release under test takes it: the
// matrix_authentication_service section from 1.136, the experimental
// msc3861 section before (which needs the issuer and a client of MAS).
func masConfig(t *testing.T, endpoint string) string {
	if synapsetest.AtLeast(t, 1, 136) {
		return "matrix_authentication_service:\n  enabled: true\n  endpoint: \"" + endpoint + "\"\n  secret: \"mas-shared-secret-for-tests\"\n"
	}
	return "experimental_features:\n  msc3861:\n    enabled: true\n    issuer: \"" + endpoint + "\"\n" +
		"    client_id: \"0000000000000000000SYNAPSE\"\n    client_auth_method: client_secret_basic\n" +
		"    client_secret: \"mas-client-secret-for-tests\"\n    admin_token: \"mas-shared-secret-for-tests\"\n"
}

// A Synapse whose MAS is down still shows the delegation (its admin API
// lacks the registration endpoint), and the 5xx of its metadata endpoint
// does not stall the run in retries.
func TestMASRefusedWhenMASIsUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + l.Addr().String() + "/"
	l.Close()
	srv := synapsetest.New(t, synapsetest.Config{PasswordLoginDisabled: true, Extra: masConfig(t, dead)})
	p := synapsetest.NewProxy(srv.URL, "")
	defer p.Close()
	for _, auth := range []map[string]any{
		{"admin_token": "mas-shared-secret-for-tests"},
		{"service_account": "", "registration_shared_secret": srv.SharedSecret, "password": "some-password-1"},
	} {
		p.Reset()
		r := runModule(t, "matrix_user", merge(map[string]any{"homeserver_url": p.URL, "user": "someone", "retries": 3}, auth))
		assert.True(t, r.failed())
		assert.Contains(t, r.msg(), "delegates authentication to Matrix Authentication Service")
		assert.Empty(t, p.Writes(), "refused before any write")
	}
}

// A JSON 5xx from a MAS probe (an overloaded proxy, a Synapse error) is no
// proof of MAS: the run fails saying it cannot tell, and writes nothing.
func TestMASProbeServerErrorIsNotMAS(t *testing.T) {
	f := newFixture(t)
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/auth_metadata") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"Internal server error"}`))
			return true
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	name := uniqueUser("mas5xx")
	r := f.run(t, map[string]any{"user": name, "password": "mas-5xx-pass-1"})
	requireCleanFailure(t, r, "cannot tell whether it delegates authentication", "500")
	assert.NotContains(t, r.msg(), "its accounts and passwords live in MAS")
	f.requireNoWrites(t)
	assert.Nil(t, f.read(t, name))
}

// update_password: always never sends a password it could not compare:
// doing so would log the user out and report a change on every run.
func TestPasswordNeverSentUncompared(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("blind")
	f.run(t, map[string]any{"user": name, "password": "blind-pass-1"}).mustSucceed(t)
	for what, fault := range map[string]func(w http.ResponseWriter){
		"an answer without the user": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[]`))
		},
		"null, as Synapse before 1.95 answers an empty term": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`null`))
		},
		"a server error": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"Internal server error"}`))
		},
	} {
		f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/search_users/") {
				fault(w)
				return true
			}
			return false
		})
		r := f.run(t, map[string]any{"user": name, "password": "blind-pass-2", "update_password": "always"})
		f.proxy.SetFault(nil)
		assert.True(t, r.failed(), what)
		assert.Contains(t, r.msg(), "update_password: always", what)
		assert.Contains(t, r.msg(), "nothing was sent", what)
		assert.Empty(t, f.proxy.Writes(), what)
	}
	_, err := f.srv.Login(name, "blind-pass-1")
	require.NoError(t, err, "the password was left as it was")
}

// Hashes of a few users and of many are read on every release (before 1.95
// search_users answers null to the empty term): a rerun with the same
// passwords sends nothing, and a changed password is set.
func TestPasswordsComparedFewAndMany(t *testing.T) {
	f := newFixture(t)
	for _, n := range []int{2, 12} {
		p := uniqueUser("cmp")
		var users []any
		for i := 0; i < n; i++ {
			users = append(users, map[string]any{"username": fmt.Sprintf("%s-%02d", p, i), "password": fmt.Sprintf("cmp-pass-%d", i), "update_password": "always"})
		}
		f.run(t, map[string]any{"users": users}).mustSucceed(t)
		r := f.run(t, map[string]any{"users": users}).mustSucceed(t)
		assert.False(t, r.changed(), "%d users", n)
		f.requireNoWrites(t)
		assert.Empty(t, r.warnings(), "%d users", n)
		searches := 0
		for _, req := range f.proxy.Requests() {
			if strings.Contains(req.Path, "/search_users/") {
				searches++
			}
		}
		if n > 8 {
			assert.Equal(t, 1, searches, "many users: every hash in one request")
		} else {
			assert.Equal(t, n, searches, "a few users: one request each")
		}

		users[1] = map[string]any{"username": fmt.Sprintf("%s-%02d", p, 1), "password": "cmp-pass-new", "update_password": "always"}
		r = f.run(t, map[string]any{"users": users}).mustSucceed(t)
		assert.Equal(t, 1, r.summary()["updated"], "%d users: only the changed password is set", n)
		assert.Equal(t, n-1, r.summary()["unchanged"], "%d users", n)
	}
}

// Whether a user is locked is read from the user itself where the list
// does not say (Synapse 1.91 and 1.92); where Synapse cannot lock at all
// (before 1.91), locked: true is refused for that user only, and locked:
// false is what every user already is.
func TestLockedWhereTheListDoesNotSay(t *testing.T) {
	f := newFixture(t)
	p := uniqueUser("lk")
	users := []any{
		map[string]any{"username": p + "-a", "locked": false, "displayname": "A"},
		map[string]any{"username": p + "-b", "displayname": "B"},
	}
	f.run(t, map[string]any{"users": users}).mustSucceed(t)
	if !canLock(t) {
		r := f.run(t, map[string]any{"users": users}).mustSucceed(t)
		assert.False(t, r.changed())
		f.requireNoWrites(t)
		users[1] = map[string]any{"username": p + "-b", "locked": true, "displayname": "B2"}
		users[0] = map[string]any{"username": p + "-a", "locked": false, "displayname": "A2"}
		r = f.run(t, map[string]any{"users": users})
		assert.True(t, r.failed())
		got := r.batchUsers()
		assert.Equal(t, "updated", got[f.srv.UserID(p+"-a")]["action"], "the other user is applied")
		assert.Contains(t, fmt.Sprint(got[f.srv.UserID(p+"-b")]["error"]), "cannot lock users")
		assert.Equal(t, "B", f.read(t, p+"-b")["displayname"], "nothing sent for the refused user")
		return
	}
	// The list of Synapse 1.91 and 1.92: no "locked" in it.
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/_synapse/admin/v2/users" {
			return false
		}
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+r.URL.RequestURI(), nil)
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := f.srv.HTTPClient().Do(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var page map[string]any
		if json.Unmarshal(body, &page) == nil {
			list, _ := page["users"].([]any)
			for _, u := range list {
				delete(u.(map[string]any), "locked")
			}
			body, _ = json.Marshal(page)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
		return true
	})
	defer f.proxy.SetFault(nil)
	users[1] = map[string]any{"username": p + "-b", "locked": true}
	r := f.run(t, map[string]any{"users": users}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, true, f.read(t, p+"-b")["locked"])
	r = f.run(t, map[string]any{"users": users}).mustSucceed(t)
	assert.False(t, r.changed(), "a locked user is not locked again on every run")
	f.requireNoWrites(t)
}

// Synapse 1.140.x cannot hash a password that is, with the pepper, longer
// than 72 bytes (bcrypt 5 raises; fixed in 1.141): its 500 gets a message
// that names the bug. The proxy answers as 1.140 does (checked against a
// real 1.140.0: {"errcode":"M_UNKNOWN","error":"Internal server error"}).
func TestPasswordOver72BytesOnSynapse1140(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("long-password-", 6) // 84 bytes
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/_synapse/admin/v2/users/") {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		if pw, _ := m["password"].(string); len(pw) <= 72 {
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"Internal server error"}`))
		return true
	})
	defer f.proxy.SetFault(nil)
	recordSecrets(long)
	r := f.run(t, map[string]any{"user": uniqueUser("long"), "password": long, "retries": 0})
	requireCleanFailure(t, r, "Synapse 1.140.x", "1.141", "72 bytes")
	r = f.run(t, map[string]any{"user": uniqueUser("short"), "password": "short-pass-1", "retries": 0}).mustSucceed(t)
	assert.True(t, r.changed())
}
