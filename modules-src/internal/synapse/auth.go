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
// session.DevicePrefix): POST /_matrix/client/v3/login. A rate-limited
// login is retried only while the wait Synapse asks for fits in the
// request's wait budget (Config.MaxRetryWait): a limit of one login every
// few seconds (matrix-docker-ansible-deploy's) is waited out, Synapse's
// default of one every five minutes or so fails with the wait in the
// message. A read-only client (check mode) logs in too: the login and the
// logout at the end are the run's own session, not user state.
func (c *Client) Login(ctx context.Context, user, password, deviceID string) (*LoginResult, error) {
	body := map[string]any{
		"type":                        "m.login.password",
		"identifier":                  map[string]string{"type": "m.id.user", "user": user},
		"password":                    password,
		"device_id":                   deviceID,
		"initial_device_display_name": "mxadmin.synapse (Ansible)",
	}
	ctx = httpapi.AllowWrite(ctx)
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
// Matrix Authentication Service (MAS), asking the first probe alone and
// then the others at once (GET /_synapse/admin/v1/register, GET /_matrix/client/v1/auth_metadata,
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
	ask := func(i int) {
		var body map[string]any
		_, err := c.call(probeCtx, http.MethodGet, masProbes[i].path, nil, nil, &body, limitSmall)
		mas, ok := masProbes[i].verdict(body, err)
		answers[i] = answer{mas, ok, err}
		if mas {
			found()
		}
	}
	// The first probe goes alone: a server that does not answer is then
	// retried once (retries times), not once per probe, so the run's retry
	// count says how often the server was asked again (3, not 4 x 3).
	ask(0)
	var unreachable *UnreachableError
	if errors.As(answers[0].err, &unreachable) {
		return false, answers[0].err
	}
	if answers[0].mas {
		return true, nil
	}
	var wg sync.WaitGroup
	for i := 1; i < len(masProbes); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ask(i)
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
	if errors.As(unsure, &unreachable) {
		// Nothing answered: that is the problem to report, not MAS.
		return false, unsure
	}
	if unsure != nil {
		return false, problem.Errorf(problem.Server, "cannot tell whether it delegates authentication to Matrix Authentication Service (MAS), so nothing is written (%s must reach Synapse's client and admin APIs): %s", problem.Name("homeserver_url"), unsure)
	}
	return false, nil
}

// HasProfile reports whether a local user has a public profile, without
// authentication: GET /_matrix/client/v3/profile/<user_id>. Synapse
// answers 404 for a user that does not exist: M_NOT_FOUND, or, from some
// release on (1.163 does), M_UNKNOWN "No row found (profiles)"; every
// registered account has its row. Any other refusal (profile requests that
// need authentication, an endpoint this server does not route:
// M_UNRECOGNIZED) is an error, which tells nothing either way.
func (c *Client) HasProfile(ctx context.Context, userID string) (bool, error) {
	var out map[string]any
	_, err := c.call(ctx, http.MethodGet, path(clientV3, "profile", userID), nil, nil, &out, limitSmall)
	switch {
	case err == nil:
		return true, nil
	case StatusOf(err) == http.StatusNotFound && (HasErrcode(err, ErrcodeNotFound) || HasErrcode(err, ErrcodeUnknown)):
		return false, nil
	}
	return false, err
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
