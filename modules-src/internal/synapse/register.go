package synapse

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Synapse's shared-secret registration is defined with HMAC-SHA1
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
)

// Registration is one account to create with the registration shared secret.
type Registration struct {
	Localpart   string
	Password    string
	Admin       bool
	UserType    string // "" for a regular user
	Displayname *string
	// DeviceID, when set, logs the new account in on that device (with
	// DeviceName as its display name): the answer then carries an access
	// token, which saves the login that would follow. Without it no device
	// or token is made (inhibit_login).
	DeviceID   string
	DeviceName string
}

// Registered is the outcome of a shared-secret registration.
type Registered struct {
	UserID string
	// Retried is true when an earlier attempt's answer was lost (connection
	// cut, server restarted): that attempt may have created the user.
	Retried bool
	// AccessToken and DeviceID are the new account's session when the
	// registration logged in (Registration.DeviceID).
	AccessToken string
	DeviceID    string
}

// Register creates an account with the shared secret, which works before
// any admin account exists: GET /_synapse/admin/v1/register for a nonce,
// then POST /_synapse/admin/v1/register. A nonce is
// single-use and lives only in the memory of the Synapse process that issued
// it, so a failed POST is never retried alone: the GET and the POST are
// retried together, with a fresh nonce. No login is done for the new account
// (inhibit_login) unless Registration.DeviceID asks for one, so no device or
// token is left behind.
func (c *Client) Register(ctx context.Context, secret string, r Registration) (*Registered, error) {
	out := &Registered{}
	if c.api.IsReadOnly() {
		return out, ErrReadOnly // not even a nonce: the pair is one write
	}
	// One wait budget for the whole registration: its waits between pairs
	// are bounded like those of any single request.
	ctx = c.api.WithWaitBudget(ctx)
	attempts := c.api.MaxRetries() + 1
	nonceLostOnce := false
	for attempt := 0; ; attempt++ {
		answer, err := c.registerOnce(ctx, secret, r)
		if err == nil {
			out.UserID, out.AccessToken, out.DeviceID = string(answer.UserID), answer.AccessToken, answer.DeviceID
			return out, nil
		}
		retry := false
		var unreachable *UnreachableError
		var foreign *ResponseError
		status := StatusOf(err)
		if errors.As(err, &foreign) {
			status = foreign.Status // a proxy's HTML 502 page
		}
		switch {
		case errors.As(err, &unreachable):
			retry = true
		case status == http.StatusTooManyRequests || status >= 500 && status != http.StatusNotImplemented:
			retry = true
		case StatusOf(err) == http.StatusBadRequest && HasErrcode(err, ErrcodeUnknown) && !nonceLostOnce:
			// "unrecognised nonce" carries only M_UNKNOWN: the nonce was
			// lost with a restarted process. One fresh pair is cheap even
			// when the cause was another M_UNKNOWN refusal, as those come
			// before the server hashes the password.
			retry, nonceLostOnce = true, true
			attempts++
		}
		if !retry || attempt+1 >= attempts || ctx.Err() != nil {
			return out, err
		}
		out.Retried = true
		var wait time.Duration
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			wait = e.RetryAfter
			if !c.api.Grant(ctx, wait, true) {
				return out, c.api.NoteRefusedWait(ctx, err)
			}
		} else {
			if !c.api.Grant(ctx, c.api.BackoffUpper(attempt), false) {
				return out, err
			}
			wait = c.api.Backoff(attempt)
		}
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(wait):
		}
		// The pair is sent again: one retry, counted under the status
		// (or connection failure) of the attempt that failed.
		cause := RetryCauseConnection
		if status != 0 && unreachable == nil {
			cause = strconv.Itoa(status)
		}
		httpapi.NoteRetry(ctx, http.MethodPost, c.api.BasePath()+"/"+strings.Join(path(adminV1, "register"), "/"), cause, wait)
	}
}

// registered is the answer to a shared-secret registration.
type registered struct {
	UserID      serverID `json:"user_id"`
	AccessToken string   `json:"access_token"`
	DeviceID    string   `json:"device_id"`
}

func (c *Client) registerOnce(ctx context.Context, secret string, r Registration) (*registered, error) {
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	// Register retries the GET and POST as a pair, so neither is retried
	// alone: that would multiply the attempts.
	once := withRetryPolicy(ctx, retryPolicy{})
	if _, err := c.call(once, http.MethodGet, path(adminV1, "register"), nil, nil, &nonce, limitSmall); err != nil {
		return nil, err
	}
	body := map[string]any{
		"nonce":         nonce.Nonce,
		"username":      r.Localpart,
		"password":      r.Password,
		"admin":         r.Admin,
		"mac":           RegistrationMAC(secret, nonce.Nonce, r.Localpart, r.Password, r.Admin, r.UserType),
		"inhibit_login": r.DeviceID == "",
	}
	if r.DeviceID != "" {
		body["device_id"] = r.DeviceID
		body["initial_device_display_name"] = r.DeviceName
	}
	if r.UserType != "" {
		body["user_type"] = r.UserType
	}
	if r.Displayname != nil {
		body["displayname"] = *r.Displayname
	}
	var out registered
	if _, err := c.call(once, http.MethodPost, path(adminV1, "register"), nil, body, &out, limitSmall); err != nil {
		return nil, err
	}
	if r.DeviceID != "" && out.AccessToken == "" {
		return nil, &ResponseError{Method: http.MethodPost, Path: "/" + strings.Join(path(adminV1, "register"), "/"), Status: http.StatusOK, Reason: "the registration answered without the access token it was asked for"}
	}
	return &out, nil
}

// RegistrationMAC is the HMAC-SHA1 Synapse expects, keyed with the shared
// secret, over nonce, username, password and admin flag (and the user type
// when one is set), separated by NUL bytes.
func RegistrationMAC(secret, nonce, username, password string, admin bool, userType string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(nonce))
	mac.Write([]byte{0})
	mac.Write([]byte(username))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	mac.Write([]byte{0})
	if admin {
		mac.Write([]byte("admin"))
	} else {
		mac.Write([]byte("notadmin"))
	}
	if userType != "" {
		mac.Write([]byte{0})
		mac.Write([]byte(userType))
	}
	return hex.EncodeToString(mac.Sum(nil))
}
