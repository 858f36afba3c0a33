package synapse

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The MAS probes against the answers of Synapse releases that the e2e suite
// cannot start here (read from Synapse's source: which servlets each release
// registers with MAS enabled). Real Synapse servers, with and without MAS,
// are tested in tests/e2e.
func TestDelegatesAuthByRelease(t *testing.T) {
	unrecognized := map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}
	metadata := map[string]any{"issuer": "https://mas.example/", "authorization_endpoint": "https://mas.example/authorize"}
	nonce := map[string]any{"nonce": "abc"}
	const (
		register = "/_synapse/admin/v1/register"
		stable   = "/_matrix/client/v1/auth_metadata"
		unstable = "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"
		issuer   = "/_matrix/client/unstable/org.matrix.msc2965/auth_issuer"
	)
	type answer struct {
		status int
		body   any
	}
	for name, tc := range map[string]struct {
		answers map[string]answer // missing paths: Synapse's 404 M_UNRECOGNIZED
		mas     bool
		err     string
	}{
		"no MAS, any release": {answers: map[string]answer{register: {200, nonce}}},
		"1.90-1.97 with msc3861: only the admin API shows it": {answers: map[string]answer{}, mas: true},
		"1.98-1.122 with msc3861: auth_issuer": {answers: map[string]answer{
			issuer: {200, map[string]any{"issuer": "https://mas.example/"}}}, mas: true},
		"1.123-1.137: the unstable auth_metadata": {answers: map[string]answer{
			issuer: {200, map[string]any{"issuer": "https://mas.example/"}}, unstable: {200, metadata}}, mas: true},
		"1.138 on: the stable auth_metadata": {answers: map[string]answer{
			issuer: {200, map[string]any{"issuer": "https://mas.example/"}}, unstable: {200, metadata}, stable: {200, metadata}}, mas: true},
		"MAS unreachable from Synapse: metadata 5xx, the admin API still tells": {answers: map[string]answer{
			stable: {500, map[string]any{"errcode": "M_UNKNOWN", "error": "Internal server error"}}}, mas: true},
		"a JSON 5xx alone is no proof of MAS": {answers: map[string]answer{
			register: {200, nonce}, stable: {500, map[string]any{"errcode": "M_UNKNOWN", "error": "Internal server error"}}},
			err: "cannot tell whether it delegates authentication"},
		"a catch-all 200 page is no proof either way": {answers: map[string]answer{
			register: {200, map[string]any{}}, stable: {200, map[string]any{}}, unstable: {200, map[string]any{}}, issuer: {200, map[string]any{}}},
			err: "without the JSON Synapse sends"},
		"the admin API not routed by a proxy": {answers: map[string]answer{register: {404, "<html>404</html>"}},
			err: "cannot tell whether it delegates authentication"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a, ok := tc.answers[r.URL.Path]
				switch {
				case !ok:
					writeJSON(w, http.StatusNotFound, unrecognized)
				case a.body == "<html>404</html>":
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(a.status)
					_, _ = w.Write([]byte("<html>404</html>"))
				default:
					writeJSON(w, a.status, a.body)
				}
			}))
			defer srv.Close()
			mas, err := testClient(t, srv.URL, func(c *Config) { c.Retries = 0 }).DelegatesAuth(context.Background())
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.False(t, mas)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.mas, mas)
		})
	}
}

// A server that does not answer is asked retries+1 times in all, not once
// per MAS probe: the run's retry count is the number of retries the user
// set (3), where it was 12 (4 probes x 3).
func TestDelegatesAuthUnreachableRetriesOnce(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	log := NewRetryLog()
	_, err := testClient(t, url, nil).DelegatesAuth(WithRetryLog(context.Background(), log))
	var unreachable *UnreachableError
	require.ErrorAs(t, err, &unreachable)
	assert.Equal(t, map[string]int{"total": 3, "429": 0, "connection": 3}, log.Counts())
	assert.Contains(t, err.Error(), "GET "+url+"/_synapse/admin/v1/register")
}
