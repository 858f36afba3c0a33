package synapse

import (
	"context"
	"errors"
	"net/http"
)

var clientV3 = []string{"_matrix", "client", "v3"}

// Whoami returns the user ID the access token belongs to.
func (c *Client) Whoami(ctx context.Context) (string, error) {
	var out struct {
		UserID string `json:"user_id"`
	}
	if _, err := c.call(ctx, http.MethodGet, path(clientV3, "account", "whoami"), nil, nil, &out); err != nil {
		return "", err
	}
	return out.UserID, nil
}

// LoginResult is what a password login gives.
type LoginResult struct {
	UserID      string `json:"user_id"`
	AccessToken string `json:"access_token"`
	DeviceID    string `json:"device_id"`
}

// Login logs in with a password on the given device (each run its own, see
// session.DevicePrefix). A login
// that Synapse rate-limits is not retried: the limit is one login every few
// minutes, and waiting that long inside a task is worse than failing with the
// wait time in the message.
func (c *Client) Login(ctx context.Context, user, password, deviceID string) (*LoginResult, error) {
	body := map[string]any{
		"type":                        "m.login.password",
		"identifier":                  map[string]string{"type": "m.id.user", "user": user},
		"password":                    password,
		"device_id":                   deviceID,
		"initial_device_display_name": "mxadmin.synapse (Ansible)",
	}
	ctx = withRetryPolicy(ctx, retryPolicy{transport: true, serverError: true})
	var out LoginResult
	if _, err := c.call(ctx, http.MethodPost, path(clientV3, "login"), nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Logout ends the session of the current token and removes its device.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.call(ctx, http.MethodPost, path(clientV3, "logout"), nil, map[string]any{}, nil)
	return err
}

// DelegatesAuth reports whether the homeserver hands authentication to
// Matrix Authentication Service (MAS). Synapse registers auth_metadata only
// then: a 404 means no MAS, and an answer from Synapse itself (its metadata,
// or a Matrix error when it cannot fetch MAS's) means MAS.
func (c *Client) DelegatesAuth(ctx context.Context) (bool, error) {
	_, err := c.call(ctx, http.MethodGet, []string{"_matrix", "client", "v1", "auth_metadata"}, nil, nil, nil)
	var e *Error
	switch {
	case err == nil:
		return true, nil
	case StatusOf(err) == http.StatusNotFound:
		return false, nil
	case errors.As(err, &e) && e.Status >= 500:
		return true, nil
	}
	return false, err
}

// ServerNameFromKeys learns the server name without authentication, from
// the server's signing keys, which Synapse serves when its listener has the
// federation (or keys) resource. It is how shared-secret-only runs check a
// full user ID before registering anything.
func (c *Client) ServerNameFromKeys(ctx context.Context) (string, error) {
	var out struct {
		ServerName string `json:"server_name"`
	}
	if _, err := c.call(ctx, http.MethodGet, []string{"_matrix", "key", "v2", "server"}, nil, nil, &out); err != nil {
		return "", err
	}
	return out.ServerName, nil
}
