package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// TestTLS serves a real Synapse over HTTPS with a certificate from a
// throwaway CA: refused by default, accepted with ca_path, accepted with
// validate_certs: false and a warning.
func TestTLS(t *testing.T) {
	files, err := synapsetest.NewTLSFiles(t.TempDir())
	require.NoError(t, err)
	srv := synapsetest.New(t, synapsetest.Config{TLSCert: files.Cert, TLSKey: files.Key})
	require.True(t, strings.HasPrefix(srv.URL, "https://"))
	_, token := srv.Admin(t)
	recordSecrets(token, srv.SharedSecret)
	base := map[string]any{"homeserver_url": srv.URL, "admin_token": token, "retries": 3}

	r := runModule(t, "matrix_user", merge(base, map[string]any{"user": uniqueUser("tls")}))
	requireCleanFailure(t, r, "certificate signed by unknown authority")

	name := uniqueUser("tls")
	r = runModule(t, "matrix_user", merge(base, map[string]any{"user": name, "ca_path": files.CA, "password": "tls-pass-1"})).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Empty(t, r.warnings())

	r = runModule(t, "matrix_user", merge(base, map[string]any{"user": name, "validate_certs": false})).mustSucceed(t)
	assert.False(t, r.changed())
	require.Len(t, r.warnings(), 1)
	assert.Contains(t, r.warnings()[0], "validate_certs is false")

	r = runModule(t, "matrix_user_admin", merge(base, map[string]any{"user": name, "admin": true, "validate_certs": "no"})).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Contains(t, r.warnings()[0], "validate_certs is false")
}
