package tokens

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/mas"
	"github.com/mxadmin/synapse/modules-src/internal/wiretest"
)

// The MAS client's happy paths are proven against the real MAS
// (tests/e2e TestWithMASRegistrationToken); these are the races and lost
// answers a real MAS does not produce on demand.

func masFixture(t *testing.T) (*MASClient, *wiretest.Server) {
	t.Helper()
	srv := wiretest.New(t)
	srv.Handle(http.MethodPost, "/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "mat_unit", "expires_in": 300})
	})
	c, err := mas.New(mas.Config{Config: httpapi.Config{BaseURL: srv.URL(), Retries: 0, Timeout: 5 * time.Second}, ClientID: "id", ClientSecret: "secret"})
	require.NoError(t, err)
	return NewMASClient(c), srv
}

func masToken(id, value string, revoked bool, limit any) map[string]any {
	var at any
	if revoked {
		at = "2026-01-01T00:00:00Z"
	}
	return map[string]any{"type": "user-registration_token", "id": id, "attributes": map[string]any{"token": value,
		"usage_limit": limit, "times_used": 1, "expires_at": nil, "revoked_at": at}}
}

func listing(tokens ...any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": tokens, "links": map[string]any{}})
	}
}

const tokensPath = "/api/admin/v1/user-registration-tokens"

func TestMASListHidesRevoked(t *testing.T) {
	t.Parallel()
	c, srv := masFixture(t)
	srv.Handle(http.MethodGet, tokensPath, listing(masToken("01A", "open", false, nil), masToken("01B", "gone", true, 3)))
	got, err := c.List(context.Background())
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, Token{Value: "open", Completed: 1}, got[0])
}

// A token revoked meanwhile by someone else (MAS: 400 already revoked) is
// what state: absent asked for.
func TestMASDeleteRevokedMeanwhile(t *testing.T) {
	t.Parallel()
	c, srv := masFixture(t)
	srv.Handle(http.MethodGet, tokensPath, listing(masToken("01A", "open", false, nil)))
	_, err := c.List(context.Background())
	require.NoError(t, err)
	srv.Handle(http.MethodGet, tokensPath, listing(masToken("01A", "open", true, nil)))
	srv.Handle(http.MethodPost, tokensPath+"/01A/revoke", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusBadRequest, map[string]any{"errors": []any{map[string]any{"title": "Registration token with ID 01A is already revoked"}}})
	})
	require.NoError(t, c.Delete(context.Background(), "open"))

	// Another 400, on a token still not revoked, is a failure, and nothing was applied.
	srv.Handle(http.MethodGet, tokensPath, listing(masToken("01A", "open", false, nil)))
	err = c.Delete(context.Background(), "open")
	require.Error(t, err)
	assert.False(t, c.MayHaveApplied(err))
}

// A declared token that is revoked is unrevoked, then set; when setting
// fails, the unrevoke was still applied, and the error says so.
func TestMASCreateUnrevokes(t *testing.T) {
	t.Parallel()
	c, srv := masFixture(t)
	srv.Handle(http.MethodGet, tokensPath, listing(masToken("01B", "back", true, 3)))
	_, err := c.List(context.Background())
	require.NoError(t, err)
	srv.Handle(http.MethodPost, tokensPath+"/01B/unrevoke", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": masToken("01B", "back", false, 3)})
	})
	srv.Handle(http.MethodPut, tokensPath+"/01B", func(w http.ResponseWriter, r *http.Request) {
		wiretest.JSONBody(t, r, `{"usage_limit":5}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": masToken("01B", "back", false, 5)})
	})
	five := int64(5)
	got, maybe, err := c.Create(context.Background(), Token{Value: "back", UsesAllowed: &five})
	require.NoError(t, err)
	assert.False(t, maybe)
	assert.Equal(t, int64(5), *got.UsesAllowed)
	for _, r := range srv.Writes() {
		assert.NotEqual(t, "POST "+tokensPath, r.String(), "no create for a value MAS has")
	}

	srv.Handle(http.MethodPut, tokensPath+"/01B", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": []any{map[string]any{"title": "bad"}}})
	})
	_, _, err = c.Create(context.Background(), Token{Value: "back", UsesAllowed: &five})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "it was unrevoked")
	assert.True(t, c.MayHaveApplied(err))
}

// A create whose answer is lost is left for the runner to read back; one
// that met a token made meanwhile (409) fails, saying so.
func TestMASCreateLostOrRaced(t *testing.T) {
	t.Parallel()
	c, srv := masFixture(t)
	srv.Handle(http.MethodGet, tokensPath, listing())
	_, err := c.List(context.Background())
	require.NoError(t, err)
	srv.Handle(http.MethodPost, tokensPath, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	_, maybe, err := c.Create(context.Background(), Token{Value: "new"})
	require.NoError(t, err)
	assert.True(t, maybe)
	srv.Handle(http.MethodPost, tokensPath, func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusConflict, map[string]any{"errors": []any{map[string]any{"title": "A registration token with the same token already exists"}}})
	})
	_, maybe, err = c.Create(context.Background(), Token{Value: "new"})
	require.Error(t, err)
	assert.False(t, maybe)
	assert.Contains(t, err.Error(), "made meanwhile")
}

// Update and Delete address the ID of the value the list read; expiries go
// to MAS in RFC 3339 with the milliseconds, and null removes one.
func TestMASUpdateByID(t *testing.T) {
	t.Parallel()
	c, srv := masFixture(t)
	srv.Handle(http.MethodGet, tokensPath, listing(masToken("01A", "open", false, nil)))
	_, err := c.List(context.Background())
	require.NoError(t, err)
	srv.Handle(http.MethodPut, tokensPath+"/01A", func(w http.ResponseWriter, r *http.Request) {
		wiretest.JSONBody(t, r, `{"expires_at":"2027-01-01T00:00:00.123Z","usage_limit":null}`)
		tok := masToken("01A", "open", false, nil)
		tok["attributes"].(map[string]any)["expires_at"] = "2027-01-01T00:00:00.123+00:00"
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": tok})
	})
	ms := time.Date(2027, 1, 1, 0, 0, 0, 123e6, time.UTC).UnixMilli()
	got, err := c.Update(context.Background(), "open", Change{SetUses: true, SetExpiry: true, ExpiryTime: &ms})
	require.NoError(t, err)
	assert.Equal(t, ms, *got.ExpiryTime)
	_, err = c.Update(context.Background(), "unknown", Change{SetUses: true})
	assert.ErrorContains(t, err, "not in MAS's list")
}
