package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// checkoutDocCommands are the commands docs/development.md gives to read the
// module and role docs from the checkout, after 'make venv' (which make
// e2e runs first): ./ansible.cfg names build/collections, where make venv
// links this checkout as mxadmin.synapse.
var checkoutDocCommands = map[string]string{
	"ansible-doc mxadmin.synapse.matrix_user":          "plugins/modules/matrix_user.py",
	"ansible-doc mxadmin.synapse.matrix_user_admin":    "plugins/modules/matrix_user_admin.py",
	"ansible-doc mxadmin.synapse.matrix_user_info":     "plugins/modules/matrix_user_info.py",
	"ansible-doc -t role mxadmin.synapse.matrix_users": "",
}

// TestAnsibleDocFromTheCheckout runs those commands exactly as written, from
// the checkout's root, with the ansible-core under test first on PATH and
// no ANSIBLE_* variable of the test run, as a user types them.
func TestAnsibleDocFromTheCheckout(t *testing.T) {
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	link := filepath.Join(root, "build", "collections", "ansible_collections", "mxadmin", "synapse")
	target, err := filepath.EvalSymlinks(link)
	require.NoError(t, err, "make venv lays out %s", link)
	realRoot, err := filepath.EvalSymlinks(root)
	require.NoError(t, err)
	require.Equal(t, realRoot, target, "%s is this checkout", link)

	doc, err := synapsetest.AnsibleBin("ansible-doc")
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ANSIBLE_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+filepath.Dir(doc)+":"+os.Getenv("PATH"), "ANSIBLE_NOCOLOR=1")

	page, err := os.ReadFile(filepath.Join(root, "docs", "development.md"))
	require.NoError(t, err)
	for command, file := range checkoutDocCommands {
		t.Run(command, func(t *testing.T) {
			assert.Contains(t, string(page), "`"+command+"`", "docs/development.md gives the command as tested")
			cmd := exec.Command("sh", "-c", command)
			cmd.Dir = root
			cmd.Env = env
			raw, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s:\n%s", command, raw)
			out := withoutCoreWarning(string(raw))
			assert.NotContains(t, out, "WARNING", command)
			assert.Contains(t, out, "mxadmin.synapse", command)
			// The header names where the docs were found: the checkout,
			// through build/collections (a role: the collection's folder).
			header, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
			assert.Contains(t, header, "("+filepath.Join(link, file)+")", header)
		})
	}
}

// coreWarning is what ansible-core 2.21's 'ansible-doc -t role' says about a
// collection of its own, wherever it runs and whatever the collections path.
var coreWarning = regexp.MustCompile(`(?m)^\[WARNING\]: Collection at '[^']*/ansible/_internal/ansible_collections/ansible/_protomatter' does not have a MANIFEST\.json file, nor has it galaxy\.yml: cannot detect version\.\n`)

func withoutCoreWarning(out string) string { return coreWarning.ReplaceAllString(out, "") }
