package synapsetest

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Request is one request seen by a Proxy.
type Request struct {
	Method string
	Path   string
	// Hash is true for a request that makes Synapse run bcrypt: a
	// registration (Synapse hashes before it checks anything else), a
	// password login (a check costs what a hash does), a user PUT with a
	// password.
	Hash bool
	// Logout is true for a user PUT that changes the password and logs the
	// user out (logout_devices is not false).
	Logout bool
}

// Proxy is a reverse proxy in front of a real Synapse. It counts what the
// module sends (to prove that a rerun writes nothing, or that bad input is
// refused before any request), can serve Synapse under a path prefix (a
// homeserver behind https://host/matrix), and can inject faults a real
// server does not produce on demand.
type Proxy struct {
	URL string

	server *httptest.Server
	prefix string
	mu     sync.Mutex
	seen   []Request
	fault  func(w http.ResponseWriter, r *http.Request) bool
}

// NewProxy starts a proxy to target. With a prefix, requests must come in
// under it (prefix "/matrix": /matrix/_synapse/... goes to /_synapse/...).
func NewProxy(target, prefix string) *Proxy {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	p := &Proxy{prefix: strings.TrimRight(prefix, "/")}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = testTransport()
	// The proxy's own errors (upstream gone) are what tests provoke; they
	// reach the module as 502s, and need not clutter the test output.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.prefix != "" {
			if !strings.HasPrefix(r.URL.Path, p.prefix+"/") {
				http.Error(w, "not under the proxy prefix", http.StatusNotFound)
				return
			}
			r.URL.Path = strings.TrimPrefix(r.URL.Path, p.prefix)
			r.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, p.prefix)
		}
		req := classify(r)
		p.mu.Lock()
		p.seen = append(p.seen, req)
		fault := p.fault
		p.mu.Unlock()
		if fault != nil && fault(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	p.URL = p.server.URL + p.prefix
	return p
}

// Close stops the proxy.
func (p *Proxy) Close() { p.server.Close() }

// SetFault installs a fault: it sees every request first and answers it
// itself by returning true.
func (p *Proxy) SetFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

// Reset forgets the requests seen so far.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = nil
}

// Requests returns the requests seen since the last Reset.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.seen...)
}

// Writes returns the requests that are not reads (GET).
func (p *Proxy) Writes() []Request {
	var out []Request
	for _, r := range p.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			out = append(out, r)
		}
	}
	return out
}

// classify records what a request costs the server. It reads the body and
// puts it back for the upstream.
func classify(r *http.Request) Request {
	req := Request{Method: r.Method, Path: r.URL.Path}
	if r.Body == nil || (r.Method != http.MethodPut && r.Method != http.MethodPost) {
		return req
	}
	data, _ := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(data))
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	_, hasPassword := body["password"]
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_synapse/admin/v1/register"),
		r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_matrix/client/v3/login") && hasPassword:
		req.Hash = true
	case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/_synapse/admin/v2/users/") && hasPassword:
		req.Hash = true
		logout, set := body["logout_devices"].(bool)
		req.Logout = !set || logout
	}
	return req
}

// Hashes counts the requests that made Synapse run bcrypt.
func (p *Proxy) Hashes() int {
	n := 0
	for _, r := range p.Requests() {
		if r.Hash {
			n++
		}
	}
	return n
}

// Logouts counts the password changes that logged a user out.
func (p *Proxy) Logouts() int {
	n := 0
	for _, r := range p.Requests() {
		if r.Logout {
			n++
		}
	}
	return n
}
