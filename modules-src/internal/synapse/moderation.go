package synapse

import (
	"context"
	"net/http"
)

// The endpoints of the per-user fields that are not in the user's PUT:
// Synapse writes each with a request of its own, which needs the account
// to exist.

// Ratelimit is a user's override of Synapse's rate limits, as Synapse
// names its two numbers. Synapse applies the numbers to sending events
// (messages); 0 messages per second takes the user out of every rate limit
// that is checked per user (joins, invites, room creation...), but not out
// of the login limits, which count per account and address (synapse#11785).
type Ratelimit struct {
	MessagesPerSecond int64 `json:"messages_per_second"`
	BurstCount        int64 `json:"burst_count"`
}

// Ratelimit reads a user's rate-limit override:
// GET /_synapse/admin/v1/users/<user_id>/override_ratelimit. nil when the
// user has none (Synapse answers {}).
func (c *Client) Ratelimit(ctx context.Context, userID string) (*Ratelimit, error) {
	var out struct {
		MessagesPerSecond *int64 `json:"messages_per_second"`
		BurstCount        *int64 `json:"burst_count"`
	}
	if _, err := c.call(ctx, http.MethodGet, path(adminV1, "users", userID, "override_ratelimit"), nil, nil, &out, limitSmall); err != nil {
		return nil, err
	}
	if out.MessagesPerSecond == nil && out.BurstCount == nil {
		return nil, nil
	}
	return &Ratelimit{MessagesPerSecond: derefInt64(out.MessagesPerSecond), BurstCount: derefInt64(out.BurstCount)}, nil
}

// SetRatelimit sets a user's rate-limit override:
// POST /_synapse/admin/v1/users/<user_id>/override_ratelimit.
func (c *Client) SetRatelimit(ctx context.Context, userID string, r Ratelimit) error {
	_, err := c.call(ctx, http.MethodPost, path(adminV1, "users", userID, "override_ratelimit"), nil, r, nil, limitSmall)
	return err
}

// DeleteRatelimit removes a user's rate-limit override, so that the
// server's limits apply again:
// DELETE /_synapse/admin/v1/users/<user_id>/override_ratelimit.
func (c *Client) DeleteRatelimit(ctx context.Context, userID string) error {
	_, err := c.call(ctx, http.MethodDelete, path(adminV1, "users", userID, "override_ratelimit"), nil, nil, nil, limitSmall)
	return err
}

// ShadowBan shadow-bans a user (POST /_synapse/admin/v1/users/<user_id>/shadow_ban)
// or lifts the ban (DELETE on the same path). A shadow-banned user's
// messages, invites and room creations seem to succeed, and nobody else
// sees them.
func (c *Client) ShadowBan(ctx context.Context, userID string, ban bool) error {
	method := http.MethodPost
	if !ban {
		method = http.MethodDelete
	}
	_, err := c.call(ctx, method, path(adminV1, "users", userID, "shadow_ban"), nil, nil, nil, limitSmall)
	return err
}

// Suspend suspends a user, or lifts the suspension:
// PUT /_synapse/admin/v1/suspend/<user_id> {"suspend": suspend} (Synapse
// 1.122 on; from 1.110 only with experimental_features.msc3823). A
// suspended user can read but not send, join or change their profile.
func (c *Client) Suspend(ctx context.Context, userID string, suspend bool) error {
	_, err := c.call(ctx, http.MethodPut, path(adminV1, "suspend", userID), nil, map[string]bool{"suspend": suspend}, nil, limitSmall)
	return err
}

// CanSuspend asks Synapse whether it serves the suspend endpoint, without
// writing: GET /_synapse/admin/v1/suspend/<user_id>. The endpoint takes
// only PUT, and Synapse routes a request before it checks anything else:
// a path it serves with another method answers 405, a path it does not
// serve 404 M_UNRECOGNIZED. Anything else cannot tell, and is an error.
func (c *Client) CanSuspend(ctx context.Context, userID string) (bool, error) {
	_, err := c.call(ctx, http.MethodGet, path(adminV1, "suspend", userID), nil, nil, nil, limitSmall)
	switch {
	case err == nil, StatusOf(err) == http.StatusMethodNotAllowed:
		return true, nil
	case StatusOf(err) == http.StatusNotFound && HasErrcode(err, ErrcodeUnrecognized):
		return false, nil
	}
	return false, err
}

func derefInt64(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}
