package session

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Every combination of what the probes found and the options given: the
// backend, or a refusal naming the option that fixes it.
func TestCheckBackend(t *testing.T) {
	t.Parallel()
	masOpts := Options{MASURL: "http://mas", MASClientID: "01JABCDEFGHJKMNPQRSTVWXYZ0", MASClientSecret: "s"}
	forced := func(o Options, b string) Options { o.Backend = b; return o }
	for _, c := range []struct {
		name      string
		o         Options
		delegated bool
		want      string // "" : accepted
	}{
		{"plain synapse", Options{}, false, ""},
		{"mas with options", masOpts, true, ""},
		{"mas with options, forced mas", forced(masOpts, BackendMAS), true, ""},
		{"mas without options", Options{}, true, "set mas_url, mas_client_id and mas_client_secret"},
		{"mas, forced synapse", forced(masOpts, BackendSynapse), true, "auth_backend is synapse"},
		{"plain synapse, mas options", masOpts, false, "mas_url is set, but the homeserver at u does not delegate"},
		{"plain synapse, forced mas", forced(Options{}, BackendMAS), false, "auth_backend is mas"},
		{"mas, options incomplete", Options{MASURL: "http://mas", MASClientID: "x"}, true, "are all needed"},
	} {
		err := c.o.checkBackend("u", c.delegated)
		if c.want == "" {
			assert.NoError(t, err, c.name)
			continue
		}
		if assert.Error(t, err, c.name) {
			assert.Contains(t, problem.Render(err, problem.Module), c.want, c.name)
		}
	}
	mode, err := masOpts.Mode()
	assert.NoError(t, err)
	assert.Equal(t, ModeMAS, mode, "the MAS client is the credential")
}
