package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

// The binary cache and the run over SSH against a hostile second local user,
// a careless setup (a cache that is not the user's, a noexec temp dir) and
// Ctrl-C.

// attacker is the second local user of the target, swapping the cached
// binary for its own in a loop while runs go on. Each round takes the
// genuine file away from its name, puts the impostor there (a copy, a hard
// link to it, a symlink to it) for 3 ms, then puts the genuine file back for
// 3 ms: a run that hashes the file under its name and then executes the
// name again can run the impostor (the plugin before this test did, green,
// within the six runs under constant loosening).
const attackerScript = `
import os, sys, time
d, n, impostor, stop = sys.argv[1:5]
path, aside = os.path.join(d, n), os.path.join(d, ".genuine")
swaps = refused = 0
while not os.path.exists(stop):
    for way in ("copy", "link", "symlink"):
        try:
            os.rename(path, aside)
            if way == "copy":
                tmp = os.path.join(d, ".impostor")
                with open(impostor, "rb") as src, open(tmp, "wb") as dst:
                    dst.write(src.read())
                os.chmod(tmp, 0o755)
                os.rename(tmp, path)
            elif way == "link":
                os.link(impostor, path)
            else:
                os.symlink(impostor, path)
            time.sleep(0.003)
            os.unlink(path)
            os.rename(aside, path)
            swaps += 1
            time.sleep(0.003)
        except OSError:
            refused += 1
            time.sleep(0.002)
print(swaps, refused)
`

// startAttacker runs attackerScript as sshtest.TestUser against the cache;
// the returned function stops it and returns its swap and refusal counts.
func startAttacker(t *testing.T, cacheDir, name, impostor string) func() (swaps, refused int) {
	t.Helper()
	cred, err := sshtest.Credential(sshtest.TestUser)
	require.NoError(t, err)
	stop := filepath.Join(filepath.Dir(impostor), "stop")
	cmd := exec.Command(pythonForTarget(t), "-c", attackerScript, cacheDir, name, impostor, stop)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	var once sync.Once
	finish := func() (swaps, refused int) {
		once.Do(func() {
			require.NoError(t, os.WriteFile(stop, nil, 0o644))
			require.NoError(t, cmd.Wait(), out.String())
		})
		_, err := fmt.Sscan(out.String(), &swaps, &refused)
		require.NoError(t, err, out.String())
		return swaps, refused
	}
	t.Cleanup(func() { finish() })
	return finish
}

// requirePrivateCache checks the cache as the module's user must find it:
// a directory of root's, mode 0700, holding only root's regular files, one
// of which is the binary.
func requirePrivateCache(t *testing.T, target *sshTarget, what string) {
	t.Helper()
	st, err := os.Lstat(target.cacheDir)
	require.NoError(t, err)
	assert.True(t, st.IsDir(), what)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "%s: the cache directory is private again", what)
	assert.Equal(t, uint32(0), st.Sys().(*syscall.Stat_t).Uid, what)
	entries, err := os.ReadDir(target.cacheDir)
	require.NoError(t, err)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		assert.True(t, info.Mode().IsRegular(), "%s: %s in the cache is not a regular file", what, e.Name())
		assert.Equal(t, uint32(0), info.Sys().(*syscall.Stat_t).Uid, "%s: %s in the cache is another user's", what, e.Name())
	}
	cached := target.cached(t)
	require.Len(t, cached, 1, what)
	assert.Equal(t, fileSHA256(t, binary), fileSHA256(t, cached[0]), what)
}

// TestSSHCacheSwappedByAnotherUser: the cache directory of root's runs is
// loosened to 0777 and a second local user swaps the cached binary for an
// impostor in a loop (a copy, a hard link, a symlink; the genuine file back
// in between) while runs go on. First the directory is loosened before each
// run, then all the time in the background, so that some runs find it
// private and it is opened right after their check. No run ever executes the
// impostor; a run either applies the declaration with the real binary or
// fails naming the cache and ansible_remote_tmp; the directory is repaired.
func TestSSHCacheSwappedByAnotherUser(t *testing.T) {
	f := newFixture(t)
	target := newSSHTarget(t, "root", nil)
	name := uniqueUser("sshswap")
	vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name,
		"test_password": "ssh-swap-pass-1", "test_displayname": "Swap 0", "test_admin": "no"}
	pb := target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	cached := target.cached(t)
	require.Len(t, cached, 1)

	// The attacker's impostor, in a directory of its own on the same
	// filesystem (for the hard link): it leaves a mark when run and
	// answers like a module that changed nothing.
	uid, gid, _, err := sshtest.UserIDs(sshtest.TestUser)
	require.NoError(t, err)
	evil := filepath.Join(target.remoteTmp, "attacker")
	require.NoError(t, os.Mkdir(evil, 0o755))
	mark := filepath.Join(evil, "the-impostor-ran")
	impostor := filepath.Join(evil, "impostor")
	require.NoError(t, os.WriteFile(impostor, []byte("#!/bin/sh\ntouch "+mark+"\ncat >/dev/null\n"+
		`echo '{"changed": false, "msg": "impostor", "impostor": true}'`+"\n"), 0o755))
	require.NoError(t, os.Chown(evil, uid, gid))
	require.NoError(t, os.Chown(impostor, uid, gid))

	require.NoError(t, os.Chmod(target.cacheDir, 0o777))
	finish := startAttacker(t, target.cacheDir, filepath.Base(cached[0]), impostor)
	// The attacker is at work before the first run.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Lstat(filepath.Join(target.cacheDir, ".genuine")); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the attacker never swapped the binary")
		time.Sleep(5 * time.Millisecond)
	}

	run := func(i int) Playbook {
		vars["test_displayname"] = fmt.Sprintf("Swap %d", i)
		pb := target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
		assert.NoFileExists(t, mark, "run %d executed the impostor:\n%s", i, pb.Output)
		assert.NotContains(t, pb.Output, "impostor", "run %d", i)
		return pb
	}

	// The directory loosened before each run: the run repairs it (a
	// warning says so), drops what the attacker put there, and runs the
	// real binary.
	for i := 1; i <= 3; i++ {
		require.NoError(t, os.Chmod(target.cacheDir, 0o777))
		pb := run(i)
		require.Equal(t, 0, pb.Exit, "run %d: %s", i, pb.Output)
		assert.Equal(t, 1, changedOf(t, pb), "run %d", i)
		assert.Equal(t, fmt.Sprintf("Swap %d", i), f.read(t, name)["displayname"], "run %d applied with the real binary", i)
		assert.Contains(t, flat(pb.Output), "was drwxrwxrwx, open to other users: made 0700", "run %d warns of the repair", i)
		requirePrivateCache(t, target, fmt.Sprintf("after run %d", i))
	}

	// The directory loosened again and again while runs go on.
	stopLoosening := make(chan struct{})
	loosened := make(chan struct{})
	go func() {
		defer close(loosened)
		for {
			select {
			case <-stopLoosening:
				return
			case <-time.After(400 * time.Millisecond):
				_ = os.Chmod(target.cacheDir, 0o777)
			}
		}
	}()
	green := 0
	for i := 4; i <= 9; i++ {
		pb := run(i)
		if pb.Exit == 0 {
			green++
			assert.Equal(t, fmt.Sprintf("Swap %d", i), f.read(t, name)["displayname"], "run %d is green: the real binary applied it", i)
			continue
		}
		// A run that lost the race to the loosening fails, naming the cache
		// and the way out, before any request.
		assert.Contains(t, pb.Output, "ansible_remote_tmp", "run %d", i)
		assert.Contains(t, pb.Output, "mxadmin.synapse.matrix_user: ", "run %d", i)
	}
	close(stopLoosening)
	<-loosened
	swaps, refused := finish()
	t.Logf("attacker: %d swaps done, %d refused; %d of 6 runs under constant loosening green", swaps, refused, green)
	assert.Positive(t, swaps, "the attacker swapped the binary")
	assert.Positive(t, refused, "the repaired directory refused the attacker")

	// Left alone, the next run repairs the cache and succeeds.
	pb = run(10)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, "Swap 10", f.read(t, name)["displayname"])
	requirePrivateCache(t, target, "at the end")
	assert.NoFileExists(t, mark)
}

// TestSSHCacheRefusalNamesTheCause: a cache that cannot be repaired safely
// (another user's directory, a symlink, a file in the way) fails the task
// with the script's reason, the path and the setting that fixes it, not
// with ssh's 'Shared connection to … closed.'; nothing reaches Synapse.
func TestSSHCacheRefusalNamesTheCause(t *testing.T) {
	f := newFixture(t)
	uid, gid, _, err := sshtest.UserIDs(sshtest.TestUser)
	require.NoError(t, err)
	for what, tc := range map[string]struct {
		setup func(t *testing.T, cacheDir string)
		want  string
	}{
		"another user's directory": {func(t *testing.T, cacheDir string) {
			require.NoError(t, os.Mkdir(cacheDir, 0o700))
			require.NoError(t, os.Chown(cacheDir, uid, gid))
		}, fmt.Sprintf("belongs to another user (uid %d), not to root (uid 0): remove it, as root or as its owner", uid)},
		"a symlink to a directory": {func(t *testing.T, cacheDir string) {
			other := t.TempDir()
			require.NoError(t, os.Symlink(other, cacheDir))
		}, "is a symbolic link; the cache must be a directory of its own: remove the link"},
		"a file": {func(t *testing.T, cacheDir string) {
			require.NoError(t, os.WriteFile(cacheDir, []byte("x"), 0o600))
		}, "exists and is not a directory: remove it"},
	} {
		t.Run(what, func(t *testing.T) {
			target := newSSHTarget(t, "root", nil)
			tc.setup(t, target.cacheDir)
			name := uniqueUser("sshrefuse")
			vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name,
				"test_password": "ssh-refuse-pass-1", "test_displayname": "Refused", "test_admin": "no"}
			f.proxy.Reset()
			pb := target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
			require.NotEqual(t, 0, pb.Exit, pb.Output)
			assert.Contains(t, pb.Output, "cannot use the module binary cache on the host the module runs on: "+target.cacheDir+" ")
			assert.Contains(t, pb.Output, tc.want)
			assert.Contains(t, pb.Output, "set ansible_remote_tmp (remote_tmp in ansible.cfg's [defaults], ANSIBLE_REMOTE_TEMP)")
			assert.NotContains(t, pb.Output, "Shared connection")
			assert.Empty(t, f.proxy.Requests(), "the module never ran")

			// Fixed as the message says, the next run works.
			require.NoError(t, os.RemoveAll(target.cacheDir))
			pb = target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
			require.Equal(t, 0, pb.Exit, pb.Output)
			assert.Equal(t, "Refused", f.read(t, name)["displayname"])
		})
	}
}

// TestSSHNoexecRemoteTmp: the second local user logs in with its remote temp
// root on a tmpfs mounted noexec (as /tmp often is). The cache is installed
// there, and the run fails saying that the binary could not be executed,
// that the filesystem is most likely mounted noexec, and which setting moves
// it, instead of 'No start of json char found'. With the default remote temp
// root (in its home) the same play works.
func TestSSHNoexecRemoteTmp(t *testing.T) {
	f := newFixture(t)
	srv := sshd(t)
	mnt, err := os.MkdirTemp(srv.Dir, "noexec-")
	require.NoError(t, err)
	unmount, err := sshtest.MountNoexec(mnt)
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	t.Cleanup(unmount)
	remoteTmp := filepath.Join(mnt, "ansible-tmp")
	target := newSSHTarget(t, sshtest.TestUser, map[string]any{"ansible_remote_tmp": remoteTmp})
	target.cacheDir = filepath.Join(remoteTmp, "mxadmin_synapse")

	name := uniqueUser("sshnoexec")
	vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name,
		"test_password": "ssh-noexec-pass-1", "test_displayname": "Noexec", "test_admin": "no"}
	f.proxy.Reset()
	pb := target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
	require.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "refused to execute the module binary "+target.cacheDir+"/mxadmin_synapse-")
	assert.Contains(t, pb.Output, "Permission denied")
	assert.Contains(t, pb.Output, "mounted noexec")
	assert.Contains(t, pb.Output, "Set ansible_remote_tmp (remote_tmp in ansible.cfg's [defaults], ANSIBLE_REMOTE_TEMP) to a directory on a filesystem that allows execution")
	assert.NotContains(t, pb.Output, "No start of json char")
	assert.Empty(t, f.proxy.Requests(), "the module never ran")
	require.Len(t, target.cached(t), 1, "the binary was installed, and verified, before the run found it cannot execute")

	// Ansible's default remote temp root, in the user's home, is fine.
	_, _, home, err := sshtest.UserIDs(sshtest.TestUser)
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(filepath.Join(home, ".ansible")) })
	target = newSSHTarget(t, sshtest.TestUser, map[string]any{"ansible_remote_tmp": "~/.ansible/tmp"})
	pb = target.playbook(t, nil, "matrix_user.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, "Noexec", f.read(t, name)["displayname"])
}

// flat joins the lines of an output (Ansible wraps warnings at 80 columns).
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// createArrivals records when the proxy saw each user-writing request.
type createArrivals struct {
	mu    sync.Mutex
	times map[string]time.Time // user path -> first write
	last  time.Time
}

func (c *createArrivals) fault(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/_synapse/admin/v2/users/") {
		c.mu.Lock()
		now := time.Now()
		if _, ok := c.times[r.URL.Path]; !ok {
			c.times[r.URL.Path] = now
		}
		c.last = now
		c.mu.Unlock()
	}
	return false
}

// after counts the users whose first write came after t, and returns the
// time of the last write.
func (c *createArrivals) after(t time.Time) (int, int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, at := range c.times {
		if at.After(t) {
			n++
		}
	}
	return n, len(c.times), c.last
}

// runningFrom lists the processes whose executable lies in dir.
func runningFrom(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && strings.HasPrefix(exe, dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestCtrlCStopsTheRunOnTheTarget is the Ctrl-C trial: the role creates 60
// users (a login run, concurrency 8, Synapse hashing at its default cost so
// that a create takes what it takes in production), and ansible-playbook
// gets SIGINT in the middle, as a terminal sends it (to its process group).
// Over SSH nothing signals the module on the target; it sees its standard
// output hang up and stops as on SIGTERM: only the requests it started before
// it noticed reach Synapse after the interrupt, it logs out, and it exits.
// The same over the local connection. (Before, 42 of 60 creates arrived after
// the interrupt over SSH.)
func TestCtrlCStopsTheRunOnTheTarget(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{BcryptRounds: 12})
	f := fixtureOn(t, srv)
	for _, connection := range []string{"ssh", "local"} {
		t.Run(connection, func(t *testing.T) {
			var inventory, cacheDir string
			var env []string
			if connection == "ssh" {
				target := newSSHTarget(t, "root", nil)
				inventory, cacheDir, env = target.inventory, target.cacheDir, target.env
			} else {
				dir := t.TempDir()
				inventory = filepath.Join(dir, "inventory.yml")
				require.NoError(t, os.WriteFile(inventory, []byte(fmt.Sprintf(
					"all:\n  hosts:\n    synapse_host:\n      ansible_connection: local\n      ansible_remote_tmp: %q\n", filepath.Join(dir, "rt"))), 0o600))
				cacheDir = filepath.Join(dir, "rt", "mxadmin_synapse")
			}
			prefix := uniqueUser("ctrlc" + connection)
			var users []map[string]any
			for i := 0; i < 60; i++ {
				users = append(users, map[string]any{"username": fmt.Sprintf("%s-%02d", prefix, i), "password": "ctrl-c-pass-" + prefix})
			}
			vars := map[string]any{"matrix_users_homeserver_url": f.proxy.URL, "matrix_users_admin_user": "admin",
				"matrix_users_admin_password": synapsetest.AdminPassword, "matrix_users_retries": 0, "matrix_users_list": users}

			// Fill the cache first, so that the interrupted run only runs.
			warm := map[string]any{}
			for k, v := range vars {
				warm[k] = v
			}
			warm["matrix_users_list"] = []map[string]any{{"username": prefix + "-warm", "password": "ctrl-c-pass-" + prefix}}
			pb := ansiblePlaybookEnv(t, testCollection(t), env, "-i", inventory, "matrix_users_role.yml", "-e", extraVars(t, warm))
			require.Equal(t, 0, pb.Exit, pb.Output)
			require.NotEmpty(t, cachedIn(t, cacheDir), "the cache is filled")

			arrivals := &createArrivals{times: map[string]time.Time{}}
			f.proxy.SetFault(arrivals.fault)
			defer f.proxy.SetFault(nil)
			bin, err := synapsetest.AnsibleBin("ansible-playbook")
			require.NoError(t, err)
			root, err := synapsetest.RepoRoot()
			require.NoError(t, err)
			cmd := exec.Command(bin, "-i", inventory, "matrix_users_role.yml", "-e", extraVars(t, vars))
			cmd.Dir = filepath.Join(root, "tests", "playbooks")
			cmd.Env = append(ansibleEnv(t, testCollection(t)), env...)
			// Its own process group, which gets the SIGINT, as a terminal's
			// foreground group gets it on Ctrl-C.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			deadline := time.Now().Add(2 * time.Minute)
			for {
				if _, total, _ := arrivals.after(time.Time{}); total >= 10 {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("the run ended before the interrupt (%v):\n%s", err, out.String())
				default:
				}
				require.True(t, time.Now().Before(deadline), "the run never created 10 users:\n%s", out.String())
				time.Sleep(10 * time.Millisecond)
			}
			interrupted := time.Now()
			require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				t.Fatalf("ansible-playbook did not stop on SIGINT:\n%s", out.String())
			}
			recordOutput(out.String())
			assert.Error(t, err, "the run was interrupted:\n%s", out.String())

			// The module on the target stops too.
			var left []int
			for stop := time.Now().Add(20 * time.Second); time.Now().Before(stop); time.Sleep(100 * time.Millisecond) {
				if left = runningFrom(cacheDir); len(left) == 0 {
					break
				}
			}
			require.Empty(t, left, "the module still runs on the target after the interrupt")
			// Give a module that would go on the time to create the rest.
			time.Sleep(3 * time.Second)
			late, total, last := arrivals.after(interrupted)
			t.Logf("%s: %d users written to before the interrupt, %d after it (the last %v after it)",
				connection, total-late, late, last.Sub(interrupted).Round(time.Millisecond))
			assert.Less(t, total, 60, "the run did not create every user")
			assert.LessOrEqual(t, late, 8, "only the few requests started before the module noticed")
			assert.Less(t, last.Sub(interrupted), 2*time.Second, "no write long after the interrupt")
			assert.Empty(t, f.ourDevices(t), "the login run logged out")
		})
	}
}

// cachedIn returns the binaries in a cache directory.
func cachedIn(t *testing.T, cacheDir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(cacheDir, "mxadmin_synapse-*"))
	require.NoError(t, err)
	return files
}

// pluginPython runs Python code with the test collection importable (as
// ansible_collections.mxadmin.synapse) and returns its output.
func pluginPython(t *testing.T, code string, args ...string) string {
	t.Helper()
	python, err := synapsetest.VenvBin("python")
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	if venv := os.Getenv("MXADMIN_ANSIBLE_VENV"); venv != "" {
		python = filepath.Join(venv, "bin", "python")
	}
	cmd := exec.Command(python, append([]string{"-c", "import sys; sys.path.insert(0, sys.argv[1]); " + code, testCollection(t)}, args...)...)
	out, err := cmd.Output()
	require.NoError(t, err)
	return string(out)
}

// TestSSHRunScriptExecutesWhatItVerified drives the action plugin's run
// script itself with sh, as the target runs it, against a cache holding a
// stand-in binary. Between the script's SHA-256 check and its execution
// (held there by a sha256sum that waits) the file under the cached name is
// replaced: the script executes the file it verified, through its
// descriptor, not the replacement. With /proc hidden (as on macOS) it runs
// the verified name in the directory it found private. Either way it
// refuses, as a miss, a directory open to others, a symlinked directory or
// binary, and a binary of another user's.
func TestSSHRunScriptExecutesWhatItVerified(t *testing.T) {
	if os.Geteuid() != 0 {
		synapsetest.Unavailable(t, fmt.Errorf("the run script test chowns files to %s: it must run as root", sshtest.TestUser))
	}
	genuine := []byte("#!/bin/sh\ncat >/dev/null\necho \"genuine $0\"\n")
	sum := sha256.Sum256(genuine)
	digest := hex.EncodeToString(sum[:])
	name := "mxadmin_synapse-0.0.0-linux_amd64-" + digest
	root := t.TempDir()
	cache := filepath.Join(root, "mxadmin_synapse")
	script := pluginPython(t, "from ansible_collections.mxadmin.synapse.plugins.plugin_utils.go_binary import run_script; "+
		"print(run_script([(('linux', 'x86_64'), sys.argv[2], sys.argv[3]), (('linux', 'aarch64'), sys.argv[2], sys.argv[3])], sys.argv[4], ''))",
		name, digest, cache)
	uid, gid, _, err := sshtest.UserIDs(sshtest.TestUser)
	require.NoError(t, err)

	reset := func() {
		require.NoError(t, os.RemoveAll(cache))
		require.NoError(t, os.Mkdir(cache, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(cache, name), genuine, 0o700))
	}
	// run runs the script as the target does, with /proc or without it.
	run := func(withProc bool, env ...string) string {
		cmd := exec.Command("sh", "-c", script)
		if !withProc {
			cmd = exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs none /proc && exec sh -c \"$0\"", script)
		}
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader("{}")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	for _, withProc := range []bool{true, false} {
		how := map[bool]string{true: "with /proc", false: "without /proc"}[withProc]
		reset()
		out := run(withProc)
		if withProc {
			assert.Contains(t, out, "genuine /proc/self/fd/9", how)
		} else {
			assert.Contains(t, out, "genuine "+filepath.Join(cache, name), how)
		}

		for what, spoil := range map[string]func(){
			"a directory open to others": func() { require.NoError(t, os.Chmod(cache, 0o777)) },
			"a group-writable directory": func() { require.NoError(t, os.Chmod(cache, 0o770)) },
			"a symlinked directory": func() {
				require.NoError(t, os.RemoveAll(cache+".real"))
				require.NoError(t, os.Rename(cache, cache+".real"))
				require.NoError(t, os.Symlink(cache+".real", cache))
			},
			"a symlinked binary": func() {
				require.NoError(t, os.Rename(filepath.Join(cache, name), filepath.Join(cache, "real")))
				require.NoError(t, os.Symlink("real", filepath.Join(cache, name)))
			},
			"another user's binary":    func() { require.NoError(t, os.Chown(filepath.Join(cache, name), uid, gid)) },
			"another user's directory": func() { require.NoError(t, os.Chown(cache, uid, gid)) },
		} {
			reset()
			spoil()
			out := run(withProc)
			assert.NotContains(t, out, "genuine", "%s, %s: run", how, what)
			assert.Contains(t, out, "MXADMIN-SYNAPSE-CACHE-MISS", "%s, %s: a miss", how, what)
		}
	}

	// The file swapped between the check and the execution.
	reset()
	hold := t.TempDir()
	wrapper := filepath.Join(hold, "bin", "sha256sum")
	require.NoError(t, os.Mkdir(filepath.Dir(wrapper), 0o755))
	real, err := exec.LookPath("sha256sum")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(wrapper, []byte("#!/bin/sh\nout=$("+real+" \"$@\") || exit 1\ntouch \"$HELD\"\n"+
		"while [ ! -e \"$GO\" ]; do sleep 0.01; done\necho \"$out\"\n"), 0o755))
	held, goOn := filepath.Join(hold, "held"), filepath.Join(hold, "go")
	result := make(chan string, 1)
	go func() {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(wrapper)+":"+os.Getenv("PATH"), "HELD="+held, "GO="+goOn)
		cmd.Stdin = strings.NewReader("{}")
		out, _ := cmd.CombinedOutput()
		result <- string(out)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(held); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the script never hashed the binary")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, os.Rename(filepath.Join(cache, name), filepath.Join(cache, ".genuine")))
	require.NoError(t, os.WriteFile(filepath.Join(cache, name), []byte("#!/bin/sh\necho impostor\n"), 0o700))
	require.NoError(t, os.WriteFile(goOn, nil, 0o644))
	select {
	case out := <-result:
		assert.Contains(t, out, "genuine /proc/self/fd/9", "the verified file ran")
		assert.NotContains(t, out, "impostor")
	case <-time.After(30 * time.Second):
		t.Fatal("the script did not finish")
	}
}
