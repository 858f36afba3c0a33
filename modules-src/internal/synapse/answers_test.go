package synapse

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gzipBomb is gzip of n zero bytes: about 1 KB per MB.
func gzipBomb(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for written := 0; written < n; written += len(zeros) {
		_, err := zw.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// endless is a body that never ends: a JSON string that keeps going.
type endless struct{ started bool }

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	if !e.started {
		n = copy(p, `{"name":"@a:test","displayname":"`)
		e.started = true
	}
	for i := n; i < len(p); i++ {
		p[i] = 'x'
	}
	return len(p), nil
}

// allocatedDuring is how many bytes the process allocated while f ran
// (MemStats.TotalAlloc only grows, so it bounds the peak heap f caused).
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// getUsers sends n GetUser requests at once and returns their errors.
func getUsers(c *Client, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.GetUser(context.Background(), fmt.Sprintf("@u%d:test", i))
		}()
	}
	wg.Wait()
	return errs
}

// 32 one-user answers gzip-bombed at concurrency 32 took the module to
// 14.6 GB: Go's transport decompressed them transparently and the 256 MiB
// cap applied after it (these bombs are 256 KB each, 256 MiB decompressed:
// 8 GiB in all before). The client asks for no compression and refuses a
// compressed answer before reading it.
func TestGzipBombRefusedUnreadAtConcurrency32(t *testing.T) {
	bomb := gzipBomb(t, 256<<20)
	var acceptEncoding sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acceptEncoding.Store(r.Header.Get("Accept-Encoding"), true)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(bomb)))
		_, _ = w.Write(bomb)
	}))
	defer srv.Close()
	budget := httpapi.NewBudget(int64(httpapi.MaxAnswer))
	c := testClient(t, srv.URL, func(c *Config) { c.MaxConns = 32; c.Budget = budget })
	var errs []error
	allocated := allocatedDuring(func() { errs = getUsers(c, 32) })
	for _, err := range errs {
		var re *ResponseError
		require.ErrorAs(t, err, &re)
		assert.Contains(t, err.Error(), "a compressed answer (Content-Encoding: gzip), which this module did not ask for")
	}
	_, asked := acceptEncoding.Load("identity")
	assert.True(t, asked, "the request asks for no content coding")
	t.Logf("32 gzip bombs: %d KiB allocated", allocated>>10)
	assert.Less(t, allocated, uint64(32<<20), "32 bombs of 256 MiB each: %d MiB allocated", allocated>>20)
	assert.Zero(t, budget.Held(), "every answer gave its bytes back")
}

// The same without compression: an endless answer to a one-user request
// is read up to its limit (1 MiB) and refused, whatever follows; and one
// that announces more than its limit is not read at all.
func TestOversizedAnswersRefusedAtTheirLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/@u0:test") {
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		}
		_, _ = io.Copy(w, io.LimitReader(&endless{}, 1<<30))
	}))
	defer srv.Close()
	budget := httpapi.NewBudget(int64(httpapi.MaxAnswer))
	c := testClient(t, srv.URL, func(c *Config) { c.MaxConns = 32; c.Budget = budget })
	var errs []error
	allocated := allocatedDuring(func() { errs = getUsers(c, 32) })
	for i, err := range errs {
		var re *ResponseError
		require.ErrorAs(t, err, &re)
		want := "an answer of more than 1048576 bytes, more than the 1 MiB this request can legitimately bring; not read"
		if i == 0 {
			want = "an answer of 1073741824 bytes (announced), more than the 1 MiB"
		}
		assert.Contains(t, err.Error(), want)
		assert.Contains(t, err.Error(), "unexpected answer to GET /_synapse/admin/v2/users/")
	}
	// Each reader grows its buffer by doubling up to 1 MiB: at most about
	// 2 MiB each, 64 MiB for 32, where the 256 MiB cap allowed 8 GiB.
	t.Logf("32 endless answers: %d MiB allocated", allocated>>20)
	assert.Less(t, allocated, uint64(80<<20), "%d MiB allocated", allocated>>20)
	assert.Zero(t, budget.Held())
}

// Each request has the limit of what its endpoint can bring: a page of the
// user list in proportion to its size, a hash search over every user in
// proportion to the server's size as the list announced it.
func TestAnswerLimitsFollowTheEndpoint(t *testing.T) {
	assert.Equal(t, answerLimit(64<<10+1000*16<<10), pageLimit(1000))
	assert.Equal(t, maxAnswerSize, pageLimit(1_000_000))
	assert.Equal(t, maxAnswerSize, hashesLimit(0), "a server of unknown size: the hard cap")
	assert.Equal(t, answerLimit(64<<10+(500+10_000)*2<<10), hashesLimit(500), "500 users and the list's slack")

	rows := func(n int) string {
		var b strings.Builder
		b.WriteString("[")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"name":"@user%08d:test","password_hash":"$2b$12$%053d"}`, i, i)
		}
		b.WriteString("]")
		return b.String()
	}
	// 20,000 rows padded to 22 MB (JSON allows the spaces): more than a
	// hash search over a server of 100 users can bring, even at 2 KiB a row.
	hashes := rows(20_000)
	hashes = hashes[:len(hashes)-1] + strings.Repeat(" ", 22<<20-len(hashes)) + "]"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(r.URL.Path, "search_users"):
			_, _ = io.WriteString(w, hashes)
		default:
			_, _ = fmt.Fprintf(w, `{"users":[{"name":"@a:test"}],"total":%s}`, r.Header.Get("X-Test-Total"))
		}
	}))
	defer srv.Close()
	c := testClient(t, srv.URL, nil)
	ctx := context.Background()

	got, err := c.PasswordHashes(ctx, "@admin:test", ":test")
	require.NoError(t, err, "before the list, a search over every user has the hard cap")
	assert.Len(t, got, 20_000)

	_, err = c.PasswordHashes(ctx, "@admin:test", "@user00000001:test")
	require.Error(t, err, "a search for one user ID is bounded like one user")
	assert.Contains(t, err.Error(), "more than the 1 MiB this request can legitimately bring")

	c.noteServerUsers(100) // what a list announcing 100 users leaves
	_, err = c.PasswordHashes(ctx, "@admin:test", ":test")
	require.Error(t, err, "20,000 hashes from a server that has 100 users")
	assert.Contains(t, err.Error(), "this request can legitimately bring")
	c.noteServerUsers(20_000)
	_, err = c.PasswordHashes(ctx, "@admin:test", ":test")
	require.NoError(t, err)
}

// The list records the size the server announces.
func TestListUsersRecordsTheServerSize(t *testing.T) {
	srv, _ := listServer(t, honest(3))
	c := testClient(t, srv.URL, nil)
	_, err := c.ListUsers(context.Background(), 10)
	require.NoError(t, err)
	assert.Equal(t, int64(3), c.serverUsers.Load())
}

// The answers held at once share one budget (httpapi's tests); through
// the client, the budget is empty again after every call.
func TestAnswersGiveTheirBytesBack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"name": "@a:test", "displayname": strings.Repeat("x", 900<<10)})
	}))
	defer srv.Close()
	budget := httpapi.NewBudget(16 << 20)
	c := testClient(t, srv.URL, func(c *Config) { c.Budget = budget })
	for _, err := range getUsers(c, 8) {
		assert.NoError(t, err)
	}
	assert.Zero(t, budget.Held())
}
