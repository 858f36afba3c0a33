//go:build demo

// The demo as a user runs it, through make (make e2e-demo: these tests
// carry the build tag demo, so the e2e stages do not run them three times).
// Each test has a folder of its own (DEMO_DIR), so a demo in build/demo is
// left alone.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

type run struct {
	out  string
	code int
}

// makeIn runs make TARGET DEMO_DIR=dir from the checkout, its output into a
// pipe (not a terminal).
func makeIn(t *testing.T, dir string, target ...string) run {
	t.Helper()
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	args := append([]string{"--no-print-directory", "-C", root}, target...)
	args = append(args, "DEMO_DIR="+dir)
	if venv := os.Getenv("MXADMIN_VENV"); venv != "" {
		args = append(args, "VENV="+venv)
	}
	cmd := exec.Command("make", args...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	t.Logf("make %s:\n%s", strings.Join(target, " "), out)
	return run{string(out), cmd.ProcessState.ExitCode()}
}

// shell runs a command the demo printed, as a user pastes it.
func shell(t *testing.T, command string) run {
	t.Helper()
	cmd := exec.Command("sh", "-c", command)
	var env []string
	for _, kv := range os.Environ() {
		// The user's shell has none of make's test variables.
		if !strings.HasPrefix(kv, "ANSIBLE_") && !strings.HasPrefix(kv, "MXADMIN_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "ANSIBLE_NOCOLOR=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return run{string(out), cmd.ProcessState.ExitCode()}
}

var rerunLine = regexp.MustCompile(`(?m)^  (cd \S+/example && PATH=\S+ ansible-playbook -i inventory site\.yml -e @\.\./connection\.yml)\r?$`)

// rerunCommand is the printed command that runs the playbook again.
func rerunCommand(t *testing.T, out string) string {
	t.Helper()
	m := rerunLine.FindStringSubmatch(out)
	require.NotNil(t, m, "the demo prints the command that runs the playbook again:\n%s", out)
	return m[1]
}

func readDemoState(t *testing.T, dir string) state {
	t.Helper()
	st, err := readState(dir)
	require.NoError(t, err)
	return st
}

// answers: something listens on the demo Synapse's port.
func answers(t *testing.T, st state) bool {
	t.Helper()
	u, err := url.Parse(st.URL)
	require.NoError(t, err)
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// login logs alice in with the password the demo printed.
func login(t *testing.T, st state, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": "alice"}, "password": password})
	resp, err := http.Post(st.URL+"/_matrix/client/v3/login", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func stopAtTheEnd(t *testing.T, dir string) {
	t.Cleanup(func() {
		if st, err := readState(dir); err == nil {
			_, _ = stopBackground(dir, st)
		}
	})
}

// TestDemoIntoAPipe: into a pipe make demo stops its Synapse at the end and
// says so, without logins for a server that is gone; the playbook command it
// prints then fails saying how to start it; make demo-start brings it back
// with the same users, make demo-stop stops it, each as often as asked.
func TestDemoIntoAPipe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	stopAtTheEnd(t, dir)
	demo := makeIn(t, dir, "demo")
	require.Equal(t, 0, demo.code, demo.out)
	st := readDemoState(t, dir)
	assert.False(t, answers(t, st), "make demo into a pipe stops its Synapse")
	assert.Contains(t, demo.out, "Done: the demo Synapse is stopped (make demo-start DEMO_DIR="+dir+" starts it again)")
	assert.NotContains(t, demo.out, st.AlicePassword, "no login for a stopped Synapse")
	assert.NotContains(t, demo.out, st.AdminPassword)
	assert.NotContains(t, demo.out, "Log in")
	assert.Contains(t, demo.out, "changed=0", "the second run changes nothing")

	rerun := rerunCommand(t, demo.out)
	stopped := shell(t, rerun)
	assert.NotEqual(t, 0, stopped.code, stopped.out)
	assert.Contains(t, stopped.out, "the demo Synapse ("+st.URL+") is stopped: make demo-start DEMO_DIR="+dir, stopped.out)
	assert.NotContains(t, stopped.out, "Synapse is unreachable", "the demo says what is wrong before the role tries")

	start := makeIn(t, dir, "demo-start")
	require.Equal(t, 0, start.code, start.out)
	assert.True(t, answers(t, st))
	assert.Contains(t, start.out, "The demo Synapse is up again")
	assert.Contains(t, start.out, "alice / "+st.AlicePassword)
	assert.Contains(t, start.out, "admin / "+st.AdminPassword)
	assert.Equal(t, rerun, rerunCommand(t, start.out))
	assert.Equal(t, http.StatusOK, login(t, st, st.AlicePassword), "the users are still there")

	again := makeIn(t, dir, "demo-start")
	require.Equal(t, 0, again.code, again.out)
	assert.Contains(t, again.out, "already running")

	// The playbook runs again: the display name the demo edited is applied,
	// then nothing is left to do.
	applied := shell(t, rerun)
	require.Equal(t, 0, applied.code, applied.out)
	assert.Contains(t, applied.out, "changed=1", applied.out)
	applied = shell(t, rerun)
	require.Equal(t, 0, applied.code, applied.out)
	assert.Contains(t, applied.out, "changed=0", applied.out)

	stop := makeIn(t, dir, "demo-stop")
	require.Equal(t, 0, stop.code, stop.out)
	assert.Contains(t, stop.out, "Stopped the demo Synapse ("+st.URL+")")
	assert.False(t, answers(t, st))
	_, err := os.Stat(pidPath(dir))
	assert.True(t, os.IsNotExist(err), "the pid file goes with the process")
	stopped = shell(t, rerun)
	assert.NotEqual(t, 0, stopped.code)
	assert.Contains(t, stopped.out, "is stopped: make demo-start DEMO_DIR="+dir, stopped.out)

	stop = makeIn(t, dir, "demo-stop")
	require.Equal(t, 0, stop.code, stop.out)
	assert.Contains(t, stop.out, "is not running")

	// A stale pid file (a demo Synapse killed, the pid reused by another
	// process) is never signalled.
	other := exec.Command("sleep", "60")
	require.NoError(t, other.Start())
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	require.NoError(t, os.WriteFile(pidPath(dir), []byte(fmt.Sprint(other.Process.Pid)), 0o600))
	stop = makeIn(t, dir, "demo-stop")
	require.Equal(t, 0, stop.code, stop.out)
	assert.Contains(t, stop.out, "is not running")
	assert.NoError(t, other.Process.Signal(syscall.Signal(0)), "the other process still runs")
}

// TestDemoOnATerminal: on a terminal make demo leaves its Synapse running in
// the background, prints the logins, and make demo-stop stops it; a new
// make demo replaces a running one.
func TestDemoOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	require.NoError(t, err, "script(1) (util-linux) runs make demo on a pseudo-terminal")
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "demo")
	stopAtTheEnd(t, dir)
	command := fmt.Sprintf("make --no-print-directory -C %s demo DEMO_DIR=%s", root, dir)
	if venv := os.Getenv("MXADMIN_VENV"); venv != "" {
		command += " VENV=" + venv
	}
	cmd := exec.Command(script, "-q", "-e", "-c", command, "/dev/null")
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	outBytes, err := cmd.CombinedOutput()
	out := string(outBytes)
	t.Logf("make demo on a terminal:\n%s", out)
	require.NoError(t, err, out)

	st := readDemoState(t, dir)
	assert.True(t, answers(t, st), "on a terminal the demo Synapse keeps running")
	assert.Contains(t, out, "Done: the demo Synapse keeps running in the background (make demo-stop DEMO_DIR="+dir+" stops it)")
	assert.Contains(t, out, "alice / "+st.AlicePassword)
	assert.Equal(t, http.StatusOK, login(t, st, st.AlicePassword), "the printed login works")
	rerun := rerunCommand(t, out)
	up := shell(t, rerun)
	require.Equal(t, 0, up.code, up.out)

	// A second make demo stops the first one's Synapse and starts afresh.
	second := makeIn(t, dir, "demo")
	require.Equal(t, 0, second.code, second.out)
	assert.Contains(t, second.out, "Stopped the Synapse of the last demo ("+st.URL+")")
	assert.False(t, answers(t, st), "the first demo's Synapse is gone (and the second's stopped: into a pipe)")
	assert.NotEqual(t, st.AlicePassword, readDemoState(t, dir).AlicePassword, "a new demo, new users")

	stop := makeIn(t, dir, "demo-stop")
	require.Equal(t, 0, stop.code, stop.out)
}
