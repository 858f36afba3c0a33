package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// mdadMASClientID is the admin client's ID in docs/mas.md's vars.yml block
// (and the role's default under MDAD with MAS enabled).
const mdadMASClientID = "01JMXADM0SYNAPSE0C1ENT0000"

// TestWithMASMDADCheckout lays out a matrix-docker-ansible-deploy checkout
// with matrix_authentication_service_enabled: true and runs the seed
// command and a declared list through it against the real MAS pair. MAS has
// the admin client of docs/mas.md's block, with the secret the role derives
// from matrix_homeserver_generic_secret_key: nothing but MDAD's variables
// is given to the role.
func TestWithMASMDADCheckout(t *testing.T) {
	t.Parallel() // its own pair and checkout
	genericKey := "mdad-mas-generic-" + uniqueUser("key")
	secret := mdadSecret(genericKey, ":mxadmin.mas.admin")
	recordSecrets(genericKey, secret)
	m := synapsetest.StartMAS(t, synapsetest.MASConfig{Extra: `clients:
  - client_id: ` + mdadMASClientID + `
    client_auth_method: client_secret_basic
    client_secret: "` + secret + `"
policy:
  data:
    admin_clients:
      - ` + mdadMASClientID + `
`})
	port := strings.TrimPrefix(m.SynapseProxy.URL, "http://127.0.0.1:")
	c := newMDADCheckout(t, m.ServerName, genericKey, "127.0.0.1:"+port)
	c.addVars(t, "matrix_authentication_service_enabled: true\nmatrix_authentication_service_config_http_public_base: '"+m.MASProxy.URL+"/'\n")
	host := c.host
	seed := func(extra string) Playbook {
		m.ResetCounts()
		return c.play(t, "-i", "inventory/hosts", "mxadmin.synapse.users", "--extra-vars="+extra, "--tags=register-user")
	}
	changed := func(pb Playbook) int {
		_, ch, _ := pb.Recap(t, host)
		return ch
	}
	const pw = "mdad-mas-Horse-Battery-9"
	recordSecrets(pw)
	alice, bob, carol := uniqueUser("mdadalice"), uniqueUser("mdadbob"), uniqueUser("mdadcarol")

	pb := seed("username=" + alice + " password=" + pw + " admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Equal(t, true, attr(masUser(t, m, alice), "admin"))
	status, token, _, err := m.CompatLogin(alice, pw)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "alice logs in through MAS with the seed command's password")
	require.NoError(t, m.CompatLogout(token))

	pb = seed("username=" + alice + " password=" + pw + " admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changed(pb), "the second seed run changes nothing")
	assert.Empty(t, m.Writes(), "and writes nothing")

	pb = seed("username=" + bob + " password=" + pw + " admin=no")
	require.Equal(t, 0, pb.Exit, pb.Output)
	pb = seed("username=" + bob + " admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb), "admin=yes on an existing user")
	assert.Equal(t, true, attr(masUser(t, m, bob), "admin"))

	list, _ := json.Marshal(map[string]any{"matrix_users_list": []any{
		map[string]any{"username": carol, "password": pw},
		map[string]any{"username": bob, "admin": true},
	}})
	m.ResetCounts()
	pb = c.play(t, "-i", "inventory/hosts", "matrix-users.yml", "--extra-vars="+string(list))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.NotNil(t, masUser(t, m, carol))

	// The drift gate with the run report: a clean check run, whose report
	// reads the admins through MAS (nothing left unread) and writes nothing.
	reportBase := filepath.Join(t.TempDir(), "report")
	m.ResetCounts()
	pb = c.play(t, "-i", "inventory/hosts", "matrix-users.yml", "--check", "--diff", "--extra-vars="+string(list),
		"-e", "matrix_users_fail_on_drift=true", "-e", "matrix_users_report_path="+reportBase)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Empty(t, m.Writes(), "the gate and its report only read")
	data, err := os.ReadFile(reportBase + ".json")
	require.NoError(t, err)
	var report map[string]any
	require.NoError(t, json.Unmarshal(data, &report))
	assert.Equal(t, "ok", report["status"], string(data))
	assert.Empty(t, report["unread"], "the report's reads went through MAS")

	// Without the block's client in MAS: the run fails before any write,
	// naming the variables and the block.
	c.addVars(t, "matrix_users_mas_client_secret: 'not-the-derived-secret'\n")
	pb = seed("username=" + uniqueUser("mdadnobody") + " password=" + pw)
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, oneLine(pb.Output), "refused the admin client")
	assert.Contains(t, oneLine(pb.Output), "matrix_users_mas_client_secret")
	assert.Contains(t, oneLine(pb.Output), "docs/mas.md")
	assert.Empty(t, m.Writes())
}
