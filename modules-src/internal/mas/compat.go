package mas

import (
	"context"
	"net/http"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
)

var compatV3 = []string{"_matrix", "client", "v3"}

// CompatLogin logs a user in with a password through MAS's compatibility
// login: POST /_matrix/client/v3/login (at MAS, not Synapse, which does not
// serve it under MAS). It is how update_password=always verifies a declared
// password (MAS exposes no hashes); the caller ends the session at once
// (CompatLogout). match is false when MAS answers 403 (a wrong password,
// or a user without one). A 429 (MAS's login rate limit) is not retried
// here: it comes back as *Error for the caller, which knows the limit.
// Sent even in check mode: it is the only way to read whether the password
// matches, and it is logged out before the run goes on.
func (c *Client) CompatLogin(ctx context.Context, username, password string) (token string, match bool, err error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	ctx = httpapi.WithRetryPolicy(httpapi.AllowWrite(ctx), httpapi.RetryPolicy{Transport: true, ServerError: true})
	_, err = c.api.Do(ctx, httpapi.Request{
		Method:   http.MethodPost,
		Segments: append(append([]string{}, compatV3...), "login"),
		Body: map[string]any{
			"type":       "m.login.password",
			"identifier": map[string]any{"type": "m.id.user", "user": username},
			"password":   password,
		},
		Auth: httpapi.NoAuth(), Out: &out, Limit: httpapi.LimitSmall,
	})
	if StatusOf(err) == http.StatusForbidden {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if out.AccessToken == "" {
		return "", false, &httpapi.ResponseError{Server: "MAS", URLOption: "mas_url", Method: http.MethodPost, Path: "/_matrix/client/v3/login", Status: http.StatusOK, Size: -1, Reason: "a login answer without an access token"}
	}
	if c.AddSecret != nil {
		c.AddSecret(out.AccessToken)
	}
	return out.AccessToken, true, nil
}

// CompatLogout ends the session of a CompatLogin at once:
// POST /_matrix/client/v3/logout with its token. MAS deletes its device in
// Synapse within about a second.
func (c *Client) CompatLogout(ctx context.Context, token string) error {
	_, err := c.api.Do(httpapi.AllowWrite(ctx), httpapi.Request{
		Method:   http.MethodPost,
		Segments: append(append([]string{}, compatV3...), "logout"),
		Body:     map[string]any{},
		Auth:     httpapi.Bearer(token), Limit: httpapi.LimitSmall,
	})
	return err
}
