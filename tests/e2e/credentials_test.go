package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// admin_token: "   " and a homeserver_url with a space inside once went out
// as requests. An access token, admin_user, server_name and the URL may not
// hold whitespace, control or invisible format characters: refused before
// any request, naming the option, the rule and where, never showing the
// token.
func TestHostileCredentialsRefusedBeforeAnyRequest(t *testing.T) {
	f := newFixture(t)
	for name, tc := range map[string]struct {
		args   map[string]any
		want   string
		hidden string // a secret the message must not show, not even in part
	}{
		"blank token":          {map[string]any{"admin_token": "   "}, "option admin_token: may not contain whitespace or control characters (it has a space at character 1;", ""},
		"token with a space":   {map[string]any{"admin_token": "syt_c3RyYXk sp4ce"}, "option admin_token: may not contain whitespace or control characters (it has a space at character 12;", "c3RyYXk"},
		"token with a newline": {map[string]any{"admin_token": f.token + "\n"}, "(it has a line break at character", f.token},
		"token with a zero-width space": {map[string]any{"admin_token": f.token[:10] + "\u200b" + f.token[10:]},
			"an invisible format character (U+200B) at character 11", f.token[:10]},
		"admin user with a space":   {map[string]any{"admin_user": "ad min", "admin_password": "pw-xyz-123"}, `option admin_user: "ad min" may not contain whitespace or control characters (it has a space at character 3`, ""},
		"admin user with an escape": {map[string]any{"admin_user": "admin\x1b[2K", "admin_password": "pw-xyz-123"}, `option admin_user: "admin\x1b[2K" may not contain`, ""},
		"url with a space inside":   {map[string]any{"homeserver_url": f.proxy.URL + "/ma trix", "admin_token": f.token}, "option homeserver_url: \"" + f.proxy.URL + "/ma trix\" may not contain whitespace or control characters (it has a space at character", ""},
		"url with a newline":        {map[string]any{"homeserver_url": f.proxy.URL + "\n", "admin_token": f.token}, "option homeserver_url: ", ""},
		"url with a leading space":  {map[string]any{"homeserver_url": " " + f.proxy.URL, "admin_token": f.token}, "(it has a space at character 1)", ""},
		"blank shared secret":       {map[string]any{"registration_shared_secret": " \t ", "server_name": f.srv.ServerName}, "option registration_shared_secret: may not be only whitespace", ""},
		"server name with a tab":    {map[string]any{"server_name": "test\t.local", "service_account": "", "registration_shared_secret": f.srv.SharedSecret}, "option server_name", ""},
	} {
		t.Run(name, func(t *testing.T) {
			args := map[string]any{"homeserver_url": f.proxy.URL, "retries": 0, "user": uniqueUser("cred"), "password": "cred-pass-1"}
			for k, v := range tc.args {
				args[k] = v
			}
			f.proxy.Reset()
			r := runModule(t, "matrix_user", args)
			require.True(t, r.failed(), r.Stdout)
			assert.Contains(t, r.msg(), tc.want)
			assert.Empty(t, f.proxy.Requests(), "refused before any request")
			if tc.hidden != "" {
				assert.NotContains(t, r.Stdout, tc.hidden)
			}
		})
	}
}

// The shared secret is an HMAC key that Synapse uses exactly as written
// (registration_shared_secret_path's file is not stripped either): spaces
// and a tab inside are legal and register, and the same secret with a
// final newline is another key, which Synapse refuses. So the module
// passes the secret through untouched and refuses only a blank one.
func TestSecretSharedSecretUsedAsWritten(t *testing.T) {
	secret := "two words\tand a tab " + uniqueUser("s")
	srv := synapsetest.New(t, synapsetest.Config{SharedSecret: secret})
	recordSecrets(secret)
	base := func(secret string) map[string]any {
		return map[string]any{"homeserver_url": srv.URL, "retries": 0, "service_account": "", "registration_shared_secret": secret,
			"server_name": srv.ServerName, "user": uniqueUser("hmac"), "password": "hmac-pass-1"}
	}
	r := runModule(t, "matrix_user", base(secret)).mustSucceed(t)
	assert.Equal(t, "created", r.str("action"), r.Stdout)

	r = runModule(t, "matrix_user", base(secret+"\n"))
	require.True(t, r.failed(), r.Stdout)
	assert.Contains(t, r.msg(), "registration_shared_secret")
	assert.NotContains(t, r.Stdout, "two words")
}
