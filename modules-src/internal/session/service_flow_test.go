package session

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSynapse answers what a session of the service admin asks, with the
// login and registration answers a test scripts; it records the requests.
type fakeSynapse struct {
	mu       sync.Mutex
	logins   []int // statuses of the successive logins (200 once exhausted)
	register int   // status of the registration POST
	admin    bool  // the account's admin flag
	requests []string
}

func (f *fakeSynapse) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	write := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch p := r.URL.Path; {
	case p == "/_synapse/admin/v1/register" && r.Method == http.MethodGet:
		write(200, map[string]any{"nonce": "n"})
	case p == "/_synapse/admin/v1/register":
		if f.register == 200 {
			write(200, map[string]any{"user_id": "@svc:test", "access_token": "reg-token", "device_id": "D"})
			return
		}
		write(f.register, map[string]any{"errcode": "M_USER_IN_USE", "error": "User ID already taken."})
	case p == "/_matrix/key/v2/server":
		write(200, map[string]any{"server_name": "test"})
	case p == "/_matrix/client/v3/login":
		status := 200
		if len(f.logins) > 0 {
			status, f.logins = f.logins[0], f.logins[1:]
		}
		if status != 200 {
			write(status, map[string]any{"errcode": "M_FORBIDDEN", "error": "Invalid username or password"})
			return
		}
		write(200, map[string]any{"user_id": "@svc:test", "access_token": "login-token", "device_id": "D"})
	case p == "/_matrix/client/v3/logout":
		write(200, map[string]any{})
	case p == "/_synapse/admin/v2/users/@svc:test" && r.Method == http.MethodGet:
		if !f.admin {
			write(403, map[string]any{"errcode": "M_FORBIDDEN", "error": "You are not a server admin"})
			return
		}
		write(200, map[string]any{"name": "@svc:test", "admin": true})
	case strings.HasSuffix(p, "/devices"):
		write(200, map[string]any{"devices": []any{}})
	default:
		write(404, map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
	}
}

func (f *fakeSynapse) count(req string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r == req {
			n++
		}
	}
	return n
}

func openFake(t *testing.T, f *fakeSynapse) (*Session, error) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	var secrets []string
	s, err := Open(context.Background(), Options{HomeserverURL: srv.URL, SharedSecret: "secret", ServiceAccount: "svc",
		Timeout: 5 * time.Second, Retries: 0, ValidateCerts: true, AddSecret: func(s string) { secrets = append(secrets, s) }})
	if err == nil {
		assert.Contains(t, secrets, ServicePassword("secret", "test", "svc"), "the derived password is a secret")
	}
	return s, err
}

// Two first runs at once: both logins are refused (no account yet), the
// other run registers first, so this run's registration finds the name
// taken, and one more login gets in.
func TestServiceRaceLosesRegistrationThenLogsIn(t *testing.T) {
	t.Parallel()
	f := &fakeSynapse{logins: []int{403}, register: 400, admin: true}
	s, err := openFake(t, f)
	require.NoError(t, err)
	assert.Equal(t, "@svc:test", s.Me)
	assert.False(t, s.ServiceCreated)
	assert.Equal(t, 2, f.count("POST /_matrix/client/v3/login"))
	s.Close(context.Background())
	assert.Equal(t, 1, f.count("POST /_matrix/client/v3/logout"))
}

// The first run: the login is refused, the registration creates the
// account and logs it in on our device (no second login).
func TestServiceCreatedByRegistration(t *testing.T) {
	t.Parallel()
	f := &fakeSynapse{logins: []int{403}, register: 200, admin: true}
	s, err := openFake(t, f)
	require.NoError(t, err)
	assert.True(t, s.ServiceCreated)
	assert.True(t, s.ChangedService())
	assert.Equal(t, 1, f.count("POST /_matrix/client/v3/login"))
	s.Close(context.Background())
	assert.Equal(t, 1, f.count("POST /_matrix/client/v3/logout"))
}

// An account of that name that is not an admin, even one that takes the
// derived password, is never used: the run logs out and fails.
func TestServiceNotAnAdminRefusedAndLoggedOut(t *testing.T) {
	t.Parallel()
	f := &fakeSynapse{admin: false}
	_, err := openFake(t, f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "@svc:test is not a server admin")
	assert.Equal(t, 1, f.count("POST /_matrix/client/v3/logout"))
	assert.Zero(t, f.count("PUT /_synapse/admin/v1/users/@svc:test/admin"), "never promoted")
}

// The account exists and the derived password does not log in: refused
// after the registration probe, nothing else sent.
func TestServiceRefusedWhenTheDerivedPasswordFails(t *testing.T) {
	t.Parallel()
	f := &fakeSynapse{logins: []int{403, 403}, register: 400, admin: true}
	_, err := openFake(t, f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the service admin @svc:test exists, but the password derived from registration_shared_secret does not log in")
	assert.Zero(t, f.count("POST /_matrix/client/v3/logout"), "no session was made")
}
