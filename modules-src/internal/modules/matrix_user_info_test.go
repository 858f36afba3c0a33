package modules

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/audit"
	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/mas"
	"github.com/mxadmin/synapse/modules-src/internal/session"
	"github.com/mxadmin/synapse/modules-src/internal/wiretest"
)

// The info job on a MAS session reads MAS's user list, and nothing else
// (no session list without inactive_for, no Synapse request). The run
// against the real pair is tests/e2e TestWithMASInfo.
func TestInfoJobReadsMAS(t *testing.T) {
	srv := wiretest.New(t)
	srv.Handle(http.MethodPost, "/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "mat_unit", "expires_in": 300})
	})
	srv.Handle(http.MethodGet, "/api/admin/v1/users", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"count": 2}, "data": []any{
			map[string]any{"type": "user", "id": "01A", "attributes": map[string]any{"username": "alice", "admin": true, "created_at": "2026-01-02T03:04:05Z"},
				"meta": map[string]any{"page": map[string]any{"cursor": "01A"}}},
			map[string]any{"type": "user", "id": "01B", "attributes": map[string]any{"username": "bob", "deactivated_at": "2026-01-03T00:00:00Z", "created_at": "2026-01-02T03:04:05Z"},
				"meta": map[string]any{"page": map[string]any{"cursor": "01B"}}},
		}, "links": map[string]any{}})
	})
	c, err := mas.New(mas.Config{Config: httpapi.Config{BaseURL: srv.URL(), Timeout: 5 * time.Second}, ClientID: "id", ClientSecret: "secret"})
	require.NoError(t, err)
	c.ReadOnly()
	deactivated := false
	j := &infoJob{filter: audit.Filter{Deactivated: &deactivated}, conc: 4, users: []userRef{{localpart: "alice"}, {localpart: "carol"}}}
	res, err := j.Do(context.Background(), &session.Session{MAS: c, ServerName: "example.org"})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Fields["listed"])
	assert.Equal(t, []string{"@carol:example.org"}, res.Fields["missing"])
	assert.Contains(t, res.Msg, "1 of the 2 accounts of example.org match")
	for _, r := range srv.Requests() {
		assert.Contains(t, []string{"POST /oauth2/token", "GET /api/admin/v1/users"}, r.String())
	}
}
