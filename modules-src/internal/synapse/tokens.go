package synapse

import (
	"context"
	"net/http"
	"strings"
)

// The registration-token endpoints: /_synapse/admin/v1/registration_tokens.
// Synapse names a token by its value (the secret a person types at sign-up),
// so the value is in the path of every request about one token: callers
// treat errors of these methods as carrying it (the module scrubs every
// token value it reads).

// ErrcodeInvalidParam is Synapse's answer to a create of a token that
// exists, and to values it refuses.
const ErrcodeInvalidParam = "M_INVALID_PARAM"

// RegistrationToken is a token as Synapse reports it.
type RegistrationToken struct {
	Token string `json:"token"`
	// UsesAllowed is how many sign-ups may complete with it; nil is
	// unlimited. Synapse 1.90 to 1.163 let sign-ups through a token whose
	// uses_allowed is 0 (its check reads 0 as "no limit").
	UsesAllowed *int64 `json:"uses_allowed"`
	// Pending counts sign-ups that passed the token stage but did not
	// finish; Completed those that finished. Both are Synapse's own.
	Pending   int64 `json:"pending"`
	Completed int64 `json:"completed"`
	// ExpiryTime is when it stops working, in milliseconds since the
	// epoch; nil is never.
	ExpiryTime *int64 `json:"expiry_time"`
}

// NewRegistrationToken is what a create sends: nil fields are left to
// Synapse's defaults (unlimited, never expires).
type NewRegistrationToken struct {
	Token       string `json:"token"`
	UsesAllowed *int64 `json:"uses_allowed,omitempty"`
	ExpiryTime  *int64 `json:"expiry_time,omitempty"`
}

// RegistrationTokenUpdate is the body of a modify: only the keys present
// are changed; a key whose value is nil is sent as null (unlimited uses,
// no expiry).
type RegistrationTokenUpdate map[string]*int64

// tokenListSize is the most one token of the list takes: a 64-character
// value, every character \u-escaped, and four numbers.
const tokenListSize = 1 << 10

// limitTokens bounds the token list: Synapse does not page it, and a
// million tokens is beyond any server this module is meant for.
const limitTokens = limitSmall + 1_000_000*tokenListSize

var tokensPath = path(adminV1, "registration_tokens")

// RegistrationTokens lists every registration token, valid or not:
// GET /_synapse/admin/v1/registration_tokens (one answer, not paged).
func (c *Client) RegistrationTokens(ctx context.Context) ([]RegistrationToken, error) {
	var out struct {
		Tokens *[]RegistrationToken `json:"registration_tokens"`
	}
	if _, err := c.call(ctx, http.MethodGet, tokensPath, nil, nil, &out, min(limitTokens, maxAnswerSize)); err != nil {
		return nil, err
	}
	if out.Tokens == nil {
		return nil, &ResponseError{Method: http.MethodGet, Path: "/" + strings.Join(tokensPath, "/"), Status: http.StatusOK, Reason: "an answer without registration_tokens"}
	}
	return *out.Tokens, nil
}

// RegistrationToken reads one token:
// GET /_synapse/admin/v1/registration_tokens/<token>. A token that does not
// exist is (nil, nil).
func (c *Client) RegistrationToken(ctx context.Context, token string) (*RegistrationToken, error) {
	var t RegistrationToken
	if _, err := c.call(ctx, http.MethodGet, path(tokensPath, token), nil, nil, &t, limitSmall); err != nil {
		if HasErrcode(err, ErrcodeNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return &t, nil
}

// CreateRegistrationToken creates a token with the value given:
// POST /_synapse/admin/v1/registration_tokens/new (Synapse answers 200).
// Synapse refuses a value that exists (400 M_INVALID_PARAM), so a create
// never lands on another token. maybe is true when an attempt's answer was
// lost and a retry was refused as a duplicate: the lost attempt may have
// created it, or someone else did meanwhile (t is nil then).
func (c *Client) CreateRegistrationToken(ctx context.Context, n NewRegistrationToken) (t *RegistrationToken, maybe bool, err error) {
	lost := &answerLost{}
	var out RegistrationToken
	_, err = c.call(withAnswerLost(ctx, lost), http.MethodPost, path(tokensPath, "new"), nil, n, &out, limitSmall)
	if err != nil {
		if lost.Load() && HasErrcode(err, ErrcodeInvalidParam) {
			return nil, true, nil
		}
		return nil, false, err
	}
	return &out, false, nil
}

// UpdateRegistrationToken changes a token's uses_allowed and expiry_time
// (the only keys Synapse takes; it ignores pending and completed):
// PUT /_synapse/admin/v1/registration_tokens/<token>. Synapse refuses an
// expiry_time in the past (400 M_INVALID_PARAM), and a token that does not
// exist (404 M_NOT_FOUND): a modify never creates.
func (c *Client) UpdateRegistrationToken(ctx context.Context, token string, u RegistrationTokenUpdate) (*RegistrationToken, error) {
	var out RegistrationToken
	if _, err := c.call(ctx, http.MethodPut, path(tokensPath, token), nil, u, &out, limitSmall); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteRegistrationToken deletes a token:
// DELETE /_synapse/admin/v1/registration_tokens/<token> (404 M_NOT_FOUND
// when it does not exist). Accounts made with it are not affected.
func (c *Client) DeleteRegistrationToken(ctx context.Context, token string) error {
	_, err := c.call(ctx, http.MethodDelete, path(tokensPath, token), nil, nil, nil, limitSmall)
	return err
}
