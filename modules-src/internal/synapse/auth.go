package synapse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

var clientV3 = []string{"_matrix", "client", "v3"}

// Whoami returns the user ID the access token belongs to:
// GET /_matrix/client/v3/account/whoami.
func (c *Client) Whoami(ctx context.Context) (string, error) {
	var out struct {
		UserID serverID `json:"user_id"`
	}
	if _, err := c.call(ctx, http.MethodGet, path(clientV3, "account", "whoami"), nil, nil, &out, limitSmall); err != nil {
		return "", err
	}
	return string(out.UserID), nil
}

// LoginResult is what a password login gives.
type LoginResult struct {
	UserID      string `json:"user_id"`
	AccessToken string `json:"access_token"`
	DeviceID    string `json:"device_id"`
}

// Login logs in with a password on the given device (each run its own, see
// session.DevicePrefix): POST /_matrix/client/v3/login. A login
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
	ctx = withRetryPolicy(ctx, retryPolicy{Transport: true, ServerError: true})
	var out struct {
		UserID      serverID `json:"user_id"`
		AccessToken string   `json:"access_token"`
		DeviceID    string   `json:"device_id"`
	}
	if _, err := c.call(ctx, http.MethodPost, path(clientV3, "login"), nil, body, &out, limitSmall); err != nil {
		return nil, err
	}
	return &LoginResult{UserID: string(out.UserID), AccessToken: out.AccessToken, DeviceID: out.DeviceID}, nil
}

// Logout ends the session of the current token and removes its device:
// POST /_matrix/client/v3/logout. A read-only client sends it too: it
// removes what the run's own login made.
func (c *Client) Logout(ctx context.Context) error {
	ctx = httpapi.AllowWrite(ctx)
	_, err := c.call(ctx, http.MethodPost, path(clientV3, "logout"), nil, map[string]any{}, nil, limitSmall)
	return err
}

// masProbe is one request whose answer can show that the homeserver hands
// authentication to Matrix Authentication Service (MAS).
type masProbe struct {
	path []string
	// verdict reads the answer (its JSON object when err is nil): MAS, not
	// MAS, or (ok false) no conclusion.
	verdict func(body map[string]any, err error) (mas, ok bool)
}

// masProbes are every place a MAS-delegated Synapse has shown it, since
// the oldest supported release (read from Synapse's source):
//   - the auth metadata (v1 from 1.138, unstable MSC2965 from 1.123) and
//     the auth issuer (unstable MSC2965, from 1.98) are only served with
//     MAS: an answer with an issuer means MAS, a 404 (not served, or served
//     as "not configured") means none;
//   - the admin API's shared-secret registration is not registered with
//     MAS (experimental_features.msc3861, or matrix_authentication_service
//     from 1.136), so that GET (which needs no auth and only makes a
//     nonce) answers Synapse's 404 M_UNRECOGNIZED there and a nonce
//     everywhere else. It is the probe that works on every release.
//
// A success counts only with the key the endpoint answers with ("issuer",
// "nonce"): a catch-all 200 page of a proxy proves nothing.
// A 5xx or any other answer proves nothing either way (a Synapse behind MAS
// that cannot reach MAS answers the metadata with a 5xx; so does an
// overloaded proxy), so it leaves the probe without a conclusion.
var masProbes = []masProbe{
	{[]string{"_synapse", "admin", "v1", "register"}, func(body map[string]any, err error) (bool, bool) {
		switch {
		case err == nil:
			_, ok := body["nonce"]
			return false, ok
		case StatusOf(err) == http.StatusNotFound && HasErrcode(err, ErrcodeUnrecognized):
			return true, true
		}
		return false, false
	}},
	{[]string{"_matrix", "client", "v1", "auth_metadata"}, servedOnlyWithMAS},
	{[]string{"_matrix", "client", "unstable", "org.matrix.msc2965", "auth_metadata"}, servedOnlyWithMAS},
	{[]string{"_matrix", "client", "unstable", "org.matrix.msc2965", "auth_issuer"}, servedOnlyWithMAS},
}

func servedOnlyWithMAS(body map[string]any, err error) (mas, ok bool) {
	var re *ResponseError
	switch {
	case err == nil:
		_, ok := body["issuer"]
		return ok, ok
	case StatusOf(err) == http.StatusNotFound, errors.As(err, &re) && re.Status == http.StatusNotFound:
		return false, true
	}
	return false, false
}

// DelegatesAuth reports whether the homeserver hands authentication to
// Matrix Authentication Service (MAS), asking every probe at once
// (GET /_synapse/admin/v1/register, GET /_matrix/client/v1/auth_metadata,
// GET /_matrix/client/unstable/org.matrix.msc2965/auth_metadata and
// GET /_matrix/client/unstable/org.matrix.msc2965/auth_issuer, none
// authenticated): MAS when
// any probe says so, no MAS when all say not, and an error (the first
// inconclusive answer) otherwise, since writing users into a Synapse behind
// MAS's back must not happen on a guess.
func (c *Client) DelegatesAuth(ctx context.Context) (bool, error) {
	type answer struct {
		mas, ok bool
		err     error
	}
	answers := make([]answer, len(masProbes))
	// The first MAS verdict ends the others (a Synapse that cannot reach
	// MAS answers the metadata with 5xx, which would be retried).
	probeCtx, found := context.WithCancel(ctx)
	defer found()
	var wg sync.WaitGroup
	for i, p := range masProbes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body map[string]any
			_, err := c.call(probeCtx, http.MethodGet, p.path, nil, nil, &body, limitSmall)
			mas, ok := p.verdict(body, err)
			answers[i] = answer{mas, ok, err}
			if mas {
				found()
			}
		}()
	}
	wg.Wait()
	var unsure error
	for i, a := range answers {
		if a.mas {
			return true, nil
		}
		if !a.ok && unsure == nil {
			unsure = a.err
			if unsure == nil {
				unsure = fmt.Errorf("GET /%s answered 2xx without the JSON Synapse sends", strings.Join(masProbes[i].path, "/"))
			}
		}
	}
	var unreachable *UnreachableError
	if errors.As(unsure, &unreachable) {
		// Nothing answered: that is the problem to report, not MAS.
		return false, unsure
	}
	if unsure != nil {
		return false, problem.Errorf(problem.Server, "cannot tell whether it delegates authentication to Matrix Authentication Service (MAS), so nothing is written (%s must reach Synapse's client and admin APIs): %s", problem.Name("homeserver_url"), unsure)
	}
	return false, nil
}

// ServerNameFromKeys learns the server name without authentication, from
// the server's signing keys (GET /_matrix/key/v2/server), which Synapse serves when its listener has the
// federation (or keys) resource. It is how shared-secret-only runs check a
// full user ID before registering anything.
func (c *Client) ServerNameFromKeys(ctx context.Context) (string, error) {
	var out struct {
		ServerName serverID `json:"server_name"`
	}
	if _, err := c.call(ctx, http.MethodGet, []string{"_matrix", "key", "v2", "server"}, nil, nil, &out, limitSmall); err != nil {
		return "", err
	}
	return string(out.ServerName), nil
}
