package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/sshtest"
	"github.com/mxadmin/synapse/tests/synapsetest"
)

// The SSH tests run the playbooks against a real OpenSSH server on
// loopback, as users run them against their servers: the module binary is
// cached on the target, its arguments go on standard input.

var (
	sshOnce   sync.Once
	sshServer *sshtest.Server
	sshErr    error
)

// sshd returns the test binary's sshd, starting it on first use.
func sshd(t *testing.T) *sshtest.Server {
	t.Helper()
	sshOnce.Do(func() { sshServer, sshErr = sshtest.Start() })
	if sshErr != nil {
		synapsetest.Unavailable(t, fmt.Errorf("sshd: %w", sshErr))
	}
	return sshServer
}

func stopSSH() {
	if sshServer != nil {
		sshServer.Stop()
	}
}

// sshTarget is one test's view of the target: an inventory that reaches it
// over SSH and a remote temp root of its own (ansible_remote_tmp, and the
// async dir inside it) that the test can search afterwards.
type sshTarget struct {
	srv       *sshtest.Server
	inventory string
	remoteTmp string
	cacheDir  string
	env       []string
}

// newSSHTarget writes an inventory for user, with hostVars added.
func newSSHTarget(t *testing.T, user string, hostVars map[string]any) *sshTarget {
	t.Helper()
	srv := sshd(t)
	rt, err := os.MkdirTemp(srv.Dir, "remote-tmp-")
	require.NoError(t, err)
	// Like /tmp: any user may create their own directory there.
	require.NoError(t, os.Chmod(rt, 0o1777))
	t.Cleanup(func() { _ = os.RemoveAll(rt) })
	vars := map[string]any{
		"ansible_connection":           "ssh",
		"ansible_host":                 "127.0.0.1",
		"ansible_port":                 srv.Port,
		"ansible_user":                 user,
		"ansible_ssh_private_key_file": srv.Key,
		"ansible_ssh_common_args":      srv.SSHArgs(),
		"ansible_remote_tmp":           rt,
		"ansible_async_dir":            filepath.Join(rt, "async"),
		"ansible_python_interpreter":   pythonForTarget(t),
	}
	for k, v := range hostVars {
		vars[k] = v
	}
	var b strings.Builder
	b.WriteString("all:\n  hosts:\n    synapse_host:\n")
	for k, v := range vars {
		fmt.Fprintf(&b, "      %s: %q\n", k, fmt.Sprint(v))
	}
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yml")
	require.NoError(t, os.WriteFile(inv, []byte(b.String()), 0o600))
	// A control socket dir of the test's own: every test opens its own SSH
	// connection instead of reusing another test's, and closes it when it
	// ends rather than 60 s later (ControlPersist), in another test's
	// count of bytes.
	cp := filepath.Join(dir, "cp")
	t.Cleanup(func() { closeMasters(cp) })
	return &sshTarget{srv: srv, inventory: inv, remoteTmp: rt, cacheDir: filepath.Join(rt, "mxadmin_synapse"),
		env: []string{"ANSIBLE_SSH_CONTROL_PATH_DIR=" + cp}}
}

// closeMasters stops the ssh ControlPersist masters whose sockets are in dir.
func closeMasters(dir string) {
	sockets, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, s := range sockets {
		_ = exec.Command("ssh", "-o", "ControlPath="+s, "-O", "exit", "mxadmin-e2e").Run()
	}
}

// pythonForTarget is the target's Python (for async_status): the system's.
func pythonForTarget(t *testing.T) string {
	for _, p := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	python, err := synapsetest.VenvBin("python")
	require.NoError(t, err)
	return python
}

// playbook runs a playbook of tests/playbooks against the target.
func (s *sshTarget) playbook(t *testing.T, env []string, name string, args ...string) Playbook {
	t.Helper()
	return ansiblePlaybookEnv(t, testCollection(t), append(append([]string(nil), s.env...), env...), append([]string{"-i", s.inventory, name}, args...)...)
}

// cached returns the binaries in the target's cache.
func (s *sshTarget) cached(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(s.cacheDir, "mxadmin_synapse-*"))
	require.NoError(t, err)
	return files
}

// requireNoSecretOnDisk searches every file under the remote temp root (and
// more dirs) for every secret.
func requireNoSecretOnDisk(t *testing.T, secrets []string, dirs ...string) int {
	t.Helper()
	files := 0
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			files++
			for _, secret := range secrets {
				if bytes.Contains(data, []byte(secret)) {
					t.Errorf("%s on the target holds a secret (%d chars)", path, len(secret))
				}
			}
			return nil
		})
	}
	return files
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// TestSSHModulesCacheAndNoSecretOnDisk runs both modules and the role over
// SSH with ANSIBLE_KEEP_REMOTE_FILES=1: whatever Ansible leaves on the
// target, no secret is in it; the binary is uploaded once, into a private
// cache, and a rerun sends next to nothing.
func TestSSHModulesCacheAndNoSecretOnDisk(t *testing.T) {
	f := newFixture(t)
	target := newSSHTarget(t, "root", nil)
	keep := []string{"ANSIBLE_KEEP_REMOTE_FILES=1"}
	name := uniqueUser("ssh")
	vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name,
		"test_password": "ssh-secret-pass-1", "test_displayname": "Over SSH", "test_admin": "no"}
	secrets := []string{f.token, "ssh-secret-pass-1", "ssh-secret-pass-2", "ssh-role-secret-3"}

	target.srv.Reset()
	pb := target.playbook(t, keep, "matrix_user.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb))
	assert.Equal(t, "Over SSH", f.read(t, name)["displayname"])
	firstRun := target.srv.Sent()
	assert.Greater(t, firstRun, int64(1_000_000), "the first run uploads the binary")

	cached := target.cached(t)
	require.Len(t, cached, 1, "one binary in the cache")
	assert.Equal(t, fileSHA256(t, binary), fileSHA256(t, cached[0]))
	assert.Contains(t, filepath.Base(cached[0]), fileSHA256(t, binary), "the cache is content-addressed")
	st, err := os.Stat(cached[0])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	assert.Equal(t, uint32(0), st.Sys().(*syscall.Stat_t).Uid)
	dirSt, err := os.Stat(filepath.Dir(cached[0]))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dirSt.Mode().Perm())

	// The rerun: nothing uploaded, nothing written to Synapse.
	f.proxy.Reset()
	target.srv.Reset()
	pb = target.playbook(t, keep, "matrix_user.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changedOf(t, pb))
	f.requireNoWrites(t)
	assert.Less(t, target.srv.Sent(), int64(100_000), "a rerun sends no binary")
	st2, err := os.Stat(cached[0])
	require.NoError(t, err)
	assert.Equal(t, st.ModTime(), st2.ModTime(), "the cached binary was not rewritten")
	t.Logf("bytes sent to the target: first run %d, rerun %d", firstRun, target.srv.Sent())

	// Check mode and diff over SSH.
	vars["test_displayname"] = "Renamed Over SSH"
	vars["test_password"] = "ssh-secret-pass-2"
	f.proxy.Reset()
	pb = target.playbook(t, keep, "matrix_user.yml", "--check", "--diff", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb), "check mode predicts the change")
	assert.Contains(t, pb.Output, `+    "displayname": "Renamed Over SSH"`)
	f.requireNoWrites(t)
	assert.Equal(t, "Over SSH", f.read(t, name)["displayname"])

	// The other module.
	pb = target.playbook(t, keep, "matrix_user_admin.yml", "-e", extraVars(t, map[string]any{"synapse_url": f.proxy.URL,
		"synapse_admin_token": f.token, "test_user": name, "test_admin": "yes"}))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb))
	assert.Equal(t, true, f.read(t, name)["admin"])

	// The role.
	roleUser := uniqueUser("sshrole")
	pb = target.playbook(t, keep, "matrix_users_role.yml", "-e", extraVars(t, f.roleVars(map[string]any{
		"matrix_users_list": []map[string]any{{"username": roleUser, "password": "ssh-role-secret-3"}}})))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb))
	_, err = f.srv.Login(roleUser, "ssh-role-secret-3")
	require.NoError(t, err)

	files := requireNoSecretOnDisk(t, secrets, target.remoteTmp)
	assert.Greater(t, files, 1, "Ansible kept its remote files (ANSIBLE_KEEP_REMOTE_FILES=1), and they were searched")
	assert.Len(t, target.cached(t), 1)
}

// TestSSHCorruptedCacheIsReplacedNotRun changes the cached binary into a
// script that would leave a mark and report success, then truncates it: each
// time the run replaces it and never executes it.
func TestSSHCorruptedCacheIsReplacedNotRun(t *testing.T) {
	f := newFixture(t)
	target := newSSHTarget(t, "root", nil)
	name := uniqueUser("sshcorrupt")
	vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name,
		"test_password": "ssh-corrupt-pass-1", "test_displayname": "Corrupt", "test_admin": "no"}
	pb := target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	cached := target.cached(t)
	require.Len(t, cached, 1)
	want := fileSHA256(t, binary)

	mark := filepath.Join(t.TempDir(), "the-impostor-ran")
	impostor := "#!/bin/sh\ntouch " + mark + "\necho '{\"changed\": false, \"impostor\": true}'\n"
	full, err := os.ReadFile(binary)
	require.NoError(t, err)
	for what, content := range map[string][]byte{"a changed file": []byte(impostor), "a truncated file": full[:len(full)/2]} {
		require.NoError(t, os.WriteFile(cached[0], content, 0o700))
		vars["test_displayname"] = "Fixed " + what
		f.proxy.Reset()
		pb = target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
		require.Equal(t, 0, pb.Exit, "%s: %s", what, pb.Output)
		assert.Equal(t, 1, changedOf(t, pb), what)
		assert.NotContains(t, pb.Output, "impostor", what)
		assert.NoFileExists(t, mark, "%s was executed", what)
		assert.Equal(t, "Fixed "+what, f.read(t, name)["displayname"], what)
		assert.Equal(t, want, fileSHA256(t, cached[0]), "%s was replaced by the real binary", what)
		assert.Len(t, target.cached(t), 1, what)
	}

	// An older version left in the cache goes when a new one is installed.
	old := filepath.Join(filepath.Dir(cached[0]), "mxadmin_synapse-0.0.1-linux_amd64-"+strings.Repeat("0", 64))
	require.NoError(t, os.WriteFile(old, []byte("old"), 0o700))
	require.NoError(t, os.Remove(cached[0]))
	pb = target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.NoFileExists(t, old, "an old version is removed")
	assert.Equal(t, []string{cached[0]}, target.cached(t))
}

// TestSSHBecome connects as root and becomes an unprivileged user. With
// sudo the cache belongs to the user the module runs as, in that user's
// remote temp root; with su (which newer ansible-core releases mark as
// unable to pass data on stdin) the task takes Ansible's own path (binary
// and args file in the task's temp dir, the args file removed by the binary
// once read). Either way no secret is left on the target.
func TestSSHBecome(t *testing.T) {
	f := newFixture(t)
	uid, _, home, err := sshtest.UserIDs(sshtest.TestUser)
	require.NoError(t, err)
	for _, method := range []string{"sudo", "su"} {
		target := newSSHTarget(t, "root", map[string]any{"ansible_become": "true", "ansible_become_method": method, "ansible_become_user": sshtest.TestUser})
		if method == "sudo" {
			// Ansible's default remote temp root, ~/.ansible/tmp, as the
			// become user sees it: in that user's home.
			target = newSSHTarget(t, "root", map[string]any{"ansible_become": "true", "ansible_become_method": method,
				"ansible_become_user": sshtest.TestUser, "ansible_remote_tmp": "~/.ansible/tmp"})
			target.cacheDir = filepath.Join(home, ".ansible", "tmp", "mxadmin_synapse")
			require.NoError(t, os.RemoveAll(target.cacheDir))
			t.Cleanup(func() { _ = os.RemoveAll(filepath.Join(home, ".ansible")) })
		}
		name := uniqueUser("sshbecome")
		password := "ssh-become-pass-" + method
		vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name,
			"test_password": password, "test_displayname": "Become " + method, "test_admin": "no"}
		for run := 0; run < 2; run++ {
			pb := target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
			require.Equal(t, 0, pb.Exit, "%s: %s", method, pb.Output)
			assert.Equal(t, 1-run, changedOf(t, pb), "%s: %s", method, pb.Output)
		}
		assert.Equal(t, "Become "+method, f.read(t, name)["displayname"])
		requireNoSecretOnDisk(t, []string{f.token, password}, target.remoteTmp, home)
		if method != "sudo" {
			// ansible-core 2.19 marks su as unable to pass data on stdin
			// (Ansible's own path, no cache); 2.16 does not (the cache).
			continue
		}
		cached := target.cached(t)
		require.Len(t, cached, 1)
		st, err := os.Stat(cached[0])
		require.NoError(t, err)
		assert.Equal(t, uint32(uid), st.Sys().(*syscall.Stat_t).Uid, "the cache belongs to the become user")
		dirSt, err := os.Stat(filepath.Dir(cached[0]))
		require.NoError(t, err)
		assert.Equal(t, uint32(uid), dirSt.Sys().(*syscall.Stat_t).Uid)
		assert.Equal(t, os.FileMode(0o700), dirSt.Mode().Perm())
	}
}

// TestSSHLoginUserBecomesRoot is the usual deployment: log in as an
// unprivileged user and become root with sudo. The upload goes through the
// login user's temp dir; the cache belongs to root.
func TestSSHLoginUserBecomesRoot(t *testing.T) {
	f := newFixture(t)
	target := newSSHTarget(t, sshtest.TestUser, map[string]any{"ansible_become": "true", "ansible_become_method": "sudo"})
	name := uniqueUser("sshroot")
	vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name,
		"test_password": "ssh-root-pass-1", "test_displayname": "Root", "test_admin": "no"}
	for run := 0; run < 2; run++ {
		pb := target.playbook(t, []string{"ANSIBLE_KEEP_REMOTE_FILES=1"}, "matrix_user.yml", "-e", extraVars(t, vars))
		require.Equal(t, 0, pb.Exit, pb.Output)
		assert.Equal(t, 1-run, changedOf(t, pb))
	}
	assert.Equal(t, "Root", f.read(t, name)["displayname"])
	cached := target.cached(t)
	require.Len(t, cached, 1)
	st, err := os.Stat(cached[0])
	require.NoError(t, err)
	assert.Equal(t, uint32(0), st.Sys().(*syscall.Stat_t).Uid, "the cache belongs to root, whom the module runs as")
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	_, _, home, err := sshtest.UserIDs(sshtest.TestUser)
	require.NoError(t, err)
	requireNoSecretOnDisk(t, []string{f.token, "ssh-root-pass-1"}, target.remoteTmp, home)
}

// TestSSHAsync runs the module in the background over SSH: async_wrapper
// needs an args file, which the binary removes as soon as it has read it.
func TestSSHAsync(t *testing.T) {
	f := newFixture(t)
	target := newSSHTarget(t, "root", nil)
	name := uniqueUser("sshasync")
	pb := target.playbook(t, nil, "matrix_user_async.yml",
		"-e", extraVars(t, map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name}))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, "Async", f.read(t, name)["displayname"])
	requireNoSecretOnDisk(t, []string{f.token}, target.remoteTmp)
}

// TestSSHDelegateToLocalhost: the play targets an SSH host, the task runs on
// the controller; the target is not even contacted.
func TestSSHDelegateToLocalhost(t *testing.T) {
	f := newFixture(t)
	target := newSSHTarget(t, "root", nil)
	name := uniqueUser("sshdelegate")
	target.srv.Reset()
	pb := target.playbook(t, nil, "matrix_user_delegate.yml", "-e", extraVars(t, map[string]any{"synapse_url": f.proxy.URL,
		"synapse_admin_token": f.token, "test_user": name, "test_password": "ssh-delegate-pass-1", "test_displayname": "Delegated", "test_admin": "no"}))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, "Delegated", f.read(t, name)["displayname"])
	assert.Zero(t, target.srv.Connections(), "the SSH target was not contacted")
	assert.Empty(t, target.cached(t))
}

// TestSSHInterruptedRunLeavesNoSecret interrupts ansible-playbook (SIGINT,
// as Ctrl-C does) while the module waits for a slow server: no secret is on
// the target's disk, neither while the module runs nor after.
func TestSSHInterruptedRunLeavesNoSecret(t *testing.T) {
	f := newFixture(t)
	target := newSSHTarget(t, "root", nil)
	// A first run fills the cache, so that the interrupted one only runs.
	name := uniqueUser("sshint")
	vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name,
		"test_password": "ssh-interrupt-pass-1", "test_displayname": "Before", "test_admin": "no"}
	pb := target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)

	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-time.After(60 * time.Second):
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	vars["test_password"] = "ssh-interrupt-pass-2"
	vars["test_displayname"] = "After"

	bin, err := synapsetest.AnsibleBin("ansible-playbook")
	require.NoError(t, err)
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	cmd := exec.Command(bin, "-i", target.inventory, "matrix_user.yml", "-e", extraVars(t, vars))
	cmd.Dir = filepath.Join(root, "tests", "playbooks")
	cmd.Env = append(ansibleEnv(t, testCollection(t)), target.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(60 * time.Second)
	for len(f.proxy.Requests()) == 0 {
		require.True(t, time.Now().Before(deadline), "the module never reached the server:\n%s", out.String())
		time.Sleep(50 * time.Millisecond)
	}
	secrets := []string{f.token, "ssh-interrupt-pass-1", "ssh-interrupt-pass-2"}
	files := requireNoSecretOnDisk(t, secrets, target.remoteTmp)
	assert.Greater(t, files, 0, "the cache was searched while the module ran")

	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("ansible-playbook did not stop on SIGINT:\n%s", out.String())
	}
	recordOutput(out.String())
	assert.Error(t, err, "the run was interrupted:\n%s", out.String())
	free()
	// The module on the target finishes its request and exits; give it time.
	time.Sleep(2 * time.Second)
	requireNoSecretOnDisk(t, secrets, target.remoteTmp)
}

// TestSSHHashTools runs the action plugin's SHA-256 shell function with each
// tool it falls back on alone on PATH (Linux has sha256sum, macOS shasum,
// the BSDs openssl), and with none: the digest, or nothing.
func TestSSHHashTools(t *testing.T) {
	python, err := synapsetest.VenvBin("python")
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	if venv := os.Getenv("MXADMIN_ANSIBLE_VENV"); venv != "" {
		python = filepath.Join(venv, "bin", "python")
	}
	cmd := exec.Command(python, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "+
		"from ansible_collections.mxadmin.synapse.plugins.plugin_utils.go_binary import SHA256_FUNC; print(SHA256_FUNC)", testCollection(t))
	fn, err := cmd.Output()
	require.NoError(t, err)
	want := fileSHA256(t, binary)
	for tool, expect := range map[string]string{"sha256sum": want, "shasum": want, "openssl": want, "": ""} {
		dir := t.TempDir()
		if tool != "" {
			path, err := exec.LookPath(tool)
			require.NoError(t, err)
			require.NoError(t, os.Symlink(path, filepath.Join(dir, tool)))
		}
		sh := exec.Command("/bin/sh", "-c", string(fn)+"\nsha256 \"$1\"", "sh", binary)
		sh.Env = []string{"PATH=" + dir}
		out, err := sh.Output()
		if tool != "" {
			require.NoError(t, err, tool)
		}
		assert.Equal(t, expect, strings.TrimSpace(string(out)), "with only %q", tool)
	}
}

// TestSSHConcurrentFirstRuns starts two runs against an empty cache at once:
// both upload (or one finds the other's file), each installs under a temp
// name and renames it into place, and both run a verified binary.
func TestSSHConcurrentFirstRuns(t *testing.T) {
	f := newFixture(t)
	target := newSSHTarget(t, "root", nil)
	bin, err := synapsetest.AnsibleBin("ansible-playbook")
	require.NoError(t, err)
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	cmds := make([]*exec.Cmd, 2)
	for i := range cmds {
		vars := extraVars(t, map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": uniqueUser("sshconc"),
			"test_password": "ssh-concurrent-pass", "test_displayname": "Concurrent", "test_admin": "no"})
		cmds[i] = exec.Command(bin, "-i", target.inventory, "matrix_user.yml", "-e", vars)
		cmds[i].Dir = filepath.Join(root, "tests", "playbooks")
		// Each its own SSH connection, as two people running at once.
		cmds[i].Env = append(ansibleEnv(t, testCollection(t)), "ANSIBLE_SSH_CONTROL_PATH_DIR="+filepath.Join(t.TempDir(), "cp"))
	}
	outs := make([][]byte, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range cmds {
		recordOutput(string(outs[i]))
		assert.NoError(t, errs[i], "run %d: %s", i, outs[i])
	}
	cached := target.cached(t)
	require.Len(t, cached, 1)
	assert.Equal(t, fileSHA256(t, binary), fileSHA256(t, cached[0]))
	leftovers, err := filepath.Glob(filepath.Join(target.cacheDir, ".*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "no temp file left in the cache")
}
