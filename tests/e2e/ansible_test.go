package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

var (
	collectionOnce sync.Once
	collectionDir  string // a collections path holding mxadmin.synapse
	collectionErr  error
)

// testCollection lays out the source tree as an installed collection
// (ansible_collections/mxadmin/synapse) with the binary built for this test
// run in place, so that playbook tests run the code as it is now.
func testCollection(t *testing.T) string {
	t.Helper()
	collectionOnce.Do(func() {
		collectionErr = func() error {
			root, err := synapsetest.RepoRoot()
			if err != nil {
				return err
			}
			base := filepath.Join(workDir, "collections")
			coll := filepath.Join(base, "ansible_collections", "mxadmin", "synapse")
			if err := os.MkdirAll(filepath.Join(coll, "plugins", "modules"), 0o755); err != nil {
				return err
			}
			entries, err := os.ReadDir(root)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if e.Name() == "plugins" || strings.HasPrefix(e.Name(), ".") {
					continue
				}
				if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(coll, e.Name())); err != nil {
					return err
				}
			}
			plugins, err := os.ReadDir(filepath.Join(root, "plugins"))
			if err != nil {
				return err
			}
			for _, e := range plugins {
				if e.Name() != "modules" {
					if err := os.Symlink(filepath.Join(root, "plugins", e.Name()), filepath.Join(coll, "plugins", e.Name())); err != nil {
						return err
					}
				}
			}
			// Copies, not links: ansible-doc -l skips module files that are symlinks.
			docs, _ := filepath.Glob(filepath.Join(root, "plugins", "modules", "*.py"))
			for _, d := range docs {
				data, err := os.ReadFile(d)
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(coll, "plugins", "modules", filepath.Base(d)), data, 0o644); err != nil {
					return err
				}
			}
			bin := fmt.Sprintf("__mxadmin_synapse_%s_%s", runtime.GOOS, runtime.GOARCH)
			if err := os.Symlink(binary, filepath.Join(coll, "plugins", "modules", bin)); err != nil {
				return err
			}
			collectionDir = base
			return nil
		}()
	})
	if collectionErr != nil {
		t.Fatalf("laying out the test collection: %v", collectionErr)
	}
	return collectionDir
}

// Playbook is one ansible-playbook run.
type Playbook struct {
	Output string
	Exit   int
}

// ansibleEnv is the environment of Ansible commands in tests.
func ansibleEnv(t *testing.T, collections string) []string {
	// The interpreter of the ansible-core under test (the newest ansible-core
	// runs on the newest Python only).
	python, err := synapsetest.AnsibleBin("python")
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	tmp := t.TempDir()
	return append(os.Environ(),
		"ANSIBLE_COLLECTIONS_PATH="+collections,
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(tmp, "local"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(tmp, "remote"),
		"ANSIBLE_PYTHON_INTERPRETER="+python,
		"ANSIBLE_DEPRECATION_WARNINGS=0",
		"ANSIBLE_CONFIG=", // ignore any ansible.cfg of the developer
	)
}

// ansiblePlaybook runs ansible-playbook with the test collection.
func ansiblePlaybook(t *testing.T, args ...string) Playbook {
	t.Helper()
	return ansiblePlaybookWith(t, testCollection(t), args...)
}

func ansiblePlaybookWith(t *testing.T, collections string, args ...string) Playbook {
	t.Helper()
	return ansiblePlaybookEnv(t, collections, nil, args...)
}

// ansiblePlaybookEnv runs ansible-playbook with more environment variables.
func ansiblePlaybookEnv(t *testing.T, collections string, env []string, args ...string) Playbook {
	t.Helper()
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	return runAnsiblePlaybook(t, filepath.Join(root, "tests", "playbooks"), collections, env, args...)
}

// ansiblePlaybookIn runs ansible-playbook from dir.
func ansiblePlaybookIn(t *testing.T, dir, collections string, args ...string) Playbook {
	t.Helper()
	return runAnsiblePlaybook(t, dir, collections, nil, args...)
}

func runAnsiblePlaybook(t *testing.T, dir, collections string, env []string, args ...string) Playbook {
	t.Helper()
	bin, err := synapsetest.AnsibleBin("ansible-playbook")
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(ansibleEnv(t, collections), env...)
	out, err := cmd.CombinedOutput()
	recordOutput(string(out))
	for _, a := range args {
		// key=value extra vars typed on the command line, as the
		// register-user command does.
		for _, field := range strings.Fields(a) {
			if k, v, ok := strings.Cut(field, "="); ok && isSecretKey(k) {
				recordSecrets(v)
			}
		}
	}
	pb := Playbook{Output: string(out)}
	if exitErr, ok := err.(*exec.ExitError); ok {
		pb.Exit = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("running ansible-playbook: %v", err)
	}
	return pb
}

var recapRe = regexp.MustCompile(`(?m)^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// Recap returns ok, changed and failed of the play recap for a host.
func (p Playbook) Recap(t *testing.T, host string) (ok, changed, failed int) {
	t.Helper()
	for _, m := range recapRe.FindAllStringSubmatch(p.Output, -1) {
		if m[1] == host {
			ok, _ = strconv.Atoi(m[2])
			changed, _ = strconv.Atoi(m[3])
			failed, _ = strconv.Atoi(m[5])
			return
		}
	}
	t.Fatalf("no recap for %s in:\n%s", host, p.Output)
	return
}

// extraVars writes extra vars to a JSON file and returns "@file" for -e.
// A file, not the command line: at -vvvv ansible-playbook prints its own
// command line, extra vars included, and the tests scan output for secrets.
func extraVars(t *testing.T, vars map[string]any) string {
	t.Helper()
	recordSecrets(secretsIn(vars)...)
	data, err := json.Marshal(vars)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "extra-vars.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return "@" + path
}

// ansibleDoc returns the JSON documentation of a plugin.
func ansibleDoc(t *testing.T, args ...string) map[string]any {
	t.Helper()
	bin, err := synapsetest.AnsibleBin("ansible-doc")
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	cmd := exec.Command(bin, append([]string{"--json"}, args...)...)
	cmd.Env = ansibleEnv(t, testCollection(t))
	out, err := cmd.Output()
	require.NoError(t, err, "ansible-doc %v", args)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out, &doc))
	return doc
}
