package modules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/session"
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
	assert.Equal(t, session.ModeService, mode, "the shared secret alone logs in as the service admin")
	assert.Equal(t, "example.com", o.ServerName)
	assert.Equal(t, session.DefaultServiceAccount, o.ServiceAccount)

	o, err = connection(t, map[string]any{"registration_shared_secret": "s", "service_account": ""})
	require.NoError(t, err)
	mode, _ = o.Mode()
	assert.Equal(t, session.ModeSharedSecret, mode, `service_account "" turns the service admin off`)

	o, err = connection(t, map[string]any{"registration_shared_secret": "s", "service_account": " Ops-Bot "})
	require.NoError(t, err)
	assert.Equal(t, "ops-bot", o.ServiceAccount)

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
		"url scheme":                  {map[string]any{"homeserver_url": "matrix.example.com"}, "option homeserver_url"},
		"empty token":                 {map[string]any{"admin_token": ""}, "option admin_token: may not be empty"},
		"timeout":                     {map[string]any{"timeout": 0}, "option timeout"},
		"huge timeout":                {map[string]any{"timeout": int64(18446744074)}, "option timeout: must be at least 1 and at most 3600, got 18446744074"},
		"retries":                     {map[string]any{"retries": 99}, "option retries"},
		"service account underscore":  {map[string]any{"service_account": "_bot"}, `option service_account: "_bot" is not a localpart`},
		"service account user ID":     {map[string]any{"service_account": "@bot:example.com"}, `option service_account: "@bot:example.com" is not a localpart`},
		"server name":                 {map[string]any{"server_name": "@john:example.com"}, "option server_name"},
		"empty secret":                {map[string]any{"registration_shared_secret": ""}, "may not be empty"},
		"blank token":                 {map[string]any{"admin_token": "   "}, "option admin_token: may not contain whitespace or control characters (it has a space at character 1;"},
		"token with a newline":        {map[string]any{"admin_token": "syt_abc\n"}, "option admin_token: may not contain whitespace or control characters (it has a line break at character 8;"},
		"token with a space inside":   {map[string]any{"admin_token": "syt_a bc"}, "(it has a space at character 6;"},
		"token with a tab":            {map[string]any{"admin_token": "\tsyt_abc"}, "a tab at character 1"},
		"token with a control":        {map[string]any{"admin_token": "syt_\x1babc"}, "a control character (U+001B) at character 5"},
		"token with a no-break space": {map[string]any{"admin_token": "syt_abc\u00a0"}, "a space character (U+00A0) at character 8"},
		"token with a zero width":     {map[string]any{"admin_token": "syt_\u200babc"}, "an invisible format character (U+200B) at character 5"},
		"admin user with a space":     {map[string]any{"admin_user": "ad min", "admin_password": "pw"}, `option admin_user: "ad min" may not contain whitespace or control characters (it has a space at character 3; a user ID or localpart has none)`},
		"admin user with a newline":   {map[string]any{"admin_user": "@admin:example.com\n", "admin_password": "pw"}, `option admin_user: "@admin:example.com\n" may not contain`},
		"blank secret":                {map[string]any{"registration_shared_secret": " \t\n"}, "option registration_shared_secret: may not be only whitespace"},
		"url with a space":            {map[string]any{"homeserver_url": "https://matrix.example.com/ma trix"}, `option homeserver_url: "https://matrix.example.com/ma trix" may not contain whitespace or control characters (it has a space at character 30)`},
		"url with a newline":          {map[string]any{"homeserver_url": "https://matrix.example.com\n"}, "option homeserver_url"},
		"server name with a tab":      {map[string]any{"server_name": "exa\tmple.com"}, "option server_name"},
	} {
		_, err := connection(t, tc.raw)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
}

// Secrets are never shown in the messages that refuse them, not even in
// part; the shared secret follows Synapse, which uses it as an HMAC key
// exactly as written: spaces inside, even a final newline (the file of
// registration_shared_secret_path is not stripped), are legal.
func TestConnectionCredentialRules(t *testing.T) {
	for _, token := range []string{"syt_s3cr3t tok", "syt_s3cr3t\n", " syt_s3cr3t"} {
		_, err := connection(t, map[string]any{"admin_token": token})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cr3t")
		assert.NotContains(t, err.Error(), "syt_")
	}
	for _, secret := range []string{"a secret with spaces", "secret-from-a-file\n", "tab\tinside"} {
		o, err := connection(t, map[string]any{"registration_shared_secret": secret, "server_name": "example.com"})
		require.NoError(t, err, "%q", secret)
		assert.Equal(t, secret, o.SharedSecret, "used exactly as given")
	}
	o, err := connection(t, map[string]any{"admin_user": "@admin:example.com", "admin_password": " pass word "})
	require.NoError(t, err, "a password may hold spaces")
	assert.Equal(t, " pass word ", o.AdminPassword)
}
