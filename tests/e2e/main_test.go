// Package e2e tests the collection end to end against real Synapse servers:
// the module binary driven exactly as Ansible drives it (an args file in,
// one JSON object out), and playbooks run by ansible-playbook.
package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// binary is the module binary built for this test run, in workDir, which
// the test binary removes when it ends.
var binary, workDir string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "mxadmin-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		workDir = dir
		root, err := synapsetest.RepoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// Build from source so that plain 'go test' always tests the code
		// as it is, with the flags of a release build.
		binary = filepath.Join(dir, "mxadmin-synapse")
		build := exec.Command("go", "build", "-trimpath", "-tags", "nethttpomithttp2", "-ldflags=-s -w", "-o", binary, "./modules-src/cmd/mxadmin-synapse")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if os.Getenv("MXADMIN_E2E_RACE") == "1" {
			// The race detector in the binary itself: a data race in the
			// concurrent batch code prints to stderr, which every run checks.
			build = exec.Command("go", "build", "-race", "-o", binary, "./modules-src/cmd/mxadmin-synapse")
			build.Dir = root
			build.Env = append(os.Environ(), "CGO_ENABLED=1")
		}
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building the module binary: %v\n%s", err, out)
			return 1
		}
		defer synapsetest.StopAll()
		defer stopSSH()
		code := m.Run()
		if scanAll() > 0 && code == 0 {
			code = 1
		}
		return code
	}()
	os.Exit(code)
}

// The suite-wide secret scan: every secret any test used (passwords,
// tokens, shared secrets, peppers) is searched for in every output any test
// captured (module results and stderr, ansible-playbook output at every
// verbosity), after all tests ran.
var scan struct {
	sync.Mutex
	secrets map[string]bool
	outputs []string
}

// recordSecrets adds secrets to the suite-wide scan.
func recordSecrets(secrets ...string) {
	scan.Lock()
	defer scan.Unlock()
	if scan.secrets == nil {
		scan.secrets = map[string]bool{}
	}
	for _, s := range secrets {
		if len(s) >= 4 {
			scan.secrets[s] = true
		}
	}
}

// recordOutput adds an output to the suite-wide scan.
func recordOutput(out string) {
	scan.Lock()
	defer scan.Unlock()
	scan.outputs = append(scan.outputs, out)
}

// cliEcho is how ansible-playbook -vvvv echoes its own command line; a
// password typed with --extra-vars shows there, outside any role or module.
const cliEcho = "extra_vars: "

// scanAll searches every output for every secret and reports the hits.
func scanAll() int {
	scan.Lock()
	defer scan.Unlock()
	hits := 0
	for i, out := range scan.outputs {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, cliEcho) {
				continue
			}
			for secret := range scan.secrets {
				if strings.Contains(line, secret) {
					hits++
					fmt.Fprintf(os.Stderr, "SECRET SCAN: output %d shows a secret (%d chars): %.200q\n", i, len(secret), line)
				}
			}
		}
	}
	summary := fmt.Sprintf("secret scan: %d secrets searched in %d outputs (%d bytes of module results, stderr and ansible-playbook output up to -vvvv): %d hits\n",
		len(scan.secrets), len(scan.outputs), totalLen(scan.outputs), hits)
	fmt.Fprint(os.Stderr, summary)
	if path := os.Getenv("MXADMIN_SCAN_REPORT"); path != "" {
		_ = os.WriteFile(path, []byte(summary), 0o644)
	}
	return hits
}

func totalLen(outputs []string) int {
	n := 0
	for _, o := range outputs {
		n += len(o)
	}
	return n
}

// Run is one module run.
type Run struct {
	Result map[string]any
	Stdout string
	Stderr string
	Exit   int
}

// argsCounter names args files uniquely within the test run.
var argsCounter atomic.Int64

// runModule runs a module as Ansible does and decodes its one JSON object.
// Every run is checked for the contract: exactly one JSON object on stdout
// and nothing on stderr.
func runModule(t *testing.T, module string, args map[string]any) Run {
	t.Helper()
	full := map[string]any{"_mxadmin_module": module, "_ansible_check_mode": false, "_ansible_diff": true,
		"_ansible_verbosity": 0, "_ansible_version": "2.19.14", "_ansible_module_name": "mxadmin.synapse.__mxadmin_synapse_linux_amd64"}
	for k, v := range args {
		full[k] = v
	}
	data, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("args-%d", argsCounter.Add(1)))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, path)
	recordSecrets(secretsIn(args)...)
	// Every run doubles as a secret scan: no secret from the args may
	// appear anywhere in what the module printed.
	for _, secret := range secretsIn(args) {
		if strings.Contains(r.Stdout, secret) || strings.Contains(r.Stderr, secret) {
			t.Errorf("the module output contains a secret (%d chars) from its arguments:\n%s", len(secret), r.Stdout)
		}
	}
	return r
}

// isSecretKey tells the options and variables whose values are secrets:
// module options (password, admin_token, ...) and role or test variables
// (matrix_users_admin_token, test_password, ...).
func isSecretKey(k string) bool {
	if k == "update_password" || strings.HasSuffix(k, "_update_password") {
		return false // a policy (always, on_create), not a password
	}
	for _, suffix := range []string{"password", "token", "secret", "pepper"} {
		if strings.HasSuffix(k, suffix) {
			return true
		}
	}
	return false
}

// secretsIn collects secret values from args, at any depth.
func secretsIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && isSecretKey(k) && len(s) >= 4 {
				out = append(out, s)
			}
			out = append(out, secretsIn(val)...)
		}
	case []any:
		for _, el := range x {
			out = append(out, secretsIn(el)...)
		}
	case []map[string]any:
		for _, el := range x {
			out = append(out, secretsIn(el)...)
		}
	}
	return out
}

// runBinary runs the binary on an args file.
func runBinary(t *testing.T, argsPath string) Run {
	t.Helper()
	cmd := exec.Command(binary, argsPath)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Run{Stdout: stdout.String(), Stderr: stderr.String()}
	recordOutput(r.Stdout + r.Stderr)
	if exitErr, ok := err.(*exec.ExitError); ok {
		r.Exit = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("running the module: %v", err)
	}
	if r.Stderr != "" {
		t.Errorf("the module wrote to stderr: %q", r.Stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	if err := dec.Decode(&r.Result); err != nil {
		t.Fatalf("module output is not one JSON object: %v\n%s", err, r.Stdout)
	}
	if dec.More() {
		t.Fatalf("module printed more than one JSON value:\n%s", r.Stdout)
	}
	return r
}

func (r Run) bool(key string) bool {
	b, _ := r.Result[key].(bool)
	return b
}

func (r Run) str(key string) string {
	s, _ := r.Result[key].(string)
	return s
}

func (r Run) changed() bool { return r.bool("changed") }
func (r Run) failed() bool  { return r.bool("failed") }
func (r Run) msg() string   { return r.str("msg") }

func (r Run) warnings() []string {
	var out []string
	list, _ := r.Result["warnings"].([]any)
	for _, w := range list {
		out = append(out, fmt.Sprint(w))
	}
	return out
}

// user returns the result's user state.
func (r Run) user() map[string]any {
	u, _ := r.Result["user"].(map[string]any)
	return u
}

func (r Run) changes() []string {
	var out []string
	list, _ := r.Result["changes"].([]any)
	for _, c := range list {
		out = append(out, fmt.Sprint(c))
	}
	return out
}

// mustSucceed fails the test when the run failed.
func (r Run) mustSucceed(t *testing.T) Run {
	t.Helper()
	if r.failed() {
		t.Fatalf("module failed: %s\n%s", r.msg(), r.Stdout)
	}
	return r
}

// uniqueUser returns a localpart no other test uses.
var userCounter atomic.Int64

func uniqueUser(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, userCounter.Add(1))
}
