package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// The CI job files of docs/examples/ci are what users copy: these tests read
// their steps and run the commands as the CI runner would (bash, the CI's
// environment variables, the secret in the environment), against the test
// Synapse, and check the report they publish. The install steps are left out:
// the collection under test is this checkout, not the one on Galaxy.

// ciFile reads a CI job file as JSON, with the YAML parser of the Python that
// runs Ansible (the Go module has no YAML parser of its own to depend on).
func ciFile(t *testing.T, name string) map[string]any {
	t.Helper()
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	python, err := synapsetest.AnsibleBin("python")
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	out, err := exec.Command(python, "-c", "import sys, json, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
		filepath.Join(root, "docs", "examples", "ci", name)).Output()
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out, &doc))
	return doc
}

// ciProject is a repository holding an inventory as the CI files expect
// it (a matrix-docker-ansible-deploy checkout's): inventory/hosts, the
// example's matrix-users.yml, the token in the vars (where a vault would
// give it), one declared user whose display name differs from the
// server's (drift).
func ciProject(t *testing.T, f *fixture, user string) string {
	t.Helper()
	dir := t.TempDir()
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	play, err := os.ReadFile(filepath.Join(root, "docs", "examples", "mdad", "matrix-users.yml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "matrix-users.yml"), play, 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "inventory", "group_vars"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "inventory", "hosts"), []byte("[matrix_servers]\nsynapse_host ansible_connection=local\n"), 0o644))
	vars := "matrix_users_homeserver_url: " + f.proxy.URL + "\n" +
		"matrix_users_admin_token: " + f.token + "\n" +
		"matrix_users_retries: 0\n" +
		"matrix_users_list:\n  - username: " + user + "\n    displayname: Declared\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "inventory", "group_vars", "matrix_servers.yml"), []byte(vars), 0o644))
	return dir
}

// ciEnv is the environment of a CI step: Ansible's of the tests, with the
// ansible-core under test on PATH.
func ciEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	bin, err := synapsetest.AnsibleBin("ansible-playbook")
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	env := ansibleEnv(t, testCollection(t))
	env = append(env, "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	return append(env, extra...)
}

// runStep runs a step's commands with bash -e, as both runners do.
func runStep(t *testing.T, dir, script string, env []string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", "-e", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	recordOutput(string(out))
	if exit, ok := err.(*exec.ExitError); ok {
		return string(out), exit.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

func isInstall(script string) bool {
	return strings.Contains(script, "pip install") || strings.Contains(script, "ansible-galaxy collection install")
}

// isSetup: a step that installs, or puts the runner's SSH key and vault
// password in place (not run here: the host is reached with a local
// connection, and it would write the test machine's ~/.ssh).
func isSetup(script string) bool {
	return isInstall(script) || strings.Contains(script, "~/.ssh")
}

func TestPlaybookCIGitHubActionsPublishesTheReport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.plainUser(t, "cigh")
	dir := ciProject(t, f, user)
	summary := filepath.Join(t.TempDir(), "step_summary")
	runnerTemp := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(runnerTemp, "vault-pass"), []byte("unused"), 0o600))
	require.NoError(t, os.WriteFile(summary, []byte("earlier steps' summary\n"), 0o644))
	doc := ciFile(t, "github-actions.yml")
	jobs := doc["jobs"].(map[string]any)
	require.Len(t, jobs, 1)
	var steps []any
	for _, j := range jobs {
		steps = j.(map[string]any)["steps"].([]any)
	}
	run := func() (failed bool, outputs string) {
		f.proxy.Reset()
		ran := 0
		for _, s := range steps {
			step := s.(map[string]any)
			script, ok := step["run"].(string)
			if !ok || isSetup(script) {
				continue
			}
			if failed && step["if"] != "always()" {
				continue
			}
			env := ciEnv(t, "GITHUB_WORKSPACE="+dir, "GITHUB_STEP_SUMMARY="+summary, "CI=true", "GITHUB_ACTIONS=true")
			stepEnv, _ := step["env"].(map[string]any)
			for k, v := range stepEnv {
				env = append(env, k+"="+strings.ReplaceAll(v.(string), "${{ runner.temp }}", runnerTemp))
			}
			out, code := runStep(t, dir, script, env)
			outputs += out
			ran++
			if code != 0 {
				failed = true
			}
		}
		require.Equal(t, 2, ran, "the gate and the summary steps")
		f.requireNoWrites(t)
		return failed, outputs
	}
	failed, out := run()
	assert.True(t, failed, "the drift fails the job:\n%s", out)
	report, err := os.ReadFile(filepath.Join(dir, "matrix-users-report.md"))
	require.NoError(t, err)
	published, err := os.ReadFile(summary)
	require.NoError(t, err)
	assert.Equal(t, "earlier steps' summary\n"+string(report), string(published), "the report is appended to the job summary as it is")
	assert.True(t, strings.HasPrefix(string(report), "**The run failed** (check mode): Synapse differs from the declared users"), string(report))
	assert.Contains(t, string(report), "| "+f.srv.UserID(user)+" | yes | would be updated |")
	for _, p := range []string{"matrix-users-report.md", "matrix-users-report.json"} {
		assert.FileExists(t, filepath.Join(dir, p), "the artifact step uploads it")
	}
	assert.NotContains(t, string(published), f.token)

	// Once the server is as declared, the gate passes and says so.
	runModule(t, "matrix_user", f.args(map[string]any{"user": user, "displayname": "Declared"})).mustSucceed(t)
	require.NoError(t, os.WriteFile(summary, nil, 0o644))
	failed, out = run()
	assert.False(t, failed, out)
	published, err = os.ReadFile(summary)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(published), "**No drift**: the server is as declared"), string(published))
}

func TestPlaybookCIGitLabKeepsTheReport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.plainUser(t, "cigl")
	dir := ciProject(t, f, user)
	doc := ciFile(t, "gitlab-ci.yml")
	require.Len(t, doc, 1)
	var job map[string]any
	for _, j := range doc {
		job = j.(map[string]any)
	}
	for _, s := range job["before_script"].([]any) {
		assert.True(t, isSetup(s.(string)) || strings.Contains(s.(string), "vault-pass") || strings.Contains(s.(string), "apt-get"),
			"before_script only sets up: %s", s)
	}
	// The job's variables, with the vault password file the before_script
	// would write.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".vault-pass"), []byte("unused"), 0o600))
	env := ciEnv(t, "CI_PROJECT_DIR="+dir, "CI=true", "GITLAB_CI=true")
	variables, _ := job["variables"].(map[string]any)
	for k, v := range variables {
		env = append(env, k+"="+os.Expand(v.(string), func(name string) string {
			if name == "CI_PROJECT_DIR" {
				return dir
			}
			return ""
		}))
	}
	f.proxy.Reset()
	failed := false
	for _, s := range job["script"].([]any) {
		if _, code := runStep(t, dir, s.(string), env); code != 0 {
			failed = true
			break
		}
	}
	assert.True(t, failed, "the drift fails the job")
	f.requireNoWrites(t)
	artifacts := job["artifacts"].(map[string]any)
	assert.Equal(t, "always", artifacts["when"], "kept when the job fails")
	for _, p := range artifacts["paths"].([]any) {
		assert.FileExists(t, filepath.Join(dir, p.(string)))
	}
	report, err := os.ReadFile(filepath.Join(dir, "matrix-users-report.md"))
	require.NoError(t, err)
	recordOutput(string(report))
	assert.True(t, strings.HasPrefix(string(report), "**The run failed** (check mode): Synapse differs"), string(report))
	assert.NotContains(t, string(report), f.token)
}
