// Package httpapi is the one HTTP transport of the collection's API
// clients (Synapse's admin and client APIs, internal/synapse; the Matrix
// Authentication Service's admin API, internal/mas): one place builds
// requests (newRequest: escaped path segments under a base URL that may
// carry a prefix, the query, a JSON or form body, the headers), one place
// sends them and reads the answers (do: retries with bounded waits, bounded
// bodies under one byte budget, redirects refused, TLS and timeouts, the
// retry log, a read-only mode for check mode). What differs between the
// servers, how an error answer looks and what it is called in messages, is
// a Dialect each client gives.
package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Config says how to reach a server.
type Config struct {
	// BaseURL is the server's URL. It may carry a path prefix
	// (https://host/matrix) when the server sits behind a reverse proxy.
	BaseURL string
	// Token is an access token; it may be set later with SetToken.
	Token string
	// Tokens, when set, gives the access token of every request that does
	// not carry its own (Request.Auth), instead of Token: a token that is
	// renewed before it runs out.
	Tokens TokenSource
	// InsecureSkipVerify turns off TLS certificate checks.
	InsecureSkipVerify bool
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string
	// Timeout bounds one HTTP exchange, body included.
	Timeout time.Duration
	// Retries is how many times a failed request is retried (so at most
	// Retries+1 attempts) on connection errors, 429 and 5xx.
	Retries int
	// MaxConns is the number of keep-alive connections kept open; set it to
	// the number of requests sent concurrently.
	MaxConns int
	// MaxRetryWait caps the total wait between the attempts of one
	// request, whatever the server asks for (Retry-After on any status,
	// retry_after_ms) and whatever the status. An answer asking for longer
	// than what is left fails at once instead of sleeping for an hour.
	MaxRetryWait time.Duration
	// RetryWaitMin and RetryWaitMax bound the exponential backoff used when
	// the server does not say how long to wait.
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// UserAgent identifies the module in the server's logs.
	UserAgent string
	// Budget bounds the answers held at once; nil: the process's budget,
	// which every client shares (tests give a budget of their own).
	Budget *Budget
}

// TokenSource gives the access token of a request.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Dialect is what differs between the servers the transport talks to.
type Dialect struct {
	// Server names the server in messages ("Synapse is unreachable").
	Server string
	// URLOption is the option that sets the server's URL, for the hints
	// of messages.
	URLOption string
	// Error turns a non-2xx answer into the server's typed error, or, when
	// the body is not the server's error shape, into a.Foreign(reason).
	Error func(a Answer) error
	// Wait is the wait the body of a 429 or 503 asks for (Synapse's
	// retry_after_ms); nil when the server's bodies say none.
	Wait func(body []byte) time.Duration
}

// Answer is a non-2xx answer, for Dialect.Error.
type Answer struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
	dialect      *Dialect
}

// Foreign is the error of an answer that is not the server's: summarised,
// never quoted.
func (a Answer) Foreign(reason string) *ResponseError {
	return &ResponseError{Server: a.dialect.Server, URLOption: a.dialect.URLOption, Method: a.Method, Path: a.Path, Status: a.Status,
		ContentType: a.Header.Get("Content-Type"), Size: len(a.Body), Reason: reason}
}

// Client talks to one server. It is safe for concurrent use: a batch shares
// one Client, and so one pool of keep-alive connections.
type Client struct {
	base      *url.URL
	token     atomic.Pointer[string]
	tokens    TokenSource
	http      *retryablehttp.Client
	userAgent string
	maxWait   time.Duration
	timeout   time.Duration
	dialect   Dialect
	// budget bounds the answers held at once (answers.go).
	budget *Budget
	// readOnly refuses every request but a GET (and those a caller allows
	// with AllowWrite): check mode (ReadOnly).
	readOnly atomic.Bool
}

// ErrReadOnly is a write the client refused to send: it was made read-only
// for a check-mode run, which only reads. Reaching it is a bug of the
// module (the planner decided to write in check mode); nothing was sent.
var ErrReadOnly = errors.New("internal error: a check-mode run tried to send a write, which was not sent (please report it)")

// ReadOnly makes every later request other than a GET fail with
// ErrReadOnly before it is sent, those sent with AllowWrite excepted (the
// run's own credentials: a login and its logout): what "check mode only
// reads" means, kept by the one place requests go through rather than by
// every caller.
func (c *Client) ReadOnly() { c.readOnly.Store(true) }

// IsReadOnly reports whether ReadOnly was called.
func (c *Client) IsReadOnly() bool { return c.readOnly.Load() }

type writeAllowedKey struct{}

// AllowWrite lets the requests sent with the returned context write on a
// read-only client: the run's own credentials, never a user's state.
func AllowWrite(ctx context.Context) context.Context {
	return context.WithValue(ctx, writeAllowedKey{}, true)
}

// maxHeaderSize bounds the headers of one answer (Go's default is 10 MB):
// the servers' are a few hundred bytes.
const maxHeaderSize = 64 << 10

// ParseBaseURL checks a server URL, so that option validation can refuse a
// bad URL before any request is made. credentials is what the message
// tells to use instead of credentials in the URL.
func ParseBaseURL(raw string, credentials any) (*url.URL, error) {
	for i, r := range []rune(raw) {
		if unicode.IsSpace(r) || UnsafeRune(r) {
			what := fmt.Sprintf("U+%04X", r)
			if r == ' ' {
				what = "a space"
			}
			return nil, fmt.Errorf("may not contain whitespace or control characters (it has %s at character %d)", what, i+1)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %v", unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("must start with http:// or https://")
	}
	if u.Host == "" {
		return nil, errors.New("has no host")
	}
	if u.User != nil {
		return nil, problem.Errorf(problem.Invalid, "must not carry credentials; use %s", credentials)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("must not have a query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// New builds a client. It reads the CA file but sends nothing. The URL
// must have passed ParseBaseURL.
func New(cfg Config, d Dialect) (*Client, error) {
	base, err := ParseBaseURL(cfg.BaseURL, "")
	if err != nil {
		return nil, problem.Errorf(problem.Invalid, "%s %s", problem.Name(d.URLOption), err)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // only when the user sets validate_certs: false
	if cfg.CAFile != "" {
		pem, err := readCAFile(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, problem.Errorf(problem.Invalid, "%s: %s holds no PEM certificate", caPath, cfg.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 60 * time.Second
	}
	if cfg.RetryWaitMin <= 0 {
		cfg.RetryWaitMin = 500 * time.Millisecond
	}
	if cfg.RetryWaitMax <= 0 {
		cfg.RetryWaitMax = 10 * time.Second
	}
	if cfg.Budget == nil {
		cfg.Budget = answerBudget
	}
	if d.Error == nil {
		d.Error = func(a Answer) error { return a.Foreign("an error answer") }
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: cfg.Timeout,
		ForceAttemptHTTP2:   true,
		// Answers are read as sent, never decompressed (answers.go says why).
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeaderSize,
		MaxIdleConns:           cfg.MaxConns,
		MaxIdleConnsPerHost:    cfg.MaxConns,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
	}
	c := &Client{base: base, tokens: cfg.Tokens, userAgent: cfg.UserAgent, maxWait: cfg.MaxRetryWait, timeout: cfg.Timeout, budget: cfg.Budget, dialect: d}
	if c.userAgent == "" {
		c.userAgent = "mxadmin.synapse"
	}
	c.SetToken(cfg.Token)
	c.http = &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// A redirect would turn a PUT into a GET or move the token to
			// another host; report it instead of following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		// No logger: go-retryablehttp would write to stderr, which Ansible
		// shows to the user, and the module's output must be its one JSON.
		// Retries are counted by the hook into the run's RetryLog, which
		// the module puts in its result.
		Logger:         nil,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, attempt int) { countRetry(req, attempt) },
		RetryWaitMin:   cfg.RetryWaitMin,
		RetryWaitMax:   cfg.RetryWaitMax,
		RetryMax:       cfg.Retries,
		CheckRetry:     c.checkRetry,
		Backoff:        c.backoff,
		// Hand back the last answer so that do() can turn it into a typed
		// error, instead of go-retryablehttp's "giving up" string.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c, nil
}

// caPath is the option that names Config.CAFile, in messages.
const caPath = problem.Option("ca_path")

// maxCAFileSize bounds ca_path: a bundle of every public CA is about
// 200 KiB, so 1 MiB leaves room for any real one.
const maxCAFileSize = 1 << 20

// readCAFile reads ca_path, refusing anything but a regular file of at most
// maxCAFileSize: /dev/zero would be read until memory runs out, and a FIFO
// would block the run forever. The file is opened without blocking (a FIFO
// put in its place after a check would otherwise hang the open) and checked
// on the open descriptor; the read is bounded in case it grows meanwhile.
func readCAFile(name string) ([]byte, error) {
	rule := fmt.Sprintf("must be a regular file (a PEM bundle) of at most %d KiB", maxCAFileSize>>10)
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, problem.Errorf(problem.Invalid, "%s: cannot read %s: %s", caPath, name, errors.Unwrap(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, problem.Errorf(problem.Invalid, "%s: cannot read %s: %s", caPath, name, errors.Unwrap(err))
	}
	if !info.Mode().IsRegular() {
		return nil, problem.Errorf(problem.Invalid, "%s: %s is not a regular file (it is a %s); it %s", caPath, name, fileKind(info.Mode()), rule)
	}
	if info.Size() > maxCAFileSize {
		return nil, problem.Errorf(problem.Invalid, "%s: %s is %d bytes; it %s", caPath, name, info.Size(), rule)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCAFileSize+1))
	if err != nil {
		return nil, problem.Errorf(problem.Invalid, "%s: cannot read %s: %s", caPath, name, err)
	}
	if len(data) > maxCAFileSize {
		return nil, problem.Errorf(problem.Invalid, "%s: %s grew beyond %d bytes while being read; it %s", caPath, name, maxCAFileSize, rule)
	}
	return data, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// SetToken sets the access token sent with every later request.
func (c *Client) SetToken(token string) { c.token.Store(&token) }

// BaseURL returns the URL requests are sent to.
func (c *Client) BaseURL() string { return c.base.String() }

// BasePath is the base URL's path ("" or a prefix such as /matrix).
func (c *Client) BasePath() string { return c.base.Path }

// Auth is how one request authenticates.
type Auth struct {
	kind        authKind
	user, token string
}

type authKind int

const (
	authDefault authKind = iota
	authNone
	authBearer
	authBasic
)

// NoAuth sends no Authorization header.
func NoAuth() Auth { return Auth{kind: authNone} }

// Bearer sends this access token instead of the client's.
func Bearer(token string) Auth { return Auth{kind: authBearer, token: token} }

// Basic sends HTTP Basic credentials (an OAuth 2.0 client's ID and secret).
func Basic(user, password string) Auth { return Auth{kind: authBasic, user: user, token: password} }

// Request is one request, as a client method states it.
type Request struct {
	Method string
	// Segments are the path segments under the base URL, each escaped.
	Segments []string
	Query    url.Values
	// Body is sent as JSON (nil: no body), or Form as a form.
	Body any
	Form url.Values
	// Out receives a 2xx JSON answer (nil: the answer is not decoded).
	Out any
	// Limit is the most its answer can legitimately bring (answers.go):
	// each call site states it.
	Limit Limit
	// Auth overrides the client's token.
	Auth Auth
}

// newRequest is the one place requests are built: it joins path segments to
// the base URL (escaping each one, since a localpart may contain '/'), adds
// the query, encodes the body and sets the headers. It never sets
// X-Forwarded-For (MAS keys its login limit on it, whoever sends it).
func (c *Client) newRequest(ctx context.Context, r Request) (*retryablehttp.Request, error) {
	u := *c.base
	var raw, plain strings.Builder
	raw.WriteString(c.base.EscapedPath())
	plain.WriteString(c.base.Path)
	for _, s := range r.Segments {
		raw.WriteString("/" + url.PathEscape(s))
		plain.WriteString("/" + s)
	}
	u.Path, u.RawPath = plain.String(), raw.String()
	u.RawQuery = r.Query.Encode()

	var payload any // nil, or []byte so that retries can resend it
	contentType := ""
	switch {
	case r.Form != nil:
		payload, contentType = []byte(r.Form.Encode()), "application/x-www-form-urlencoded"
	case r.Body != nil:
		data, err := json.Marshal(r.Body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request body: %w", err)
		}
		payload, contentType = data, "application/json"
	}
	req, err := retryablehttp.NewRequestWithContext(withPendingRetry(c.WithWaitBudget(ctx)), r.Method, u.String(), payload)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", r.Method, u.Path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", c.userAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	switch r.Auth.kind {
	case authDefault:
		token := *c.token.Load()
		if c.tokens != nil {
			if token, err = c.tokens.Token(ctx); err != nil {
				return nil, err
			}
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	case authBearer:
		req.Header.Set("Authorization", "Bearer "+r.Auth.token)
	case authBasic:
		req.SetBasicAuth(r.Auth.user, r.Auth.token)
	}
	return req, nil
}

// do is the one place answers are handled: it sends the request (with
// retries), reads the whole body inside the retry loop so that a connection
// cut mid-answer is retried too, and decodes a 2xx JSON answer into out or
// turns anything else into the dialect's error, *ResponseError or
// *UnreachableError. An answer longer than limit, or compressed, is refused
// unread (answers.go). It returns the HTTP status of a successful answer.
func (c *Client) do(req *retryablehttp.Request, out any, limit Limit) (int, error) {
	var body *heldAnswer
	defer func() { body.release() }()
	req.SetResponseHandler(func(resp *http.Response) error {
		held, err := readAnswer(resp, limit, c.budget)
		if err != nil {
			return err
		}
		body.release() // an earlier attempt's, when this one is a retry
		body = held
		return nil
	})
	method, path := req.Method, req.URL.Path
	resp, err := c.http.Do(req)
	refused := func(resp *http.Response, r *refusedAnswer) error {
		return &ResponseError{Server: c.dialect.Server, URLOption: c.dialect.URLOption, Method: method, Path: path, Status: resp.StatusCode,
			ContentType: resp.Header.Get("Content-Type"), Size: -1, Reason: r.reason}
	}
	var r *refusedAnswer
	if err != nil {
		if resp != nil {
			resp.Body.Close()
			if errors.As(err, &r) {
				return 0, refused(resp, r)
			}
		}
		return 0, &UnreachableError{Server: c.dialect.Server, Method: method, URL: redact(req.URL), Err: c.describeTransportError(err)}
	}
	if body == nil {
		// Retries ran out on a retryable status: the response handler never
		// ran, the body is still unread.
		body, err = readAnswer(resp, limit, c.budget)
		if errors.As(err, &r) {
			return 0, refused(resp, r)
		}
		if err != nil {
			return 0, &UnreachableError{Server: c.dialect.Server, Method: method, URL: redact(req.URL), Err: err}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return 0, &ResponseError{Server: c.dialect.Server, URLOption: c.dialect.URLOption, Method: method, Path: path, Status: resp.StatusCode,
				Reason: fmt.Sprintf("a redirect to \"%s\"", Untrusted(resp.Header.Get("Location"), MaxHeader)), Redirect: true}
		}
		a := Answer{Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: body.data, dialect: &c.dialect}
		return 0, c.NoteRefusedWait(req.Context(), c.dialect.Error(a))
	}
	if out != nil {
		if err := json.Unmarshal(body.data, out); err != nil {
			reason := "not the JSON " + c.dialect.server() + " sends"
			var bad *BadAnswer
			if errors.As(err, &bad) {
				reason = bad.Reason
			}
			return 0, &ResponseError{Server: c.dialect.Server, URLOption: c.dialect.URLOption, Method: method, Path: path, Status: resp.StatusCode,
				ContentType: resp.Header.Get("Content-Type"), Size: len(body.data),
				Reason: reason}
		}
	}
	return resp.StatusCode, nil
}

// server is the server's name in messages.
func (d Dialect) server() string {
	if d.Server == "" {
		return "Synapse"
	}
	return d.Server
}

// NoteRefusedWait says why an answer that asked to be retried later was
// not: the wait it asked for did not fit in the cap on waits per request.
func (c *Client) NoteRefusedWait(ctx context.Context, err error) error {
	if wait := budgetOf(ctx).refusedWait(); wait > 0 {
		return fmt.Errorf("%w; not retried: the server asked to wait %s, and this module waits at most %s per request", err, wait.Round(time.Second), c.maxWait)
	}
	return err
}

// describeTransportError says plainly what went wrong on the wire; a
// timeout in particular names the option that sets it.
func (c *Client) describeTransportError(err error) error {
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		return problem.Errorf(problem.Server, "no answer within %s (the %s option)", c.timeout, problem.Name("timeout"))
	}
	if permanentTransportError(err) {
		return problem.Errorf(problem.Server, "%s; the server's TLS certificate is not trusted: give %s the CA that signed it (or set %s: false, which is unsafe)",
			unwrapURLError(err), problem.Name("ca_path"), problem.Name("validate_certs"))
	}
	return unwrapURLError(err)
}

// Do builds and sends one request and returns the HTTP status of a
// successful answer. A read-only client refuses a write before building
// it.
func (c *Client) Do(ctx context.Context, r Request) (int, error) {
	if r.Method != http.MethodGet && c.readOnly.Load() && ctx.Value(writeAllowedKey{}) == nil {
		return 0, ErrReadOnly
	}
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return 0, err
	}
	return c.do(req, r.Out, r.Limit)
}

func redact(u *url.URL) string {
	v := *u
	v.User = nil
	return v.String()
}

// peekBody reads the start of a body (an API error is small) and puts it
// back in front of the rest, so that a retry policy can look at an answer
// and still leave the whole of it to do(), which applies its limits.
func peekBody(resp *http.Response) []byte {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, int64(LimitSmall)))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(data), resp.Body), resp.Body}
	return data
}
