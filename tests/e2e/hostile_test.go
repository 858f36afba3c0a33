package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startedModule is a module run started in the background, for tests that
// signal it or must not wait forever on it.
type startedModule struct {
	cmd            *exec.Cmd
	stdout, stderr strings.Builder
	done           chan error
}

// startModule starts the module binary as runModule does, without waiting.
func startModule(t *testing.T, module string, args map[string]any) *startedModule {
	t.Helper()
	full := map[string]any{"_mxadmin_module": module, "_ansible_check_mode": false, "_ansible_diff": true}
	for k, v := range args {
		full[k] = v
	}
	data, err := json.Marshal(full)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), fmt.Sprintf("args-%d", argsCounter.Add(1)))
	require.NoError(t, os.WriteFile(path, data, 0o600))
	recordSecrets(secretsIn(args)...)
	m := &startedModule{cmd: exec.Command(binary, path), done: make(chan error, 1)}
	m.cmd.Stdout, m.cmd.Stderr = &m.stdout, &m.stderr
	require.NoError(t, m.cmd.Start())
	go func() { m.done <- m.cmd.Wait() }()
	t.Cleanup(func() {
		if m.cmd.ProcessState == nil {
			_ = m.cmd.Process.Kill()
		}
	})
	return m
}

// wait waits at most d for the run to end and decodes its one JSON result;
// a run still going after d is killed and fails the test.
func (m *startedModule) wait(t *testing.T, d time.Duration) Run {
	t.Helper()
	select {
	case <-m.done:
	case <-time.After(d):
		_ = m.cmd.Process.Kill()
		<-m.done
		t.Fatalf("the module did not end within %s", d)
	}
	r := Run{Stdout: m.stdout.String(), Stderr: m.stderr.String(), Exit: m.cmd.ProcessState.ExitCode()}
	recordOutput(r.Stdout + r.Stderr)
	assert.Empty(t, r.Stderr, "the module wrote to stderr")
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	require.NoError(t, dec.Decode(&r.Result), "one JSON object: %s", r.Stdout)
	assert.False(t, dec.More(), "more than one JSON value: %s", r.Stdout)
	return r
}

// ca_path must be a regular file under 1 MiB, checked before it is read:
// /dev/zero used to end in Go's out-of-memory crash, a FIFO hung forever.
func TestCAPathMustBeASmallRegularFile(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ca.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big.pem")
	require.NoError(t, os.WriteFile(big, []byte(strings.Repeat("-----BEGIN CERTIFICATE-----\n", 40000)), 0o600))
	for path, want := range map[string]string{
		"/dev/zero":    "is not a regular file (it is a character device)",
		"/dev/urandom": "is not a regular file (it is a character device)",
		fifo:           "is not a regular file (it is a named pipe)",
		dir:            "is not a regular file (it is a directory)",
		big:            "is 1120000 bytes",
	} {
		f.proxy.Reset()
		m := startModule(t, "matrix_user", f.args(map[string]any{"user": "capath", "ca_path": path}))
		r := m.wait(t, 30*time.Second)
		requireCleanFailure(t, r, "option ca_path", want, "must be a regular file (a PEM bundle) of at most 1024 KiB")
		assert.Empty(t, f.proxy.Requests(), "%s: refused before any request", path)
	}
}

// User IDs refused before any request, whatever the server name: the
// Kelvin sign used to lower-case into @kdv, a 300-byte localpart was refused
// only after the login and whoami requests.
func TestUserIDEdgesRefusedBeforeAnyRequest(t *testing.T) {
	f := newFixture(t)
	for name, tc := range map[string]struct {
		module string
		args   map[string]any
		want   []string
	}{
		"kelvin sign":            {"matrix_user", map[string]any{"user": "\u212Adv"}, []string{"option user", "may only contain ASCII", "U+212A"}},
		"kelvin in a full ID":    {"matrix_user", map[string]any{"user": "@\u212Adv:test.local"}, []string{"may only contain ASCII"}},
		"kelvin in a batch":      {"matrix_user", map[string]any{"users": []any{map[string]any{"user": "ok"}, map[string]any{"user": "\u212Adv"}}}, []string{"users[1]", "may only contain ASCII"}},
		"kelvin, admin module":   {"matrix_user_admin", map[string]any{"user": "\u212Adv", "admin": true}, []string{"option user", "may only contain ASCII"}},
		"300-byte localpart":     {"matrix_user", map[string]any{"user": strings.Repeat("a", 300)}, []string{"option user", "the localpart is 300 bytes", "at most 252"}},
		"253-byte localpart":     {"matrix_user", map[string]any{"user": strings.Repeat("a", 253)}, []string{"at most 252"}},
		"300 bytes, admin":       {"matrix_user_admin", map[string]any{"user": strings.Repeat("a", 300), "admin": true}, []string{"at most 252"}},
		"too long for server":    {"matrix_user", map[string]any{"user": strings.Repeat("a", 250), "server_name": "test.local"}, []string{"option user", "is 262 bytes", "at most 255"}},
		"too long for server, b": {"matrix_user", map[string]any{"users": []any{map[string]any{"user": strings.Repeat("a", 250)}}, "server_name": "test.local"}, []string{"users[0]", "at most 255"}},
		"too long, admin module": {"matrix_user_admin", map[string]any{"user": strings.Repeat("a", 250), "admin": true, "server_name": "test.local"}, []string{"at most 255"}},
	} {
		t.Run(name, func(t *testing.T) {
			f.proxy.Reset()
			r := runModule(t, tc.module, f.args(tc.args))
			requireCleanFailure(t, r, tc.want...)
			assert.Empty(t, f.proxy.Requests(), "refused before any request")
		})
	}
}

// With only the shared secret, a wrong server_name used to register
// @ssx:<real server> and report "@ssx:wrong.test created". The keys endpoint
// refuses it before any write; where that endpoint is not served, the
// registration's own answer is checked and the result names the account
// Synapse really created.
func TestSharedSecretWrongServerName(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("ssx")
	args := map[string]any{"homeserver_url": f.proxy.URL, "service_account": "", "registration_shared_secret": f.srv.SharedSecret, "retries": 0,
		"server_name": "wrong.test", "user": "@" + name + ":wrong.test", "password": "ssx-pass-1"}

	for _, check := range []bool{true, false} {
		f.proxy.Reset()
		r := runModule(t, "matrix_user", merge(args, map[string]any{"_ansible_check_mode": check}))
		requireCleanFailure(t, r, "option server_name is wrong.test", "is test.local")
		f.requireNoWrites(t)
	}
	require.Nil(t, f.read(t, name), "nothing was registered")

	// A proxy that does not pass the keys endpoint on.
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/_matrix/key/") {
			w.WriteHeader(http.StatusNotFound)
			return true
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	f.proxy.Reset()
	r := runModule(t, "matrix_user", args)
	requireCleanFailure(t, r, "Synapse registered "+f.srv.UserID(name), "not the declared @"+name+":wrong.test", "server_name")
	assert.True(t, r.changed(), "an account was created")
	assert.Equal(t, f.srv.UserID(name), r.str("user_id"), "the result names the account Synapse created")
	assert.NotContains(t, r.msg(), "wrong.test created")
	require.NotNil(t, f.read(t, name))

	// The right server_name registers as declared.
	other := uniqueUser("ssx")
	f.proxy.Reset()
	r = runModule(t, "matrix_user", merge(args, map[string]any{"server_name": "test.local", "user": "@" + other + ":test.local"})).mustSucceed(t)
	assert.Equal(t, f.srv.UserID(other), r.str("user_id"))
	assert.True(t, r.bool("created"))
}
