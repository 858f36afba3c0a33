// Package mas is a client for the admin API of the Matrix Authentication
// Service (MAS), which owns the accounts and passwords of a homeserver that
// delegates authentication to it. Requests go through the collection's one
// HTTP transport (internal/httpapi); this package says what MAS's endpoints
// are, gets and renews the admin token (OAuth 2.0 client_credentials with
// the scope urn:mas:admin), reads MAS's JSON:API answers and turns its
// error answers into *Error (errors.go).
package mas

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Config says how to reach MAS: the transport's settings (BaseURL is MAS's
// public base, e.g. https://example.com/auth) and the admin client.
type Config struct {
	httpapi.Config
	ClientID     string
	ClientSecret string
	// Now is the clock of token renewals (tests); nil is time.Now.
	Now func() time.Time
}

// Client talks to one MAS. It is safe for concurrent use.
type Client struct {
	api          *httpapi.Client
	clientID     string
	clientSecret string
	now          func() time.Time
	// AddSecret, when set, is told every admin token the client gets, so
	// that the module keeps it out of everything it prints.
	AddSecret func(string)

	mu      sync.Mutex
	token   string
	expires time.Time
}

// ScopeAdmin is the scope of MAS's admin API.
const ScopeAdmin = "urn:mas:admin"

// tokenMargin is how long before its expiry a token is renewed: MAS's
// admin tokens live 300 s, and a request sent with one about to expire
// could be refused midway through a batch.
const tokenMargin = 60 * time.Second

// dialect is what the transport needs to know of MAS.
var dialect = httpapi.Dialect{Server: "MAS", URLOption: "mas_url", Error: errorFromAnswer}

// New builds a client. It sends nothing.
func New(cfg Config) (*Client, error) {
	if _, err := httpapi.ParseBaseURL(cfg.BaseURL, problem.Name("mas_client_id")); err != nil {
		return nil, problem.Errorf(problem.Invalid, "%s %s", problem.Name("mas_url"), err)
	}
	c := &Client{clientID: cfg.ClientID, clientSecret: cfg.ClientSecret, now: cfg.Now}
	if c.now == nil {
		c.now = time.Now
	}
	hc := cfg.Config
	hc.Tokens = c
	api, err := httpapi.New(hc, dialect)
	if err != nil {
		return nil, err
	}
	c.api = api
	return c, nil
}

// ReadOnly makes every later write fail before it is sent (check mode);
// the admin token's grant is still sent: it changes no account.
func (c *Client) ReadOnly() { c.api.ReadOnly() }

// BaseURL is MAS's URL.
func (c *Client) BaseURL() string { return c.api.BaseURL() }

// Token is the admin token of the next request (httpapi.TokenSource): the
// current one, or a new one when it is about to expire.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Add(tokenMargin).Before(c.expires) {
		return c.token, nil
	}
	tok, err := c.GrantToken(ctx)
	if err != nil {
		return "", err
	}
	c.token = tok.AccessToken
	c.expires = c.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	if c.AddSecret != nil {
		c.AddSecret(tok.AccessToken)
	}
	return c.token, nil
}

// TokenAnswer is MAS's answer to a token grant.
type TokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// GrantToken gets an admin token: POST /oauth2/token with the client's ID
// and secret (HTTP Basic) and grant_type=client_credentials,
// scope=urn:mas:admin. Allowed in check mode: it changes no account.
func (c *Client) GrantToken(ctx context.Context) (*TokenAnswer, error) {
	out := &TokenAnswer{}
	_, err := c.api.Do(httpapi.AllowWrite(ctx), httpapi.Request{
		Method:   http.MethodPost,
		Segments: []string{"oauth2", "token"},
		Form:     url.Values{"grant_type": {"client_credentials"}, "scope": {ScopeAdmin}},
		Auth:     httpapi.Basic(c.clientID, c.clientSecret),
		Out:      out, Limit: httpapi.LimitSmall,
	})
	if err != nil {
		return nil, err
	}
	if out.AccessToken == "" || out.ExpiresIn <= 0 {
		return nil, problem.Errorf(problem.Server, "MAS granted no usable admin token (POST /oauth2/token answered without an access token or expiry)")
	}
	return out, nil
}

var adminV1 = []string{"api", "admin", "v1"}

func path(rest ...string) []string { return append(append([]string{}, adminV1...), rest...) }

// call sends one admin API request with the admin token.
func (c *Client) call(ctx context.Context, method string, segments []string, query url.Values, body, out any, limit httpapi.Limit) (int, error) {
	return c.api.Do(ctx, httpapi.Request{Method: method, Segments: segments, Query: query, Body: body, Out: out, Limit: limit})
}
