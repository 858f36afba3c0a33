package synapse

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A rate limit twice, then the answer: two retries, both 429, with a line
// each that names method and path (base path included) but no query.
func TestRetriesAreCounted(t *testing.T) {
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/matrix/_synapse/admin/v2/users/", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 20})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": "@a:test"})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	log := NewRetryLog()
	u, err := testClient(t, srv.URL+"/matrix", nil).GetUser(WithRetryLog(context.Background(), log), "@a:test")
	require.NoError(t, err)
	assert.Equal(t, "@a:test", u.Name)
	assert.Equal(t, map[string]int{"total": 2, "429": 2, "connection": 0}, log.Counts())
	lines := log.Lines()
	require.Len(t, lines, 2)
	for _, l := range lines {
		assert.Regexp(t, `^GET /matrix/_synapse/admin/v2/users/@a:test: 429, waited [0-9.]+m?s$`, l)
	}
}

// Every cause is counted under its name; a request without a log, and a
// log nobody wrote to, count nothing.
func TestRetryCauses(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{})
		case 2:
			writeJSON(w, http.StatusBadGateway, map[string]any{})
		case 3:
			// An answer cut short (a connection closed before any byte
			// is retried by net/http itself, unseen).
			conn, buf, _ := w.(http.Hijacker).Hijack()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"users\": [")
			_ = buf.Flush()
			conn.Close()
		default:
			writeJSON(w, http.StatusOK, map[string]any{"users": []any{}, "total": 0})
		}
	}))
	defer srv.Close()
	log := NewRetryLog()
	_, err := testClient(t, srv.URL, nil).ListUsers(WithRetryLog(context.Background(), log), 10)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"total": 3, "429": 0, "503": 1, "502": 1, "connection": 1}, log.Counts())
	for _, l := range log.Lines() {
		assert.NotContains(t, l, "?", "no query string")
		assert.NotContains(t, l, "limit=", "no query string")
	}
	assert.Contains(t, log.Lines()[2], "GET /_synapse/admin/v2/users: no answer, waited")

	calls.Store(0)
	_, err = testClient(t, srv.URL, nil).ListUsers(context.Background(), 10)
	require.NoError(t, err, "a request without a RetryLog is retried the same")
	assert.Equal(t, map[string]int{"total": 0, "429": 0, "connection": 0}, NewRetryLog().Counts())
	assert.Equal(t, []string{}, NewRetryLog().Lines())
	var none *RetryLog
	assert.Equal(t, 0, none.Counts()["total"])
	assert.Equal(t, []string{}, none.Lines())
}

// Registration retries its nonce and POST as a pair, counted once per pair.
func TestRegisterRetriesAreCounted(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			writeJSON(w, http.StatusOK, map[string]any{"nonce": "n"})
			return
		}
		if posts.Add(1) == 1 {
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 10})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user_id": "@bob:test"})
	}))
	defer srv.Close()
	log := NewRetryLog()
	_, err := testClient(t, srv.URL, nil).Register(WithRetryLog(context.Background(), log), "s3cret", Registration{Localpart: "bob", Password: "pw"})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"total": 1, "429": 1, "connection": 0}, log.Counts())
	require.Len(t, log.Lines(), 1)
	assert.True(t, strings.HasPrefix(log.Lines()[0], "POST /_synapse/admin/v1/register: 429, waited"), log.Lines()[0])
}
