package modules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/ansible"
	"github.com/mxadmin/synapse/modules-src/session"
)

func connection(t *testing.T, raw map[string]any) (session.Options, error) {
	t.Helper()
	p, _, err := ansible.Validate(ansible.Spec{Module: "test", Options: connectionOptions(), MutuallyExclusive: connectionMutuallyExclusive, RequiredTogether: connectionRequiredTogether}, raw)
	if err != nil {
		return session.Options{}, err // the ranges of timeout and retries are in the spec
	}
	return connectionFrom(p)
}

func TestConnectionDefaultsAndModes(t *testing.T) {
	o, err := connection(t, map[string]any{"admin_token": "tok"})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8008", o.HomeserverURL)
	assert.Equal(t, 30*time.Second, o.Timeout)
	assert.Equal(t, 3, o.Retries)
	assert.True(t, o.ValidateCerts)
	mode, err := o.Mode()
	require.NoError(t, err)
	assert.Equal(t, session.ModeToken, mode)

	o, err = connection(t, map[string]any{"admin_user": "admin", "admin_password": "pw", "registration_shared_secret": "s"})
	require.NoError(t, err)
	mode, _ = o.Mode()
	assert.Equal(t, session.ModeLogin, mode, "a login is preferred over the shared secret")

	o, err = connection(t, map[string]any{"registration_shared_secret": "s", "server_name": " Example.COM "})
	require.NoError(t, err)
	mode, _ = o.Mode()
	assert.Equal(t, session.ModeSharedSecret, mode)
	assert.Equal(t, "example.com", o.ServerName)

	o, err = connection(t, map[string]any{})
	require.NoError(t, err)
	_, err = o.Mode()
	assert.ErrorContains(t, err, "no way to authenticate")
}

func TestConnectionRefused(t *testing.T) {
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
		_, err := connection(t, tc.raw)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
}
