package modules

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/session"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
	"github.com/mxadmin/synapse/modules-src/internal/wiretest"
)

// fakeSynapse answers what opening a session asks (the MAS probes, a
// login, whoami, the devices of the admin, the logout) and records it. The
// skeleton's handling of the session is tested here; a real Synapse's in
// the e2e suite.
func fakeSynapse(t *testing.T) *wiretest.Server {
	srv := wiretest.New(t)
	unrecognized := func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
	}
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/register", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"nonce": "n"})
	})
	srv.Handle(http.MethodGet, "/_matrix/client/v1/auth_metadata", unrecognized)
	srv.Handle(http.MethodGet, "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata", unrecognized)
	srv.Handle(http.MethodGet, "/_matrix/client/unstable/org.matrix.msc2965/auth_issuer", unrecognized)
	srv.Handle(http.MethodPost, "/_matrix/client/v3/login", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"user_id": "@admin:test", "access_token": "skeleton-login-token", "device_id": "D"})
	})
	srv.Handle(http.MethodGet, "/_matrix/client/v3/account/whoami", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"user_id": "@admin:test"})
	})
	srv.Handle(http.MethodGet, "/_synapse/admin/v2/users/@admin:test/devices", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"devices": []any{}})
	})
	srv.Handle(http.MethodPost, "/_matrix/client/v3/logout", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	srv.Handle(http.MethodPost, "/_synapse/admin/v1/deactivate/@bob:test", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	return srv
}

// jobFunc is a Job made of a function.
type jobFunc func(ctx context.Context, s *session.Session) (ansible.Result, error)

func (f jobFunc) Do(ctx context.Context, s *session.Session) (ansible.Result, error) {
	return f(ctx, s)
}

// testModule is a module whose job is do.
func testModule(do jobFunc) Module {
	return Module{
		Name:    "test",
		Spec:    func() ansible.Spec { return ansible.Spec{Module: "mxadmin.synapse.test"} },
		Prepare: func(*Input) (Job, error) { return do, nil },
	}
}

func runTestModule(t *testing.T, m Module, raw map[string]any, run Run) ansible.Result {
	t.Helper()
	p, _, err := ansible.Validate(m.fullSpec(), raw)
	require.NoError(t, err)
	return m.run(context.Background(), p, run)
}

func paths(reqs []wiretest.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.String()
	}
	return out
}

// The skeleton opens and closes the session for every module: a login is
// logged out however the job ends (a result, an error, a panic), the
// connection's and the job's warnings are kept, and in check mode the
// client refuses every write.
func TestSkeletonSession(t *testing.T) {
	login := func(srv *wiretest.Server) map[string]any {
		return map[string]any{"homeserver_url": srv.URL(), "admin_user": "admin", "admin_password": "skeleton-pass", "validate_certs": false, "retries": 0}
	}
	t.Run("a result", func(t *testing.T) {
		srv := fakeSynapse(t)
		res := runTestModule(t, testModule(func(context.Context, *session.Session) (ansible.Result, error) {
			return ansible.Result{Msg: "done", Warnings: []string{"job warning"}}, nil
		}), login(srv), Run{})
		assert.False(t, res.Failed)
		require.Len(t, res.Warnings, 2)
		assert.Contains(t, res.Warnings[0], "validate_certs is false", "the connection's warning first")
		assert.Equal(t, "job warning", res.Warnings[1])
		assert.Contains(t, paths(srv.Requests()), "POST /_matrix/client/v3/logout")
	})
	t.Run("an error", func(t *testing.T) {
		srv := fakeSynapse(t)
		res := runTestModule(t, testModule(func(context.Context, *session.Session) (ansible.Result, error) {
			return ansible.Result{}, errors.New("the job failed")
		}), login(srv), Run{})
		assert.True(t, res.Failed)
		assert.Equal(t, "the job failed", res.Msg)
		assert.Len(t, res.Warnings, 1, "the warnings gathered so far")
		assert.Contains(t, paths(srv.Requests()), "POST /_matrix/client/v3/logout")
	})
	t.Run("a panic", func(t *testing.T) {
		srv := fakeSynapse(t)
		assert.Panics(t, func() {
			runTestModule(t, testModule(func(context.Context, *session.Session) (ansible.Result, error) {
				panic("a bug")
			}), login(srv), Run{})
		})
		assert.Contains(t, paths(srv.Requests()), "POST /_matrix/client/v3/logout", "Main reports the panic; the login is logged out first")
	})
	t.Run("check mode", func(t *testing.T) {
		srv := fakeSynapse(t)
		res := runTestModule(t, testModule(func(ctx context.Context, s *session.Session) (ansible.Result, error) {
			return ansible.Result{}, s.Client.Deactivate(ctx, "@bob:test", false)
		}), login(srv), Run{CheckMode: true})
		assert.True(t, res.Failed)
		assert.ErrorContains(t, synapse.ErrReadOnly, "check-mode run tried to send a write")
		assert.Contains(t, res.Msg, "check-mode run tried to send a write")
		assert.NotContains(t, paths(srv.Requests()), "POST /_synapse/admin/v1/deactivate/@bob:test")
		assert.NotContains(t, paths(srv.Requests()), "GET /_synapse/admin/v2/users/@admin:test/devices", "no cleanup of stale devices either")
		assert.Contains(t, paths(srv.Requests()), "POST /_matrix/client/v3/logout")
	})
}
