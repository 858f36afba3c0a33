package session

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/ansible"
	"github.com/mxadmin/synapse/modules-src/synapse"
)

func options(t *testing.T, raw map[string]any) (Options, error) {
	t.Helper()
	p, _, err := ansible.Validate(ansible.Spec{Module: "test", Options: Spec(), MutuallyExclusive: MutuallyExclusive, RequiredTogether: RequiredTogether}, raw)
	if err != nil {
		return Options{}, err // the ranges of timeout and retries are in the spec
	}
	return OptionsFrom(p)
}

func TestOptionsDefaultsAndModes(t *testing.T) {
	o, err := options(t, map[string]any{"admin_token": "tok"})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8008", o.HomeserverURL)
	assert.Equal(t, 30*time.Second, o.Timeout)
	assert.Equal(t, 3, o.Retries)
	assert.True(t, o.ValidateCerts)
	mode, err := o.Mode()
	require.NoError(t, err)
	assert.Equal(t, ModeToken, mode)

	o, err = options(t, map[string]any{"admin_user": "admin", "admin_password": "pw", "registration_shared_secret": "s"})
	require.NoError(t, err)
	mode, _ = o.Mode()
	assert.Equal(t, ModeLogin, mode, "a login is preferred over the shared secret")

	o, err = options(t, map[string]any{"registration_shared_secret": "s", "server_name": " Example.COM "})
	require.NoError(t, err)
	mode, _ = o.Mode()
	assert.Equal(t, ModeSharedSecret, mode)
	assert.Equal(t, "example.com", o.ServerName)

	o, err = options(t, map[string]any{})
	require.NoError(t, err)
	_, err = o.Mode()
	assert.ErrorContains(t, err, "no way to authenticate")
}

func TestOptionsRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		raw  map[string]any
		want string
	}{
		"url scheme":   {map[string]any{"homeserver_url": "matrix.example.com"}, "option homeserver_url"},
		"empty token":  {map[string]any{"admin_token": ""}, "option admin_token: may not be empty"},
		"timeout":      {map[string]any{"timeout": 0}, "option timeout"},
		"huge timeout": {map[string]any{"timeout": int64(18446744074)}, "option timeout: must be at least 1 and at most 3600, got 18446744074"},
		"retries":      {map[string]any{"retries": 99}, "option retries"},
		"server name":  {map[string]any{"server_name": "@john:example.com"}, "option server_name"},
		"empty secret": {map[string]any{"registration_shared_secret": ""}, "may not be empty"},
	} {
		_, err := options(t, tc.raw)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
}

func TestExplainAddsWhatToDo(t *testing.T) {
	s := &Session{Mode: ModeToken, Me: "@bob:example.com"}
	notAdmin := &synapse.Error{Method: "GET", Path: "/_synapse/admin/v2/users/@x:example.com", Status: http.StatusForbidden, Errcode: synapse.ErrcodeForbidden, Message: "You are not a server admin"}
	assert.Contains(t, s.Explain(notAdmin).Error(), "@bob:example.com (the admin token) is not a server admin")
	assert.True(t, errors.Is(s.Explain(notAdmin), notAdmin), "the typed error stays reachable")

	badToken := &synapse.Error{Status: http.StatusUnauthorized, Errcode: synapse.ErrcodeUnknownToken, Path: "/_matrix/client/v3/account/whoami"}
	assert.Contains(t, s.Explain(badToken).Error(), "not valid")

	hmac := &synapse.Error{Status: http.StatusForbidden, Errcode: synapse.ErrcodeUnknown, Message: "HMAC incorrect", Path: "/matrix/_synapse/admin/v1/register"}
	assert.Contains(t, (&Session{Mode: ModeSharedSecret}).Explain(hmac).Error(), "registration_shared_secret does not match")

	exclusive := &synapse.Error{Status: http.StatusBadRequest, Errcode: synapse.ErrcodeExclusive}
	assert.Contains(t, s.Explain(exclusive).Error(), "application service")

	plain := errors.New("plain")
	assert.Equal(t, plain, s.Explain(plain))
}

func TestLoginErrors(t *testing.T) {
	limited := &synapse.Error{Status: http.StatusTooManyRequests, Errcode: synapse.ErrcodeLimitExceeded, RetryAfter: 297 * time.Second}
	msg := loginError("admin", limited).Error()
	assert.Contains(t, msg, "wait 4m57s")
	assert.Contains(t, msg, "use admin_token")
	assert.Contains(t, loginError("admin", &synapse.Error{Status: http.StatusForbidden, Errcode: synapse.ErrcodeForbidden}).Error(), "wrong admin_user or admin_password")
	assert.Contains(t, loginError("admin", &synapse.Error{Status: http.StatusNotFound, Errcode: synapse.ErrcodeUnrecognized}).Error(), "no password login")
}
