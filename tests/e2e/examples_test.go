package e2e

import (
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// copyTree copies the files under src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	require.NoError(t, err)
}

// ciDriftGate is the command the GitHub Actions job file's last step runs
// (tests/repo holds it, and the GitLab job's, to the README's gate).
func ciDriftGate(t *testing.T, root string) []string {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	data, err := os.ReadFile(filepath.Join(root, "docs", "examples", "ci", "github-actions.yml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &wf))
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			fields := strings.Fields(s.Run)
			if len(fields) == 0 || fields[0] != "ansible-playbook" {
				continue
			}
			// The run report's -e matrix_users_report_path="$GITHUB_WORKSPACE/…"
			// needs the runner's shell; the gate is the rest.
			var gate []string
			for i := 1; i < len(fields); i++ {
				if fields[i] == "-e" && i+1 < len(fields) && strings.HasPrefix(fields[i+1], "matrix_users_report_path=") {
					i++
					continue
				}
				gate = append(gate, fields[i])
			}
			return gate
		}
	}
	t.Fatal("no job in github-actions.yml")
	return nil
}

// TestMDADExampleInventory runs docs/examples/mdad as it ships, in a
// matrix-docker-ansible-deploy checkout's layout, against a real Synapse
// whose shared secret MDAD derives from the example's generic key: the
// seed command on the minimal path, the declared list, a rerun that
// changes nothing, and the CI job file's drift gate, clean and then failing.
// The one deviation from the example: the host is reached with a local
// connection, not SSH, and vars.yml gets this Synapse's port and a key.
func TestMDADExampleInventory(t *testing.T) {
	t.Parallel()
	const domain = "example.com"
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	genericKey := "example-generic-" + uniqueUser("key")
	secret := mdadSecret(genericKey, ":synapse.mac")
	recordSecrets(genericKey, secret)
	srv := synapsetest.New(t, synapsetest.Config{ServerName: domain, SharedSecret: secret})
	f := fixtureOn(t, srv)
	port := strings.TrimPrefix(f.proxy.URL, "http://127.0.0.1:")

	c := &mdadCheckout{dir: t.TempDir(), host: "matrix." + domain,
		vars: filepath.Join("inventory", "host_vars", "matrix."+domain, "vars.yml")}
	copyTree(t, filepath.Join(root, "docs", "examples", "mdad"), c.dir)
	hosts, err := os.ReadFile(filepath.Join(c.dir, "inventory", "hosts"))
	require.NoError(t, err)
	require.Contains(t, string(hosts), "\n"+c.host+" ", "the example's host is the one its host_vars name")
	require.NoError(t, os.WriteFile(filepath.Join(c.dir, "inventory", "hosts"),
		[]byte("[matrix_servers]\n"+c.host+" ansible_host=127.0.0.1 ansible_connection=local\n"), 0o644))
	c.setVar(t, "matrix_homeserver_generic_secret_key", genericKey)
	c.setVar(t, "matrix_synapse_container_client_api_host_bind_port", "127.0.0.1:"+port)

	const alicePassword = "example-alice-1"
	changed := func(pb Playbook) int {
		_, ch, _ := pb.Recap(t, c.host)
		return ch
	}

	// The minimal path: nothing but the shared secret MDAD derives; the
	// seed command (as the example's README writes it) creates the first
	// admin, and the collection's service admin with it.
	vault := extraVars(t, map[string]any{"vault_alice_password": alicePassword})
	pb := c.play(t, "-i", "inventory/hosts", "mxadmin.synapse.users", "-e", vault,
		"--extra-vars=username=alice password="+alicePassword+" admin=yes", "--tags=register-user")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	token, err := srv.Login("alice", alicePassword)
	require.NoError(t, err)
	recordSecrets(token)
	assert.Equal(t, true, f.read(t, "alice")["admin"])

	// The seed command again: the service admin sees alice, nothing changes
	// (the old register-user command failed here).
	pb = c.play(t, "-i", "inventory/hosts", "mxadmin.synapse.users", "-e", vault,
		"--extra-vars=username=alice password="+alicePassword+" admin=yes", "--tags=register-user")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changed(pb))

	// Step 4: the list kept by the example's playbook, through the service
	// admin (no token anywhere); the run says what happened in one line.
	pb = c.play(t, "-i", "inventory/hosts", "matrix-users.yml", "-e", vault)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Contains(t, pb.Output, `"msg": "3 users: `)
	assert.Equal(t, "bot", f.read(t, "notify-bot")["user_type"])
	assert.Equal(t, "Notifications", f.read(t, "notify-bot")["displayname"])
	assert.Equal(t, true, f.read(t, "former-employee")["deactivated"])

	pb = c.play(t, "-i", "inventory/hosts", "matrix-users.yml", "-e", vault)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changed(pb))
	assert.Contains(t, pb.Output, `"msg": "3 users: 3 unchanged"`)

	// The CI job file's command: clean, then failing on drift, naming it.
	gate := append(ciDriftGate(t, root), "-e", vault)
	f.proxy.Reset()
	pb = c.play(t, gate...)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Empty(t, stateWrites(f.proxy), "the gate only reads (its own login and logout aside)")

	status, _, err := srv.Do(http.MethodPut, "/_synapse/admin/v2/users/"+url.PathEscape(srv.UserID("notify-bot")), token,
		map[string]any{"displayname": "Changed by hand"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	f.proxy.Reset()
	pb = c.play(t, gate...)
	assert.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, oneLine(pb.Output), "Synapse differs from the declared users")
	assert.Contains(t, oneLine(pb.Output), "@notify-bot:"+domain+": displayname")
	assert.Empty(t, stateWrites(f.proxy), "the gate only reads (its own login and logout aside)")
	assert.Equal(t, "Changed by hand", f.read(t, "notify-bot")["displayname"])
}

// stateWrites are the proxy's recorded writes but a run's own login and
// logout (the service admin's session), as "METHOD path".
func stateWrites(p *synapsetest.Proxy) []string {
	var out []string
	for _, w := range p.Writes() {
		if !sessionWrite(w.Path) {
			out = append(out, w.Method+" "+w.Path)
		}
	}
	return out
}
