// Package wiretest is a test server for the wire of an HTTP API client, in
// the manner of google/go-github's setup: it is mounted under a non-empty
// base path (a homeserver behind https://host/matrix/ is real, and a client
// that builds absolute paths misses it), answers only the routes a test
// registers by method and escaped path, and records every request it gets
// (method, escaped path, query, body). Each test registers what it expects
// and pins the rest with the helpers: Method, Query, JSONBody, NoBody.
//
// It is for unit tests only. The proof that the requests do what they
// should is the e2e suite against a real Synapse; what this proves is that
// the client sends exactly the requests written down here, so that a changed
// method, path, query or body key fails a unit test.
package wiretest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// BasePath is where the server is mounted: the client's base URL is
// URL() = http://127.0.0.1:port/matrix.
const BasePath = "/matrix"

// Request is one request as the server got it. Path is the escaped path
// without BasePath, as written in the API docs (/_synapse/admin/v2/users/@a%2Fb:test).
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// Body is the raw body; JSON decodes it.
	Body []byte
}

// JSON decodes the body into a map (nil for no body or not an object).
func (r Request) JSON() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m
}

// String is METHOD /path for messages.
func (r Request) String() string { return r.Method + " " + r.Path }

// Server is a recording test server.
type Server struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	// fallback answers what no route matches; nil fails the test.
	fallback http.HandlerFunc
	requests []Request
}

// New starts a server that stops when the test ends.
func New(t testing.TB) *Server {
	s := &Server{t: t, routes: map[string]http.HandlerFunc{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL to give the client: the server under BasePath.
func (s *Server) URL() string { return s.srv.URL + BasePath }

// Handle answers method and the escaped path (without BasePath) with h. A
// later Handle of the same route replaces the earlier one.
func (s *Server) Handle(method, escapedPath string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[method+" "+escapedPath] = h
}

// Fallback answers the requests no route matches, instead of failing the
// test (a fake that serves a whole run).
func (s *Server) Fallback(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = h
}

// Requests are the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Writes are the requests received so far that are not GETs.
func (s *Server) Writes() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the requests received so far.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	escaped, mounted := strings.CutPrefix(r.URL.EscapedPath(), BasePath+"/")
	escaped = "/" + escaped
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: escaped, Query: r.URL.Query(), Body: body})
	h, ok := s.routes[r.Method+" "+escaped]
	fallback := s.fallback
	s.mu.Unlock()
	switch {
	case !mounted:
		s.t.Errorf("request outside the base path %s: %s %s", BasePath, r.Method, r.URL.EscapedPath())
		WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_UNRECOGNIZED", "error": "outside the base path"})
	case ok:
		h(w, r)
	case fallback != nil:
		fallback(w, r)
	default:
		s.t.Errorf("unexpected request: %s %s (routes: %s)", r.Method, escaped, strings.Join(s.routeNames(), ", "))
		WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
	}
}

func (s *Server) routeNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.routes))
	for k := range s.routes {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Method checks the request's method.
func Method(t testing.TB, r *http.Request, want string) {
	t.Helper()
	assert.Equal(t, want, r.Method, "method of %s", r.URL.EscapedPath())
}

// Query checks the whole query: every key and value, no more.
func Query(t testing.TB, r *http.Request, want url.Values) {
	t.Helper()
	got := r.URL.Query()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	assert.Equal(t, want, got, "query of %s %s", r.Method, r.URL.EscapedPath())
}

// JSONBody checks that the body is the JSON want: the same keys, the same
// values, nothing more.
func JSONBody(t testing.TB, r *http.Request, want string) {
	t.Helper()
	body, _ := io.ReadAll(r.Body)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"), "content type of %s %s", r.Method, r.URL.EscapedPath())
	assert.JSONEq(t, want, string(body), "body of %s %s", r.Method, r.URL.EscapedPath())
}

// NoBody checks that the request carries no body.
func NoBody(t testing.TB, r *http.Request) {
	t.Helper()
	body, _ := io.ReadAll(r.Body)
	assert.Empty(t, string(body), "body of %s %s", r.Method, r.URL.EscapedPath())
}

// Token checks the access token the request carries.
func Token(t testing.TB, r *http.Request, want string) {
	t.Helper()
	got := r.Header.Get("Authorization")
	if want == "" {
		assert.Empty(t, got, "%s %s carries no token", r.Method, r.URL.EscapedPath())
		return
	}
	assert.Equal(t, fmt.Sprintf("Bearer %s", want), got, "token of %s %s", r.Method, r.URL.EscapedPath())
}
