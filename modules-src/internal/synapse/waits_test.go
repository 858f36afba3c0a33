package synapse

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A real Synapse never asks a 503 to be retried in an hour; a proxy in
// front of it, or a hostile server, may. Every wait is bounded: a request
// ends within (retries + 1) × timeout plus MaxRetryWait, whatever the status
// and whatever the server asks for.

func TestServerRequestedWaitCappedOnEveryStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header string
		body   string
	}{
		{"503 Retry-After seconds", http.StatusServiceUnavailable, "3600", `{"errcode":"M_UNKNOWN","error":"maintenance"}`},
		{"502 HTML with Retry-After", http.StatusBadGateway, "3600", `<html>bad gateway</html>`},
		{"500 Retry-After as a date", http.StatusInternalServerError, time.Now().Add(3 * time.Hour).UTC().Format(http.TimeFormat), `{"errcode":"M_UNKNOWN","error":"x"}`},
		{"429 Retry-After header", http.StatusTooManyRequests, "3600", `{"errcode":"M_LIMIT_EXCEEDED","error":"slow down"}`},
		{"504 huge retry", http.StatusGatewayTimeout, "99999999999", `{"errcode":"M_UNKNOWN","error":"x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Retry-After", tc.header)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := testClient(t, srv.URL, func(c *Config) { c.MaxRetryWait = 2 * time.Second; c.Retries = 20 })
			start := time.Now()
			_, err := c.Whoami(context.Background())
			require.Error(t, err)
			assert.Less(t, time.Since(start), 10*time.Second, "did not obey the server's hours")
			assert.Equal(t, int32(1), calls.Load(), "a wait longer than the cap fails at once")
			assert.Contains(t, err.Error(), fmt.Sprint(tc.status))
			assert.Contains(t, err.Error(), "not retried: the server asked to wait")
			assert.Contains(t, err.Error(), "waits at most 2s per request")
		})
	}
}

// Short waits are obeyed, but only while their sum fits in the cap.
func TestServerRequestedWaitsShareOneBudgetPerRequest(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errcode": "M_UNKNOWN", "error": "busy"})
	}))
	defer srv.Close()
	c := testClient(t, srv.URL, func(c *Config) { c.MaxRetryWait = 2500 * time.Millisecond; c.Retries = 20 })
	start := time.Now()
	_, err := c.Whoami(context.Background())
	require.Error(t, err)
	assert.Equal(t, int32(3), calls.Load(), "two waits of 1 s fit in 2.5 s, a third does not")
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "the waits that fit were obeyed")
	assert.Contains(t, err.Error(), "not retried")

	// The next request has a budget of its own.
	calls.Store(0)
	_, err = c.Whoami(context.Background())
	require.Error(t, err)
	assert.Equal(t, int32(3), calls.Load())
}

// Our own backoff counts against the same cap: with many retries and no
// Retry-After, a server that fails for good still ends the request early.
func TestBackoffBoundedByTheCap(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	c := testClient(t, srv.URL, func(c *Config) {
		c.Retries = 20
		c.RetryWaitMin, c.RetryWaitMax = 40*time.Millisecond, 200*time.Millisecond
		c.MaxRetryWait = 400 * time.Millisecond
	})
	_, err := c.Whoami(context.Background())
	require.Error(t, err)
	// Largest waits counted: 50, 100, 200 ms (sum 350); the next 250 ms
	// would pass 400.
	assert.Equal(t, int32(4), calls.Load())
}

func TestRegisterWaitsAreCappedToo(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "error": "slow"})
	}))
	defer srv.Close()
	c := testClient(t, srv.URL, func(c *Config) { c.MaxRetryWait = time.Second; c.Retries = 20 })
	start := time.Now()
	_, err := c.Register(context.Background(), "s", Registration{Localpart: "bob", Password: "pw"})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, int32(1), calls.Load())
	assert.Contains(t, err.Error(), "not retried")
}

func TestRegisterAttemptsBoundedByRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := testClient(t, srv.URL, nil).Register(context.Background(), "s", Registration{Localpart: "bob", Password: "pw"})
	require.Error(t, err)
	assert.Equal(t, int32(4), calls.Load(), "retries 3: four nonce requests, none retried on its own")
}
