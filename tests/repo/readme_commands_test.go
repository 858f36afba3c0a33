package repo

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	return string(data)
}

// fence is one fenced code block of a markdown page: its language and text.
type fence struct{ lang, text string }

var fenceRe = regexp.MustCompile("(?ms)^ *```([a-z]*)\n(.*?)^ *```")

// fences are the code blocks of a section ("## The drift gate in CI"), or
// of the whole page for "".
func fences(t *testing.T, page, section string) []fence {
	t.Helper()
	if section != "" {
		i := strings.Index(page, "\n"+section+"\n")
		require.GreaterOrEqual(t, i, 0, "the page has the section %q", section)
		page = page[i+len(section)+2:]
		if j := strings.Index(page, "\n## "); j >= 0 {
			page = page[:j]
		}
	}
	var out []fence
	for _, m := range fenceRe.FindAllStringSubmatch(page, -1) {
		// Blocks inside a list item are indented; so is their text.
		lines := strings.Split(m[2], "\n")
		indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
		for i, l := range lines {
			if len(l) >= indent {
				lines[i] = l[indent:]
			}
		}
		out = append(out, fence{m[1], strings.Join(lines, "\n")})
	}
	return out
}

// commandLines joins a shell block's continuation lines and drops comments.
func commandLines(block string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
		l, _, _ = strings.Cut(l, "#")
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestReadmeStartsWithTheCommandsOfAFreshMachine: the README's first lines
// are make demo and make test, and every make target it names exists.
func TestReadmeStartsWithTheCommandsOfAFreshMachine(t *testing.T) {
	page := readme(t)
	lines := strings.Split(page, "\n")
	require.Greater(t, len(lines), 4)
	assert.Equal(t, "```sh", lines[2], "the README opens with a shell block, after its title")
	first := fences(t, page, "")[0]
	cmds := commandLines(first.text)
	require.GreaterOrEqual(t, len(cmds), 2)
	assert.Equal(t, []string{"make demo", "make test"}, cmds[:2])

	makefile, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	phony := phonyTargets(t, string(makefile))
	for _, m := range regexp.MustCompile("`make ([a-z][a-z0-9-]*)").FindAllStringSubmatch(page, -1) {
		assert.Contains(t, phony, m[1], "the README names make %s", m[1])
	}
	// One or two screens: the rest is in docs/.
	assert.LessOrEqual(t, len(lines), 170, "the README stays short; move detail to a docs/ page")
}

// TestReadmeCommandsUseWhatShips: every ansible-playbook command of the
// README runs a playbook the collection or the MDAD example ships, with a
// tag the role's tasks carry, and every module and role the README names
// exists.
func TestReadmeCommandsUseWhatShips(t *testing.T) {
	page := readme(t)
	var cmds []string
	for _, f := range fences(t, page, "") {
		if f.lang == "sh" {
			cmds = append(cmds, commandLines(f.text)...)
		}
	}
	// Commands written inline in the steps (`ansible-playbook …`).
	for _, m := range regexp.MustCompile("`(ansible-playbook [^`]+)`").FindAllStringSubmatch(page, -1) {
		cmds = append(cmds, strings.Join(strings.Fields(m[1]), " "))
	}
	tasks, err := os.ReadFile("../../roles/matrix_users/tasks/main.yml")
	require.NoError(t, err)
	n := 0
	for _, c := range cmds {
		if !strings.HasPrefix(c, "ansible-playbook ") {
			continue
		}
		n++
		fields := strings.Fields(c)
		switch fields[3] {
		case "mxadmin.synapse.users":
			_, err := os.Stat("../../playbooks/users.yml")
			assert.NoError(t, err, c)
		case "matrix-users.yml":
			_, err := os.Stat("../../docs/examples/mdad/matrix-users.yml")
			assert.NoError(t, err, "%s: the MDAD example ships the playbook", c)
		case "setup.yml":
			// matrix-docker-ansible-deploy's own playbook.
		default:
			t.Errorf("%s: which playbook is %s?", c, fields[3])
		}
		assert.Equal(t, []string{"-i", "inventory/hosts"}, fields[1:3], c)
		for _, f := range fields {
			if tag, ok := strings.CutPrefix(f, "--tags=register-user"); ok {
				assert.Empty(t, tag, c)
				assert.Contains(t, string(tasks), "- register-user", "the role's tasks carry the tag")
			}
		}
	}
	assert.GreaterOrEqual(t, n, 5, "the check itself: the README's commands were found")
	// The placeholders of features not merged yet are HTML comments.
	shown := regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAllString(page, "")
	for _, m := range regexp.MustCompile("module `mxadmin\\.synapse\\.([a-z_]+)`").FindAllStringSubmatch(shown, -1) {
		_, err := os.Stat("../../plugins/modules/" + m[1] + ".py")
		assert.NoError(t, err, "the README names the module %s", m[1])
	}
}

// driftGate is the README's drift gate command.
func driftGate(t *testing.T) string {
	t.Helper()
	blocks := fences(t, readme(t), "## The drift gate in CI")
	require.Len(t, blocks, 1)
	cmds := commandLines(blocks[0].text)
	require.Len(t, cmds, 1)
	assert.Contains(t, cmds[0], " --check --diff ", "the gate reads only")
	assert.Contains(t, cmds[0], "-e matrix_users_fail_on_drift=true")
	return cmds[0]
}

// TestCIJobFilesRunTheReadmesDriftGate: both CI job files parse, and the
// command their job ends with is the README's drift gate. (GitHub Actions
// and GitLab CI themselves cannot run here; tests/e2e runs the command.)
func TestCIJobFilesRunTheReadmesDriftGate(t *testing.T) {
	gate := driftGate(t)

	var gh struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			RunsOn string `yaml:"runs-on"`
			Steps  []struct {
				Uses string `yaml:"uses"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	data, err := os.ReadFile("../../docs/examples/ci/github-actions.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &gh))
	require.NotEmpty(t, gh.On, "the workflow says when it runs (on: quoted, YAML 1.1 reads a bare on as true)")
	require.Len(t, gh.Jobs, 1)
	for _, job := range gh.Jobs {
		require.NotEmpty(t, job.RunsOn)
		require.NotEmpty(t, job.Steps)
		var gates []string
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Run, "ansible-playbook") {
				gates = append(gates, strings.Join(commandLines(s.Run), " "))
			}
		}
		require.Len(t, gates, 1, "one step runs ansible-playbook")
		assert.Equal(t, gate, withoutReportPath(gates[0]), "the GitHub job runs the README's gate (and writes the run report)")
		assert.Equal(t, "actions/checkout@v4", job.Steps[0].Uses)
	}

	var gl map[string]struct {
		Image        string   `yaml:"image"`
		BeforeScript []string `yaml:"before_script"`
		Script       []string `yaml:"script"`
	}
	data, err = os.ReadFile("../../docs/examples/ci/gitlab-ci.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &gl))
	require.Len(t, gl, 1)
	for _, job := range gl {
		require.NotEmpty(t, job.Image)
		require.Len(t, job.Script, 1)
		assert.Equal(t, gate, withoutReportPath(strings.Join(commandLines(job.Script[0]), " ")), "the GitLab job's script is the README's gate (and writes the run report)")
		assert.Contains(t, strings.Join(job.BeforeScript, "\n"), "ansible-galaxy collection install mxadmin.synapse")
	}
}

// TestReadmeExamplesAreTheShippedOnes: the README's minimal playbook is
// the MDAD example's, and its declared users are the example's, so the
// e2e test that runs the example runs what the README shows.
func TestReadmeExamplesAreTheShippedOnes(t *testing.T) {
	var yamls []string
	for _, f := range fences(t, readme(t), "## A minimal playbook") {
		if f.lang == "yaml" {
			yamls = append(yamls, f.text)
		}
	}
	require.Len(t, yamls, 2)

	var readmePlay, examplePlay any
	require.NoError(t, yaml.Unmarshal([]byte(yamls[0]), &readmePlay))
	data, err := os.ReadFile("../../docs/examples/mdad/matrix-users.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &examplePlay))
	assert.Equal(t, examplePlay, readmePlay)

	var readmeVars, exampleVars map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(yamls[1]), &readmeVars))
	data, err = os.ReadFile("../../docs/examples/mdad/inventory/host_vars/matrix.example.com/vars.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &exampleVars))
	require.NotEmpty(t, exampleVars["matrix_users_list"])
	assert.Equal(t, exampleVars["matrix_users_list"], readmeVars["matrix_users_list"])
	assert.Equal(t, exampleVars["matrix_users_admin_token"], readmeVars["matrix_users_admin_token"])
}

// withoutReportPath is a CI job's gate command without the run report's
// -e matrix_users_report_path=… (docs/audit.md), which the README's gate
// leaves out.
func withoutReportPath(command string) string {
	f := strings.Fields(command)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-e" && strings.HasPrefix(f[i+1], "matrix_users_report_path=") {
			f = append(f[:i:i], f[i+2:]...)
			break
		}
	}
	return strings.Join(f, " ")
}
