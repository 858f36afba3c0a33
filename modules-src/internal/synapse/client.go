// Package synapse is a client for the parts of Synapse's admin and client
// APIs that manage user accounts. Requests go through the collection's one
// HTTP transport (internal/httpapi: request building, retries with bounded
// waits, bounded answers, redirect refusal, TLS and timeouts); this package
// says what Synapse's endpoints are and turns Synapse's answers into values
// or typed errors (errors.go).
package synapse

import (
	"context"
	"encoding/json"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Config says how to reach Synapse (httpapi.Config: the homeserver URL,
// the token, TLS, timeouts, retries).
type Config = httpapi.Config

// Client talks to one Synapse. It is safe for concurrent use: a batch shares
// one Client, and so one pool of keep-alive connections.
type Client struct {
	api *httpapi.Client
	// serverUsers is the number of accounts the user list last announced
	// (0: not read yet): it bounds the answer of a hash search over them.
	serverUsers atomic.Int64
}

// The transport's names, as this package's callers know them.
type (
	UnreachableError = httpapi.UnreachableError
	ResponseError    = httpapi.ResponseError
	RetryLog         = httpapi.RetryLog
	answerLimit      = httpapi.Limit
	answerLost       = httpapi.AnswerLost
	retryPolicy      = httpapi.RetryPolicy
	serverID         = httpapi.Identifier
)

// ErrReadOnly is a write a check-mode client refused to send.
var ErrReadOnly = httpapi.ErrReadOnly

// RetryCauseConnection counts the retries after no (complete) answer.
const RetryCauseConnection = httpapi.RetryCauseConnection

var (
	// NewRetryLog returns an empty RetryLog.
	NewRetryLog = httpapi.NewRetryLog
	// WithRetryLog makes every request sent with ctx count its retries.
	WithRetryLog    = httpapi.WithRetryLog
	withRetryPolicy = httpapi.WithRetryPolicy
	withAnswerLost  = httpapi.WithAnswerLost
	untrusted       = httpapi.Untrusted
)

const (
	maxErrcode    = httpapi.MaxErrcode
	maxErrorText  = httpapi.MaxErrorText
	maxHeader     = httpapi.MaxHeader
	limitSmall    = httpapi.LimitSmall
	maxAnswerSize = httpapi.MaxAnswer
)

// checkIdentifier refuses an identifier from an answer that holds
// whitespace, control or invisible format characters.
func checkIdentifier(what, s string) error { return httpapi.CheckIdentifier(what, s) }

// dialect is what the transport needs to know of Synapse: its name, the
// option of its URL, how its error answers look and what wait a 429's body
// asks for.
var dialect = httpapi.Dialect{
	Server:    "Synapse",
	URLOption: "homeserver_url",
	Error:     errorFromAnswer,
	Wait: func(body []byte) time.Duration {
		var m matrixErrorBody
		if json.Unmarshal(body, &m) != nil || m.RetryAfterMs == nil || *m.RetryAfterMs <= 0 {
			return 0
		}
		return time.Duration(*m.RetryAfterMs) * time.Millisecond
	},
}

// ReadOnly makes every later request other than a GET fail with
// ErrReadOnly before it is sent, the logout of a login excepted: what
// "check mode only reads" means, kept by the one place requests go
// through rather than by every caller.
func (c *Client) ReadOnly() { c.api.ReadOnly() }

// ParseBaseURL checks a homeserver URL. It is exported so that option
// validation can refuse a bad URL before any request is made.
func ParseBaseURL(raw string) (*url.URL, error) {
	return httpapi.ParseBaseURL(raw, problem.AdminCredentials{})
}

// New builds a client. It reads the CA file but sends nothing.
func New(cfg Config) (*Client, error) {
	if _, err := ParseBaseURL(cfg.BaseURL); err != nil {
		return nil, problem.Errorf(problem.Invalid, "%s %s", problem.Name("homeserver_url"), err)
	}
	api, err := httpapi.New(cfg, dialect)
	if err != nil {
		return nil, err
	}
	return &Client{api: api}, nil
}

// SetToken sets the access token sent with every later request.
func (c *Client) SetToken(token string) { c.api.SetToken(token) }

// BaseURL returns the homeserver URL requests are sent to.
func (c *Client) BaseURL() string { return c.api.BaseURL() }

// call builds and sends one request through the transport. limit is the
// most its answer can legitimately bring (httpapi's answers.go): each call
// site states it.
func (c *Client) call(ctx context.Context, method string, segments []string, query url.Values, body, out any, limit answerLimit) (int, error) {
	return c.api.Do(ctx, httpapi.Request{Method: method, Segments: segments, Query: query, Body: body, Out: out, Limit: limit})
}
