package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// These tests put a real Synapse behind the test proxy and break things
// between the module and Synapse: Synapse stopping or restarting mid-run,
// and what reverse proxies and networks do (429 storms, 502/503 pages, cut
// connections, silence, HTML instead of JSON). Each run must end, within its
// timeout and retries, in one JSON result with a clear msg, and say exactly
// what was done.

// requireCleanFailure checks that a failed run explains itself and that
// nothing crashed.
func requireCleanFailure(t *testing.T, r Run, want ...string) {
	t.Helper()
	require.True(t, r.failed(), "the run should fail: %s", r.Stdout)
	require.NotEmpty(t, r.msg())
	for _, w := range want {
		assert.Contains(t, r.msg(), w)
	}
	for _, crash := range []string{"panic", "goroutine ", "MODULE FAILURE", "runtime error"} {
		assert.NotContains(t, r.Stdout, crash)
	}
}

func TestFaultSynapseStopsMidBatch(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	p := uniqueUser("stop")
	var users []any
	for i := 0; i < 40; i++ {
		users = append(users, map[string]any{"username": fmt.Sprintf("%s-%02d", p, i), "password": fmt.Sprintf("stop-pass-%02d", i)})
	}
	var mu sync.Mutex
	writes := 0
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			mu.Lock()
			writes++
			n := writes
			mu.Unlock()
			if n == 15 {
				_ = srv.Kill() // Synapse goes away after 14 creates
			}
		}
		return false
	})
	args := map[string]any{"users": users, "retries": 2, "timeout": 2, "concurrency": 4}
	start := time.Now()
	r := f.run(t, args)
	elapsed := time.Since(start)
	f.proxy.SetFault(nil)
	requireCleanFailure(t, r)
	t.Logf("run with Synapse gone mid-batch ended after %s: %s", elapsed.Round(time.Millisecond), r.msg())
	// 26 users left, 4 at a time, each 3 attempts with at most 10s of
	// backoff between them and a 2s timeout: far below a minute.
	assert.Less(t, elapsed, 90*time.Second, "ended within its timeout and retries")

	sum := r.summary()
	assert.Equal(t, 40, sum["created"]+sum["failed"], "every user is accounted for")
	assert.Positive(t, sum["created"], "users created before Synapse went away")
	assert.Positive(t, sum["failed"], "users that could not be created after")
	done := map[string]bool{}
	// A create is two requests: an account whose second (its password) was
	// cut off, or whose create lost its answer, may exist without its
	// password, and the error says how to set it.
	failed := map[string]bool{}
	for id, u := range r.batchUsers() {
		if u["action"] == "created" {
			done[id] = true
			continue
		}
		assert.Equal(t, "failed", u["action"])
		assert.Contains(t, u["error"], "update_password: always for it", id)
		failed[id] = true
	}

	require.NoError(t, srv.Restart())
	for id := range done {
		u, err := srv.User(f.token, id)
		require.NoError(t, err)
		assert.NotNil(t, u, "%s was reported created and exists", id)
	}
	halfMade := map[string]bool{}
	for id := range failed {
		u, err := srv.User(f.token, id)
		require.NoError(t, err)
		if u != nil {
			halfMade[id] = true
		}
	}
	t.Logf("created %d, made without their password %d", len(done), len(halfMade))
	args["report_unchanged"] = true
	r = f.run(t, args).mustSucceed(t)
	sum = r.summary()
	assert.Equal(t, 40, sum["created"]+sum["unchanged"], "the rerun converges: %v", sum)
	for id, u := range r.batchUsers() {
		if done[id] || halfMade[id] {
			assert.Equal(t, "unchanged", u["action"], "%s exists since the first run", id)
		}
	}
	status, out, err := srv.Do(http.MethodGet, "/_synapse/admin/v2/users?limit=1000&name="+p, f.token, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, float64(40), out.(map[string]any)["total"], "nothing duplicated, nothing lost")

	// What the first run's message said to do for the accounts made
	// without their password: update_password: always sets exactly those.
	// A failed account's password PUT may have been applied with its
	// answer lost (the message says so): only those that cannot log in
	// with their password lack it.
	withoutPassword := 0
	for id := range halfMade {
		name := strings.TrimPrefix(strings.SplitN(id, ":", 2)[0], "@")
		if _, err := srv.Login(name, "stop-pass-"+name[len(name)-2:]); err != nil {
			withoutPassword++
		}
	}
	always := merge(args, map[string]any{"update_password": "always"})
	r = f.run(t, always).mustSucceed(t)
	assert.Equal(t, withoutPassword, r.summary()["updated"], "only the accounts left without their password: %v", r.summary())
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("%s-%02d", p, i)
		_, err := srv.Login(name, fmt.Sprintf("stop-pass-%02d", i))
		assert.NoError(t, err, "%s has its password", name)
	}
	r = f.run(t, args).mustSucceed(t)
	assert.False(t, r.changed())
}

func TestFaultNonceLostWhenSynapseRestarts(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	var mu sync.Mutex
	posts := 0
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_synapse/admin/v1/register") {
			mu.Lock()
			posts++
			first := posts == 1
			mu.Unlock()
			if first {
				// Between the nonce GET and this POST, Synapse restarts:
				// the nonce, kept in the old process's memory, is gone.
				// (This runs in the proxy's goroutine: no FailNow here.)
				if err := srv.Restart(); err != nil {
					t.Errorf("restarting Synapse: %v", err)
				}
			}
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	name := uniqueUser("nonce")
	args := map[string]any{"homeserver_url": f.proxy.URL, "service_account": "", "registration_shared_secret": srv.SharedSecret, "user": name, "password": "nonce-pass-1"}
	r := runModule(t, "matrix_user", args).mustSucceed(t)
	assert.True(t, r.bool("created"))
	assert.Equal(t, 2, posts, "the GET+POST pair was retried once")
	u := f.read(t, name)
	require.NotNil(t, u, "created once")
	_, err := srv.Login(name, "nonce-pass-1")
	require.NoError(t, err)
	r = runModule(t, "matrix_user", args).mustSucceed(t)
	assert.False(t, r.changed())
}

// answer429 writes a Matrix rate-limit answer.
func answer429(w http.ResponseWriter, retryAfterMs int, header string) {
	if header != "" {
		w.Header().Set("Retry-After", header)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":%d}`, retryAfterMs)
}

// firstAttempts answers the first n attempts of every distinct request with
// fault, and lets later attempts through.
func firstAttempts(n int, fault func(w http.ResponseWriter, r *http.Request)) func(w http.ResponseWriter, r *http.Request) bool {
	var mu sync.Mutex
	seen := map[string]int{}
	return func(w http.ResponseWriter, r *http.Request) bool {
		key := r.Method + " " + r.URL.Path
		mu.Lock()
		seen[key]++
		k := seen[key]
		mu.Unlock()
		if k <= n {
			fault(w, r)
			return true
		}
		return false
	}
}

func TestFaultRateLimitStorm(t *testing.T) {
	f := newFixture(t)
	served := 0
	var mu sync.Mutex
	f.proxy.SetFault(firstAttempts(2, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served++
		n := served
		mu.Unlock()
		if n%2 == 0 {
			answer429(w, 150, "")
		} else {
			answer429(w, 10, "1")
		}
	}))
	defer f.proxy.SetFault(nil)
	name := uniqueUser("storm")
	r := f.run(t, map[string]any{"user": name, "password": "storm-pass-1", "retries": 3, "_ansible_verbosity": 3}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.GreaterOrEqual(t, served, 6, "every request was rate limited twice")
	retries := r.Result["retries"].(map[string]any)
	assert.Equal(t, float64(served), retries["total"], "every 429 was retried, and counted")
	assert.Equal(t, retries["total"], retries["429"])
	log, _ := r.Result["retry_log"].([]any)
	assert.Len(t, log, served, "-vvv: a line per retry")
	for _, l := range log {
		assert.Regexp(t, `^(GET|PUT|POST) /\S+: 429, waited `, l)
		assert.NotContains(t, l, "?")
	}
	require.NotNil(t, f.read(t, name))

	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool { answer429(w, 10, "120"); return true })
	start := time.Now()
	r = f.run(t, map[string]any{"user": name, "retries": 3})
	requireCleanFailure(t, r, "M_LIMIT_EXCEEDED", "asks to wait 2m0s")
	assert.Less(t, time.Since(start), 30*time.Second, "a wait longer than a minute fails at once instead of sleeping")
}

func TestFaultReverseProxyErrorPages(t *testing.T) {
	f := newFixture(t)
	page := func(status int) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<html><head><title>%d</title></head><body><center><h1>%d %s</h1></center><hr><center>nginx</center></body></html>", status, status, http.StatusText(status))
		}
	}
	f.proxy.SetFault(firstAttempts(1, page(http.StatusBadGateway)))
	name := uniqueUser("gateway")
	r := f.run(t, map[string]any{"user": name, "password": "gateway-pass-1", "retries": 2}).mustSucceed(t)
	assert.True(t, r.changed(), "a 502 once per request is retried away")

	f.proxy.SetFault(firstAttempts(1, page(http.StatusServiceUnavailable)))
	r = f.run(t, map[string]any{"user": name, "displayname": "Behind A Proxy", "retries": 2}).mustSucceed(t)
	assert.True(t, r.changed())

	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool { page(http.StatusBadGateway)(w, r); return true })
	defer f.proxy.SetFault(nil)
	r = f.run(t, map[string]any{"user": name, "retries": 1})
	requireCleanFailure(t, r, "HTTP 502", "502 Bad Gateway", "reverse proxy")
	assert.NotContains(t, r.msg(), "<h1>")
}

func TestFaultConnectionCutMidAnswer(t *testing.T) {
	f := newFixture(t)
	cut := func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"name\": \"@cut")
		_ = buf.Flush()
		conn.Close()
	}
	f.proxy.SetFault(firstAttempts(1, cut))
	name := uniqueUser("cut")
	r := f.run(t, map[string]any{"user": name, "password": "cut-pass-1", "retries": 2}).mustSucceed(t)
	assert.True(t, r.bool("created"), "a create whose answer was cut is retried and reported as the create it was")
	require.NotNil(t, f.read(t, name))

	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool { cut(w, r); return true })
	defer f.proxy.SetFault(nil)
	r = f.run(t, map[string]any{"user": name, "retries": 1})
	requireCleanFailure(t, r, "unreachable", "unexpected EOF")
}

func TestFaultServerNeverAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accepted, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	start := time.Now()
	r := runModule(t, "matrix_user", map[string]any{"homeserver_url": "http://" + l.Addr().String(), "admin_token": "silent-token", "user": "nobody", "timeout": 1, "retries": 1})
	requireCleanFailure(t, r, "no answer within 1s", "timeout")
	assert.Less(t, time.Since(start), 20*time.Second, "two attempts of one second and a backoff")
}

func TestFaultHTMLInsteadOfJSON(t *testing.T) {
	f := newFixture(t)
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/_synapse/admin/v2/users/") {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>")
			return true
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	r := f.run(t, map[string]any{"user": uniqueUser("html")})
	requireCleanFailure(t, r, "not the JSON Synapse sends", "HTTP 200 OK (text/html, 67 bytes)")
	assert.NotContains(t, r.msg(), "nginx", "a foreign body is summarised, never quoted")
}
