package repo

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// variableName is a variable a message can name: the role's (matrix_users_*)
// and matrix-docker-ansible-deploy's that it reads. A name after "_" or a
// letter is not one (_matrix_users_problem is internal).
var variableName = regexp.MustCompile(`(?:^|[^A-Za-z0-9_])((?:matrix_users|matrix_synapse|matrix_homeserver)_[a-z0-9_]*[a-z0-9]|matrix_domain)\b`)

// sourceNames are the variable names written in the files messages come
// from: the role (its tasks, vars and defaults write the messages and map
// each module option to the variable a role run's messages name), the
// collection's playbooks and the Go code of the modules (not its tests).
func sourceNames(t *testing.T) map[string][]string {
	t.Helper()
	names := map[string][]string{}
	for _, dir := range []string{"roles/matrix_users", "playbooks", "modules-src", "plugins"} {
		err := filepath.WalkDir("../../"+dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			ext := filepath.Ext(path)
			if strings.HasSuffix(path, "_test.go") || (ext != ".go" && ext != ".yml" && ext != ".yaml" && ext != ".py") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(path, "../../")
			for _, m := range variableName.FindAllStringSubmatch(string(data), -1) {
				names[m[1]] = append(names[m[1]], rel)
			}
			return nil
		})
		require.NoError(t, err)
	}
	return names
}

// TestEveryVariableAMessageNamesIsDocumented: docs/variables.md lists every
// variable the role's and the modules' sources write (which is every
// variable a message can name: role runs name options by the variables
// of vars/main.yml), and every variable of the role's defaults.
func TestEveryVariableAMessageNamesIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/variables.md")
	require.NoError(t, err)
	names := sourceNames(t)
	for _, must := range []string{"matrix_users_homeserver_url", "matrix_users_registration_shared_secret",
		"matrix_users_server_name", "matrix_synapse_container_client_api_host_bind_port", "matrix_users_list"} {
		assert.Contains(t, names, must, "the check itself: the sources name %s", must)
	}
	for name, files := range names {
		assert.True(t, strings.Contains(string(doc), "| `"+name+"` |"), "%s (named in %s) has no row in docs/variables.md", name, files[0])
	}

	defaults, err := os.ReadFile("../../roles/matrix_users/defaults/main.yml")
	require.NoError(t, err)
	found := 0
	for _, m := range regexp.MustCompile(`(?m)^(matrix_users_[a-z0-9_]+):`).FindAllStringSubmatch(string(defaults), -1) {
		found++
		assert.True(t, strings.Contains(string(doc), "| `"+m[1]+"` |"), "the role variable %s has no row in docs/variables.md", m[1])
	}
	assert.GreaterOrEqual(t, found, 15, "the check itself: the defaults were read")

	// A variable the page documents that nothing reads any more is a
	// stale row (the register-user extra vars are checked by name).
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		if variableName.MatchString(" " + m[1]) {
			assert.Contains(t, names, m[1], "docs/variables.md documents %s, which no source names", m[1])
		}
	}
}
