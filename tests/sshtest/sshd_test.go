package sshtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// othersLive reports whether a server of another process (another test
// binary of this run, another checkout's run) holds a live lease: then the
// user must stay when this test's server stops.
func othersLive(t *testing.T, except ...string) bool {
	t.Helper()
	paths, err := leases()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		skip := false
		for _, e := range except {
			skip = skip || p == e
		}
		if live, _ := leaseLive(p); live && !skip {
			return true
		}
	}
	return false
}

func userExists() bool {
	_, err := user.Lookup(TestUser)
	return err == nil
}

// assertUserUndone: once no server runs, the user is gone; while another
// process's server runs, it stays.
func assertUserUndone(t *testing.T) {
	t.Helper()
	var others, exists bool
	_ = withLock(func() error { others, exists = othersLive(t), userExists(); return nil })
	if others != exists {
		t.Errorf("another server running: %t, but the user %s exists: %t", others, TestUser, exists)
	}
}

// The harness itself: sshd starts, takes the key for root and TestUser
// through the relay, counts the bytes, and stops, undoing what it changed
// on the machine: its sudoers drop-in and, when no other server runs, the
// user.
func TestStartStop(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	lease := s.sudoers
	data, err := os.ReadFile(lease)
	if err != nil {
		t.Fatal(err)
	}
	if m := ownerLine.FindStringSubmatch(string(data)); m == nil || m[1] != fmt.Sprint(os.Getpid()) {
		t.Errorf("the drop-in %s does not name this process:\n%s", lease, data)
	}
	if out, err := exec.Command("visudo", "-c", "-f", lease).CombinedOutput(); err != nil {
		t.Errorf("visudo -c on the drop-in: %v\n%s", err, out)
	}
	for _, u := range []string{"root", TestUser} {
		s.Reset()
		args := append(strings.Fields(s.SSHArgs()), "-i", s.Key, "-p", fmt.Sprint(s.Port), "-o", "BatchMode=yes", u+"@127.0.0.1", "id -un")
		out, err := exec.Command("ssh", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh as %s: %v\n%s\n%s", u, err, out, s.LogTail(20))
		}
		if strings.TrimSpace(string(out)) != u {
			t.Errorf("logged in as %q, want %s", out, u)
		}
		if s.Sent() == 0 || s.Received() == 0 {
			t.Errorf("the relay counted %d bytes sent and %d received", s.Sent(), s.Received())
		}
	}
	s.Stop()
	if _, err := os.Stat(lease); !os.IsNotExist(err) {
		t.Errorf("the drop-in %s is still there after Stop: %v", lease, err)
	}
	assertUserUndone(t)
}

// writeLease writes a drop-in as a harness process would have.
func writeLease(t *testing.T, text string) string {
	t.Helper()
	f, err := os.CreateTemp(sudoersDir, sudoersPrefix+"0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// CreateTemp's suffix is digits: a valid drop-in name (no '.').
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Chmod(0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(f.Name()) })
	return f.Name()
}

func leaseOf(pid int, start uint64) string {
	return fmt.Sprintf("# mxadmin.synapse SSH tests: pid %d started %d (a test's)\n%s ALL=(ALL:ALL) NOPASSWD: ALL\n", pid, start, TestUser)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// What runs killed before their Stop left is removed by the next Start
// (the drop-in of a process that is gone, one of an older harness written
// hours ago), never what a live run holds; the user stays while a live run
// holds a lease, and goes with the last one (Cleanup, as make ssh-cleanup
// and make test run it).
func TestKilledRunsAreCleanedAtTheNextStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the SSH harness needs root, as make test runs it")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := writeLease(t, leaseOf(gone.Process.Pid, 1))
	oldLegacy := writeLease(t, TestUser+" ALL=(ALL:ALL) NOPASSWD: ALL\n")
	hoursAgo := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(oldLegacy, hoursAgo, hoursAgo); err != nil {
		t.Fatal(err)
	}
	newLegacy := writeLease(t, TestUser+" ALL=(ALL:ALL) NOPASSWD: ALL\n")
	holder := exec.Command("sleep", "600")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	start, ok := processStart(holder.Process.Pid)
	if !ok {
		t.Fatal("no start time for the sleep process")
	}
	live := writeLease(t, leaseOf(holder.Process.Pid, start))
	reused := writeLease(t, leaseOf(holder.Process.Pid, start+1)) // its pid, another start: a reused pid

	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dead, oldLegacy, reused} {
		if exists(p) {
			t.Errorf("Start left the stale drop-in %s", p)
		}
	}
	for _, p := range []string{newLegacy, live} {
		if !exists(p) {
			t.Errorf("Start removed %s, which a live run holds", p)
		}
	}
	if err := os.Remove(newLegacy); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if !userExists() {
		t.Errorf("Stop removed the user %s while a live run holds %s", TestUser, live)
	}

	_ = holder.Process.Kill()
	_ = holder.Wait()
	done, err := Cleanup()
	if err != nil {
		t.Fatal(err)
	}
	if exists(live) {
		t.Errorf("Cleanup left %s, whose process is gone; it did: %q", live, done)
	}
	assertUserUndone(t)
}

// A noexec tmpfs that a killed test left mounted goes with the last lease.
func TestCleanupUnmountsALeftNoexecTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the SSH harness needs root, as make test runs it")
	}
	dir := filepath.Join(t.TempDir(), "left")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	unmount, err := MountNoexec(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unmount()
	var others bool
	done, err := func() ([]string, error) {
		var done []string
		err := withLock(func() error {
			others = othersLive(t)
			if others {
				return nil
			}
			var err error
			done, err = cleanLocked(false)
			return err
		})
		return done, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	if others {
		// Another run's tests are live: what it mounted is its own.
		t.Logf("another SSH test run is live: nothing unmounted")
		return
	}
	if strings.Contains(string(mounts), dir) {
		t.Errorf("the noexec tmpfs on %s is still mounted; Cleanup did: %q", dir, done)
	}
}
