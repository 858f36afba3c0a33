package modules

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/wiretest"
)

// fakeMASPair is one server that answers as a Synapse delegating to MAS
// (its shared-secret registration is not there) and as that MAS: the token
// grant, the site config and the registration tokens given. The real pair
// is tests/e2e's (TestWithMASRegistrationToken); this pins which client
// the module picks and what it sends.
func fakeMASPair(t *testing.T, tokens ...any) *wiretest.Server {
	srv := wiretest.New(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/register", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
	})
	srv.Handle(http.MethodPost, "/oauth2/token", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "mat_unitgrant", "expires_in": 300})
	})
	srv.Handle(http.MethodGet, "/api/admin/v1/site-config", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"server_name": "test"})
	})
	srv.Handle(http.MethodGet, "/api/admin/v1/user-registration-tokens", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": tokens, "links": map[string]any{}})
	})
	return srv
}

func masUnitToken(id, value string, revoked bool) map[string]any {
	var at any
	if revoked {
		at = "2026-01-01T00:00:00Z"
	}
	return map[string]any{"type": "user-registration_token", "id": id, "attributes": map[string]any{"token": value,
		"usage_limit": 1, "times_used": 1, "expires_at": nil, "revoked_at": at}}
}

// On MAS, state: absent revokes, a revoked token declared present is
// unrevoked and set, and values stay masked; check mode only reads.
func TestRegistrationTokenModuleOnMAS(t *testing.T) {
	srv := fakeMASPair(t, masUnitToken("01LIVE", "unit-live-value", false), masUnitToken("01OLD", "unit-old-value", true))
	srv.Handle(http.MethodPost, "/api/admin/v1/user-registration-tokens/01LIVE/revoke", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": masUnitToken("01LIVE", "unit-live-value", true)})
	})
	srv.Handle(http.MethodPost, "/api/admin/v1/user-registration-tokens/01OLD/unrevoke", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": masUnitToken("01OLD", "unit-old-value", false)})
	})
	srv.Handle(http.MethodPut, "/api/admin/v1/user-registration-tokens/01OLD", func(w http.ResponseWriter, r *http.Request) {
		wiretest.JSONBody(t, r, `{"usage_limit":2}`)
		tok := masUnitToken("01OLD", "unit-old-value", false)
		tok["attributes"].(map[string]any)["usage_limit"] = 2
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": tok})
	})
	args := map[string]any{"_mxadmin_module": "matrix_registration_token", "homeserver_url": srv.URL(), "mas_url": srv.URL(),
		"mas_client_id": "unit-client", "mas_client_secret": "unit-client-secret", "retries": 0, "_ansible_diff": true,
		"tokens": []any{
			map[string]any{"token": "unit-live-value", "state": "absent"},
			map[string]any{"token": "unit-old-value", "uses_allowed": 2},
		}}
	writes := func() []string {
		var out []string
		for _, r := range srv.Writes() {
			if r.Path != "/oauth2/token" {
				out = append(out, r.String())
			}
		}
		return out
	}

	args["_ansible_check_mode"] = true
	res := runModule(t, args)
	require.NotEqual(t, true, res["failed"], res)
	assert.Equal(t, "registration tokens: 1 would be created, 1 would be deleted", res["msg"])
	assert.Empty(t, writes(), "check mode writes nothing")

	srv.Reset()
	args["_ansible_check_mode"] = false
	res = runModule(t, args)
	require.NotEqual(t, true, res["failed"], res)
	assert.Equal(t, true, res["changed"])
	assert.Equal(t, []string{
		"POST /api/admin/v1/user-registration-tokens/01LIVE/revoke",
		"POST /api/admin/v1/user-registration-tokens/01OLD/unrevoke",
		"PUT /api/admin/v1/user-registration-tokens/01OLD",
	}, writes())
	toks := resultTokens(t, res)
	assert.Equal(t, "deleted", toks[0]["action"])
	assert.Equal(t, "created", toks[1]["action"])
	assert.EqualValues(t, 2, toks[1]["uses_allowed"])
	assert.EqualValues(t, 1, toks[1]["completed"], "MAS's times_used")
	data, err := json.Marshal(res)
	require.NoError(t, err)
	out := string(data)
	for _, secret := range []string{"unit-live-value", "unit-old-value", "mat_unitgrant", "unit-client-secret"} {
		assert.NotContains(t, out, secret)
	}
	assert.False(t, strings.Contains(out, "registration_tokens"), "nothing of Synapse's token API")
}
