package synapse

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/wiretest"
)

// The registration-token endpoints' wire tests (tokens.go), listed in wired
// here so that the shared list stays as it was.
func init() {
	wired = append(wired, "RegistrationTokens", "RegistrationToken", "CreateRegistrationToken",
		"UpdateRegistrationToken", "DeleteRegistrationToken")
}

// wireToken is a value with the characters Synapse allows beyond letters
// and digits; none of them is escaped in a path segment.
const wireToken = "in.vite~A_b-1"

func TestWireRegistrationTokens(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/registration_tokens", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.Token(t, r, "wire-token")
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"registration_tokens": []any{
			map[string]any{"token": wireToken, "uses_allowed": 3, "pending": 1, "completed": 2, "expiry_time": 1796295557185},
			map[string]any{"token": "open", "uses_allowed": nil, "pending": 0, "completed": 0, "expiry_time": nil},
		}})
	})
	got, err := c.RegistrationTokens(context.Background())
	require.NoError(t, err)
	three, expiry := int64(3), int64(1796295557185)
	assert.Equal(t, []RegistrationToken{
		{Token: wireToken, UsesAllowed: &three, Pending: 1, Completed: 2, ExpiryTime: &expiry},
		{Token: "open"},
	}, got)
}

// An answer without the list is not Synapse's: an empty list would make
// exclusive mode believe there is nothing to delete, and every declared
// token missing.
func TestWireRegistrationTokensRefusesAnotherAnswer(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/registration_tokens", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"tokens": []any{}})
	})
	_, err := c.RegistrationTokens(context.Background())
	var foreign *ResponseError
	require.ErrorAs(t, err, &foreign)
}

func TestWireRegistrationToken(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/registration_tokens/"+wireToken, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"token": wireToken, "uses_allowed": 0, "pending": 0, "completed": 5, "expiry_time": nil})
	})
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/registration_tokens/a%2Fb", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_NOT_FOUND", "error": "No such registration token: a/b"})
	})
	got, err := c.RegistrationToken(context.Background(), wireToken)
	require.NoError(t, err)
	zero := int64(0)
	assert.Equal(t, &RegistrationToken{Token: wireToken, UsesAllowed: &zero, Completed: 5}, got)
	got, err = c.RegistrationToken(context.Background(), "a/b")
	require.NoError(t, err)
	assert.Nil(t, got, "a token that does not exist is nil, and a / in it stays in its path segment")
}

func TestWireCreateRegistrationToken(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPost, "/_synapse/admin/v1/registration_tokens/new", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		// Synapse answers 200, not 201.
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"token": wireToken, "uses_allowed": 0, "pending": 0, "completed": 0, "expiry_time": 1796295557185})
	})
	zero, expiry := int64(0), int64(1796295557185)
	got, maybe, err := c.CreateRegistrationToken(context.Background(), NewRegistrationToken{Token: wireToken, UsesAllowed: &zero, ExpiryTime: &expiry})
	require.NoError(t, err)
	assert.False(t, maybe)
	assert.Equal(t, wireToken, got.Token)
	_, _, err = c.CreateRegistrationToken(context.Background(), NewRegistrationToken{Token: "open"})
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.JSONEq(t, `{"token":"in.vite~A_b-1","uses_allowed":0,"expiry_time":1796295557185}`, string(reqs[0].Body), "0 is sent")
	assert.JSONEq(t, `{"token":"open"}`, string(reqs[1].Body), "unlimited and never are Synapse's defaults: not sent")
}

// A create whose answer was lost, retried and refused as a duplicate may
// have been made by the lost attempt: maybe, not an error.
func TestWireCreateRegistrationTokenAnswerLost(t *testing.T) {
	t.Parallel()
	srv := wiretest.New(t)
	c, err := New(Config{BaseURL: srv.URL(), Token: "wire-token", Retries: 2, Timeout: 5 * time.Second})
	require.NoError(t, err)
	var n atomic.Int32
	srv.Handle(http.MethodPost, "/_synapse/admin/v1/registration_tokens/new", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			wiretest.WriteJSON(w, http.StatusBadGateway, map[string]any{})
			return
		}
		wiretest.WriteJSON(w, http.StatusBadRequest, map[string]any{"errcode": "M_INVALID_PARAM", "error": "Token already exists: x"})
	})
	got, maybe, err := c.CreateRegistrationToken(context.Background(), NewRegistrationToken{Token: "x"})
	require.NoError(t, err)
	assert.True(t, maybe)
	assert.Nil(t, got)

	// Without a lost answer, a duplicate is an error.
	srv2 := wiretest.New(t)
	c2, err := New(Config{BaseURL: srv2.URL(), Token: "wire-token", Retries: 2, Timeout: 5 * time.Second})
	require.NoError(t, err)
	srv2.Handle(http.MethodPost, "/_synapse/admin/v1/registration_tokens/new", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusBadRequest, map[string]any{"errcode": "M_INVALID_PARAM", "error": "Token already exists: x"})
	})
	_, maybe, err = c2.CreateRegistrationToken(context.Background(), NewRegistrationToken{Token: "x"})
	assert.True(t, HasErrcode(err, ErrcodeInvalidParam))
	assert.False(t, maybe)
}

func TestWireUpdateRegistrationToken(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPut, "/_synapse/admin/v1/registration_tokens/"+wireToken, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"token": wireToken, "uses_allowed": 5, "pending": 0, "completed": 1, "expiry_time": nil})
	})
	five := int64(5)
	got, err := c.UpdateRegistrationToken(context.Background(), wireToken, RegistrationTokenUpdate{"uses_allowed": &five, "expiry_time": nil})
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Completed)
	_, err = c.UpdateRegistrationToken(context.Background(), wireToken, RegistrationTokenUpdate{"uses_allowed": nil})
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.JSONEq(t, `{"uses_allowed":5,"expiry_time":null}`, string(reqs[0].Body), "null means never")
	assert.JSONEq(t, `{"uses_allowed":null}`, string(reqs[1].Body), "only the keys given: null means unlimited")
}

func TestWireDeleteRegistrationToken(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodDelete, "/_synapse/admin/v1/registration_tokens/"+wireToken, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	require.NoError(t, c.DeleteRegistrationToken(context.Background(), wireToken))
}
