package synapse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests use httptest servers only for what a real Synapse does not do
// on demand: rate limiting, 5xx, cut connections, slow and foreign answers.
// Everything else is tested against a real Synapse in tests/e2e.

func testClient(t *testing.T, url string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: url, Token: "t", Retries: 3, Timeout: 2 * time.Second,
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond,
		// A budget of its own: tests running at the same time would
		// otherwise see each other's answers in the process's budget.
		Budget: httpapi.NewBudget(int64(httpapi.MaxAnswer))}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func TestRateLimitHonoursRetryAfterMs(t *testing.T) {
	var calls atomic.Int32
	var first time.Time
	var waited time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			first = time.Now()
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 300})
			return
		}
		waited = time.Since(first)
		writeJSON(w, http.StatusOK, map[string]any{"user_id": "@a:b"})
	}))
	defer srv.Close()
	me, err := testClient(t, srv.URL, nil).Whoami(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "@a:b", me)
	assert.Equal(t, int32(2), calls.Load())
	assert.GreaterOrEqual(t, waited, 300*time.Millisecond, "waited what retry_after_ms asked")
}

func TestRateLimitTakesTheLargerOfHeaderAndBody(t *testing.T) {
	var calls atomic.Int32
	var first time.Time
	var waited time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 10})
			return
		}
		waited = time.Since(first)
		writeJSON(w, http.StatusOK, map[string]any{"user_id": "@a:b"})
	}))
	defer srv.Close()
	_, err := testClient(t, srv.URL, nil).Whoami(context.Background())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, waited, time.Second)
}

func TestRateLimitLongerThanCapFailsAtOnce(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 300000})
	}))
	defer srv.Close()
	c := testClient(t, srv.URL, func(c *Config) { c.MaxRetryWait = time.Second })
	_, err := c.Whoami(context.Background())
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, ErrcodeLimitExceeded, e.Errcode)
	assert.Equal(t, 300*time.Second, e.RetryAfter)
	assert.Contains(t, err.Error(), "asks to wait 5m0s")
	assert.Equal(t, int32(1), calls.Load(), "no retry when the wait is longer than the cap")
}

func TestServerErrorsRetriedThenSucceed(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		case 2:
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errcode": "M_UNKNOWN", "error": "busy"})
		default:
			writeJSON(w, http.StatusOK, map[string]any{"user_id": "@a:b"})
		}
	}))
	defer srv.Close()
	_, err := testClient(t, srv.URL, nil).Whoami(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int32(3), calls.Load())
}

func TestServerErrorsExhaustRetriesWithClearError(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><head><title>502</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"))
	}))
	defer srv.Close()
	_, err := testClient(t, srv.URL, nil).Whoami(context.Background())
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusBadGateway, re.Status)
	assert.Contains(t, err.Error(), "502 Bad Gateway")
	assert.Contains(t, err.Error(), "reverse proxy")
	assert.NotContains(t, err.Error(), "<h1>", "the page is summarised, not quoted")
	assert.NotContains(t, err.Error(), "nginx")
	assert.Equal(t, int32(4), calls.Load(), "1 attempt + 3 retries")
}

func TestCutConnectionMidAnswerIsRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user_id\": \"@a")
			_ = buf.Flush()
			conn.Close()
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user_id": "@a:b"})
	}))
	defer srv.Close()
	me, err := testClient(t, srv.URL, nil).Whoami(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "@a:b", me)
	assert.Equal(t, int32(2), calls.Load())
}

func TestSlowAnswerPastTimeout(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := testClient(t, srv.URL, func(c *Config) { c.Timeout = 200 * time.Millisecond; c.Retries = 1 })
	_, err := c.Whoami(context.Background())
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), "no answer within 200ms")
	assert.Equal(t, int32(2), calls.Load(), "timed out, retried once, gave up")
}

func TestNotJSONSuccessAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>Welcome to nginx!</html>"))
	}))
	defer srv.Close()
	_, err := testClient(t, srv.URL, nil).Whoami(context.Background())
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	assert.Contains(t, err.Error(), "HTTP 200 OK (text/html, 30 bytes), not the JSON Synapse sends")
	assert.NotContains(t, err.Error(), "Welcome", "a foreign body is summarised, never quoted")
}

func TestRedirectIsReportedNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://matrix.example.com"+r.URL.Path, http.StatusMovedPermanently)
	}))
	defer srv.Close()
	_, _, err := testClient(t, srv.URL, nil).PutUser(context.Background(), "@a:b", UserUpdate{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "https://matrix.example.com")
	assert.Contains(t, err.Error(), "homeserver_url")
}

// A login rate limit that asks for a short wait (matrix-docker-ansible-deploy
// allows one login every 6 s after a burst of 3) is waited out; one that asks
// for longer than the wait budget (Synapse's default, about 5 minutes) fails
// at once, with the wait in the message.
func TestLoginWaitsOutAShortRateLimitOnly(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 5})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user_id": "@admin:test", "access_token": "tok", "device_id": "DEV"})
	}))
	defer srv.Close()
	res, err := testClient(t, srv.URL, nil).Login(context.Background(), "admin", "pw", "DEV")
	require.NoError(t, err)
	assert.Equal(t, "@admin:test", res.UserID)
	assert.Equal(t, int32(2), calls.Load())

	var long atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		long.Add(1)
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 330_000})
	}))
	defer slow.Close()
	_, err = testClient(t, slow.URL, func(c *Config) { c.MaxRetryWait = time.Second }).Login(context.Background(), "admin", "pw", "DEV")
	require.True(t, HasErrcode(err, ErrcodeLimitExceeded))
	assert.Contains(t, err.Error(), "asked to wait 5m30s")
	assert.Equal(t, int32(1), long.Load())
}

// A read-only client (check mode) still logs in: the login is the run's own
// session, which its logout removes again.
func TestReadOnlyClientLogsIn(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"user_id": "@admin:test", "access_token": "tok", "device_id": "DEV"})
	}))
	defer srv.Close()
	c := testClient(t, srv.URL, nil)
	c.ReadOnly()
	_, err := c.Login(context.Background(), "admin", "pw", "DEV")
	require.NoError(t, err)
	_, _, err = c.PutUser(context.Background(), "@a:test", UserUpdate{"admin": true})
	require.ErrorIs(t, err, ErrReadOnly)
}

func TestRegisterRetriesNonceAndPostAsAPair(t *testing.T) {
	var nonces, posts atomic.Int32
	issued := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			n := fmt.Sprintf("nonce-%d", nonces.Add(1))
			issued[n] = true
			writeJSON(w, http.StatusOK, map[string]any{"nonce": n})
		case http.MethodPost:
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			switch posts.Add(1) {
			case 1:
				// The process restarted between GET and POST: nonce lost.
				writeJSON(w, http.StatusBadRequest, map[string]any{"errcode": "M_UNKNOWN", "error": "unrecognised nonce"})
			case 2:
				writeJSON(w, http.StatusBadGateway, map[string]any{"errcode": "M_UNKNOWN", "error": "upstream restarting"})
			default:
				nonce := body["nonce"].(string)
				if !issued[nonce] || nonce != fmt.Sprintf("nonce-%d", nonces.Load()) {
					writeJSON(w, http.StatusBadRequest, map[string]any{"errcode": "M_UNKNOWN", "error": "stale nonce reused"})
					return
				}
				want := RegistrationMAC("s3cret", nonce, "bob", "pw", false, "")
				if body["mac"] != want {
					writeJSON(w, http.StatusForbidden, map[string]any{"errcode": "M_UNKNOWN", "error": "HMAC incorrect"})
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{"user_id": "@bob:test"})
			}
		}
	}))
	defer srv.Close()
	reg, err := testClient(t, srv.URL, nil).Register(context.Background(), "s3cret", Registration{Localpart: "bob", Password: "pw"})
	require.NoError(t, err)
	assert.Equal(t, "@bob:test", reg.UserID)
	assert.True(t, reg.Retried)
	assert.Equal(t, int32(3), posts.Load())
	assert.Equal(t, posts.Load(), nonces.Load(), "every POST had a fresh nonce")
}

func TestRegisterDoesNotRetryARefusal(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			writeJSON(w, http.StatusOK, map[string]any{"nonce": "n"})
			return
		}
		posts.Add(1)
		writeJSON(w, http.StatusBadRequest, map[string]any{"errcode": "M_USER_IN_USE", "error": "User ID already taken."})
	}))
	defer srv.Close()
	_, err := testClient(t, srv.URL, nil).Register(context.Background(), "s", Registration{Localpart: "bob", Password: "pw"})
	assert.True(t, HasErrcode(err, ErrcodeUserInUse))
	assert.Equal(t, int32(1), posts.Load())
}

func TestRegistrationMACMatchesSynapse(t *testing.T) {
	// Expected values computed with Python's hmac, as Synapse does:
	// hmac.new(b"secret", b"abc\x00bob\x00pw\x00admin\x00bot", hashlib.sha1).hexdigest()
	assert.Equal(t, "9baececd4cdbee8584dc7dff560b3a1b4f84cda4", RegistrationMAC("secret", "abc", "bob", "pw", true, "bot"))
	assert.Equal(t, "8ea9b87daa4e529ce4a0832f09be19bbe837a0af", RegistrationMAC("secret", "abc", "bob", "pw", false, ""))
}

func TestBaseURLRules(t *testing.T) {
	for raw, want := range map[string]string{
		"matrix.example.com":               "must start with http",
		"ftp://matrix.example.com":         "must start with http",
		"https://":                         "has no host",
		"https://user:pw@host":             "must not carry credentials",
		"https://host/matrix?x=1":          "query",
		"https://host/%zz":                 "not a URL",
		"https://matrix.example.com/mx/":   "",
		"https://matrix.example.com/m x":   "may not contain whitespace or control characters (it has a space at character 29)",
		" https://matrix.example.com":      "(it has a space at character 1)",
		"https://matrix.example.com\n":     "(it has U+000A at character 27)",
		"https://matrix\u200b.example.com": "(it has U+200B at character 15)",
		"https://matrix.example.com\t/":    "may not contain whitespace",
		"http://a\x1b[2K\rok:":             "may not contain whitespace or control characters",
	} {
		_, err := ParseBaseURL(raw)
		if want == "" {
			assert.NoError(t, err, raw)
			continue
		}
		require.Error(t, err, raw)
		assert.Contains(t, err.Error(), want, raw)
	}
}

func TestPathSegmentsAreEscaped(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		writeJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_NOT_FOUND", "error": "User not found"})
	}))
	defer srv.Close()
	u, err := testClient(t, srv.URL+"/base", nil).GetUser(context.Background(), "@a/b:test")
	require.NoError(t, err)
	assert.Nil(t, u)
	assert.Equal(t, "/base/_synapse/admin/v2/users/@a%2Fb:test", got)
}

func TestFlagDecodesNumbersAndNull(t *testing.T) {
	var u User
	require.NoError(t, json.Unmarshal([]byte(`{"name":"@a:b","admin":1,"deactivated":0,"locked":null,"erased":true}`), &u))
	assert.True(t, bool(u.Admin))
	assert.False(t, bool(u.Deactivated))
	assert.False(t, bool(u.Locked))
	assert.True(t, bool(u.Erased))
	assert.Error(t, json.Unmarshal([]byte(`{"admin":"yes"}`), &u))
}

func TestErrorsAreTyped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, map[string]any{"errcode": "M_FORBIDDEN", "error": "You are not a server admin"})
	}))
	defer srv.Close()
	_, err := testClient(t, srv.URL, nil).GetUser(context.Background(), "@a:b")
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, http.StatusForbidden, e.Status)
	assert.True(t, HasErrcode(err, ErrcodeForbidden))
	assert.True(t, strings.HasPrefix(err.Error(), "Synapse answered 403 M_FORBIDDEN: You are not a server admin"))
}
