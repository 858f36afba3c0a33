// Package synapse is a client for the parts of Synapse's admin and client
// APIs that manage user accounts. One place builds requests (newRequest), one
// place sends them and turns answers into values or typed errors (do), and
// retries with backoff happen underneath, in go-retryablehttp.
package synapse

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

// Config says how to reach Synapse.
type Config struct {
	// BaseURL is the homeserver URL. It may carry a path prefix
	// (https://host/matrix) when Synapse sits behind a reverse proxy.
	BaseURL string
	// Token is an access token; it may be set later with SetToken.
	Token string
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
	// Synapse does not say how long to wait.
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// UserAgent identifies the module in Synapse's logs.
	UserAgent string
}

// Client talks to one Synapse. It is safe for concurrent use: a batch shares
// one Client, and so one pool of keep-alive connections.
type Client struct {
	base      *url.URL
	token     atomic.Pointer[string]
	http      *retryablehttp.Client
	userAgent string
	maxWait   time.Duration
	timeout   time.Duration
	// budget bounds the answers held at once (answers.go).
	budget *byteBudget
	// serverUsers is the number of accounts the user list last announced
	// (0: not read yet): it bounds the answer of a hash search over them.
	serverUsers atomic.Int64
	// readOnly refuses every request but a GET (and the logout): check
	// mode (ReadOnly).
	readOnly atomic.Bool
}

// ErrReadOnly is a write the client refused to send: it was made read-only
// for a check-mode run, which only reads. Reaching it is a bug of the
// module (the planner decided to write in check mode); nothing was sent.
var ErrReadOnly = errors.New("internal error: a check-mode run tried to send a write, which was not sent (please report it)")

// ReadOnly makes every later request other than a GET fail with
// ErrReadOnly before it is sent, the logout of a login excepted: what
// "check mode only reads" means, kept by the one place requests go
// through rather than by every caller.
func (c *Client) ReadOnly() { c.readOnly.Store(true) }

type writeAllowedKey struct{}

// maxHeaderSize bounds the headers of one answer (Go's default is 10 MB):
// Synapse's are a few hundred bytes.
const maxHeaderSize = 64 << 10

// ParseBaseURL checks a homeserver URL. It is exported so that option
// validation can refuse a bad URL before any request is made.
func ParseBaseURL(raw string) (*url.URL, error) {
	for i, r := range []rune(raw) {
		if unicode.IsSpace(r) || unsafeRune(r) {
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
		return nil, problem.Errorf(problem.Invalid, "must not carry credentials; use %s", problem.AdminCredentials{})
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

// New builds a client. It reads the CA file but sends nothing.
func New(cfg Config) (*Client, error) {
	base, err := ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, problem.Errorf(problem.Invalid, "%s %s", problem.Name("homeserver_url"), err)
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
	c := &Client{base: base, userAgent: cfg.UserAgent, maxWait: cfg.MaxRetryWait, timeout: cfg.Timeout, budget: answerBudget}
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

// BaseURL returns the homeserver URL requests are sent to.
func (c *Client) BaseURL() string { return c.base.String() }

// newRequest is the one place requests are built: it joins path segments to
// the base URL (escaping each one, since a localpart may contain '/'), adds
// the query, encodes the body and sets the headers.
func (c *Client) newRequest(ctx context.Context, method string, segments []string, query url.Values, body any) (*retryablehttp.Request, error) {
	u := *c.base
	var raw, plain strings.Builder
	raw.WriteString(c.base.EscapedPath())
	plain.WriteString(c.base.Path)
	for _, s := range segments {
		raw.WriteString("/" + url.PathEscape(s))
		plain.WriteString("/" + s)
	}
	u.Path, u.RawPath = plain.String(), raw.String()
	u.RawQuery = query.Encode()

	var payload any // nil, or []byte so that retries can resend it
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request body: %w", err)
		}
		payload = data
	}
	req, err := retryablehttp.NewRequestWithContext(withPendingRetry(c.withWaitBudget(ctx)), method, u.String(), payload)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, u.Path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token := *c.token.Load(); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// do is the one place answers are handled: it sends the request (with
// retries), reads the whole body inside the retry loop so that a connection
// cut mid-answer is retried too, and decodes a 2xx JSON answer into out or
// turns anything else into *Error, *ResponseError or *UnreachableError.
// An answer longer than limit, or compressed, is refused unread
// (answers.go). It returns the HTTP status of a successful answer.
func (c *Client) do(req *retryablehttp.Request, out any, limit answerLimit) (int, error) {
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
		return &ResponseError{Method: method, Path: path, Status: resp.StatusCode,
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
		return 0, &UnreachableError{Method: method, URL: redact(req.URL), Err: c.describeTransportError(err)}
	}
	if body == nil {
		// Retries ran out on a retryable status: the response handler never
		// ran, the body is still unread.
		body, err = readAnswer(resp, limit, c.budget)
		if errors.As(err, &r) {
			return 0, refused(resp, r)
		}
		if err != nil {
			return 0, &UnreachableError{Method: method, URL: redact(req.URL), Err: err}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return 0, &ResponseError{Method: method, Path: path, Status: resp.StatusCode,
				Reason: fmt.Sprintf("a redirect to \"%s\"", untrusted(resp.Header.Get("Location"), maxHeader)), Redirect: true}
		}
		return 0, c.noteRefusedWait(req.Context(), errorFromResponse(method, path, resp, body.data))
	}
	if out != nil {
		if err := json.Unmarshal(body.data, out); err != nil {
			reason := "not the JSON Synapse sends"
			var bad *badAnswer
			if errors.As(err, &bad) {
				reason = bad.reason
			}
			return 0, &ResponseError{Method: method, Path: path, Status: resp.StatusCode,
				ContentType: resp.Header.Get("Content-Type"), Size: len(body.data),
				Reason: reason}
		}
	}
	return resp.StatusCode, nil
}

// noteRefusedWait says why an answer that asked to be retried later was
// not: the wait it asked for did not fit in the cap on waits per request.
func (c *Client) noteRefusedWait(ctx context.Context, err error) error {
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

// call builds and sends one request. limit is the most its answer can
// legitimately bring (answers.go): each call site states it.
func (c *Client) call(ctx context.Context, method string, segments []string, query url.Values, body, out any, limit answerLimit) (int, error) {
	if method != http.MethodGet && c.readOnly.Load() && ctx.Value(writeAllowedKey{}) == nil {
		return 0, ErrReadOnly
	}
	req, err := c.newRequest(ctx, method, segments, query, body)
	if err != nil {
		return 0, err
	}
	return c.do(req, out, limit)
}

func redact(u *url.URL) string {
	v := *u
	v.User = nil
	return v.String()
}

// peekBody reads the start of a body (a Matrix error is small) and puts it
// back in front of the rest, so that a retry policy can look at an answer
// and still leave the whole of it to do(), which applies its limits.
func peekBody(resp *http.Response) []byte {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, int64(limitSmall)))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(data), resp.Body), resp.Body}
	return data
}
