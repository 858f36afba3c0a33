package sshtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What the SSH tests change on the machine, and how it is undone.
//
// They need TestUser and, while a server runs, a sudoers drop-in that lets
// it become root. Each running server (one per test binary; 'go test
// ./tests/...' runs several binaries at once, and other checkouts on the
// machine may run theirs) holds a drop-in of its own, which names the
// process that wrote it: that drop-in is its lease. Under one lock:
//   - Start removes the drop-ins of processes that are gone (a run killed
//     by SIGKILL or by a test binary's timeout never ran its Stop), then
//     writes its own;
//   - Stop removes its own, then, when no live lease is left, the user (with
//     its home) and any noexec tmpfs a killed test left mounted.
// Cleanup does the same without a server of its own ('make ssh-cleanup',
// and make test when its stages end).

// sudoersDir is where the drop-ins go (a variable for the tests).
var sudoersDir = "/etc/sudoers.d"

// sudoersPrefix names the drop-ins. sudo skips drop-ins whose name has a
// '.', so the suffix is hex.
const sudoersPrefix = "mxadmin-ssh-e2e-"

// userComment marks TestUser in /etc/passwd as the tests' own.
const userComment = "mxadmin.synapse SSH tests (removed when they end)"

// noexecSource is the source name of the tmpfs MountNoexec mounts.
const noexecSource = "mxadmin-noexec"

// legacyLeaseAge: a drop-in without an owner line (written by an older
// harness, in another checkout) counts as live for this long after it was
// written: longer than any test binary's timeout.
const legacyLeaseAge = 2 * time.Hour

// ownerLine is the drop-in's comment naming its process: its pid and its
// start time (in clock ticks since boot, /proc/PID/stat), so that a pid
// the kernel reused does not keep a dead run's lease alive.
var ownerLine = regexp.MustCompile(`(?m)^# mxadmin\.synapse SSH tests: pid (\d+) started (\d+)\b`)

func lockPath() string {
	if fi, err := os.Stat("/run"); err == nil && fi.IsDir() {
		return "/run/mxadmin-ssh-e2e.lock"
	}
	return filepath.Join(os.TempDir(), "mxadmin-ssh-e2e.lock")
}

// withLock runs f holding the lock that every harness process shares.
func withLock(f func() error) error {
	l, err := os.OpenFile(lockPath(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := syscall.Flock(int(l.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", lockPath(), err)
	}
	defer syscall.Flock(int(l.Fd()), syscall.LOCK_UN)
	return f()
}

// processStart is the start time of a live process (not a zombie), in
// clock ticks since boot; false when there is no such process.
func processStart(pid int) (uint64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// "pid (comm) S ppid ...": comm may hold spaces and ')', so the fields
	// are counted from the last ')': state is field 3, starttime field 22.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return 0, false
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	return start, err == nil
}

// leaseText is the drop-in of this process.
func leaseText() (string, error) {
	start, ok := processStart(os.Getpid())
	if !ok {
		return "", errors.New("cannot read this process's start time in /proc")
	}
	return fmt.Sprintf("# mxadmin.synapse SSH tests: pid %d started %d (removed when that run ends; make ssh-cleanup after a killed run)\n%s ALL=(ALL:ALL) NOPASSWD: ALL\n",
		os.Getpid(), start, TestUser), nil
}

// leaseLive: the drop-in's process still runs (or, for a drop-in of an
// older harness without an owner line, it is recent).
func leaseLive(path string) (bool, string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err.Error()
	}
	m := ownerLine.FindStringSubmatch(string(data))
	if m == nil {
		fi, err := os.Stat(path)
		if err == nil && time.Since(fi.ModTime()) < legacyLeaseAge {
			return true, "written without an owner less than 2 hours ago"
		}
		return false, "written without an owner over 2 hours ago"
	}
	pid, _ := strconv.Atoi(m[1])
	want, _ := strconv.ParseUint(m[2], 10, 64)
	if start, ok := processStart(pid); ok && start == want {
		return true, "pid " + m[1] + " runs"
	}
	return false, "pid " + m[1] + " is gone"
}

func leases() ([]string, error) {
	return filepath.Glob(filepath.Join(sudoersDir, sudoersPrefix+"*"))
}

// cleanLocked removes the drop-ins of runs that are gone and, unless a
// live one is left or keepUser is set, the user and stale noexec mounts.
// It returns what it did, one line each. The caller holds the lock.
func cleanLocked(keepUser bool) ([]string, error) {
	var done []string
	paths, err := leases()
	if err != nil {
		return nil, err
	}
	live := 0
	for _, p := range paths {
		ok, why := leaseLive(p)
		if ok {
			live++
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return done, err
		}
		done = append(done, fmt.Sprintf("removed %s (%s)", p, why))
	}
	if live > 0 || keepUser {
		return done, nil
	}
	unmounted, err := unmountStaleNoexec()
	done = append(done, unmounted...)
	if err != nil {
		return done, err
	}
	removed, err := removeUser()
	if removed {
		done = append(done, "removed the user "+TestUser+" and its home")
	}
	return done, err
}

// unmountStaleNoexec unmounts the noexec tmpfs a killed test left (none
// runs: no live lease).
func unmountStaleNoexec() ([]string, error) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil, nil // not Linux: MountNoexec is Linux-only too
	}
	var done []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != noexecSource || f[2] != "tmpfs" {
			continue
		}
		// /proc/self/mounts escapes spaces and the like as octal.
		dir := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(f[1])
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			return done, fmt.Errorf("umount -l %s: %v %s", dir, err, out)
		}
		done = append(done, "unmounted the noexec tmpfs on "+dir)
	}
	return done, nil
}

// removeUser removes TestUser and its home when it exists. userdel refuses
// while a process of the user runs (a session sshd has not ended yet), so
// it is tried again for a few seconds.
func removeUser() (bool, error) {
	if _, err := user.Lookup(TestUser); err != nil {
		return false, nil
	}
	var out []byte
	var err error
	for i := 0; i < 20; i++ {
		out, err = exec.Command("userdel", "--remove", TestUser).CombinedOutput()
		var exit *exec.ExitError
		// 8: the user is logged in (has processes); 1: the passwd file is
		// locked by another tool for a moment.
		if err == nil || !errors.As(err, &exit) || (exit.ExitCode() != 8 && exit.ExitCode() != 1) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return false, fmt.Errorf("userdel --remove %s: %v\n%s", TestUser, err, out)
	}
	return true, nil
}

// Cleanup removes what SSH test runs that are gone left on the machine:
// their sudoers drop-ins and, when no run is live, TestUser and any noexec
// tmpfs still mounted. It needs root when there is anything to remove.
func Cleanup() ([]string, error) {
	var done []string
	err := withLock(func() error {
		var err error
		done, err = cleanLocked(false)
		return err
	})
	return done, err
}

// Leftovers lists what the SSH tests changed that is still there (for a
// caller that cannot remove it: not root).
func Leftovers() []string {
	var left []string
	paths, _ := leases()
	left = append(left, paths...)
	if _, err := user.Lookup(TestUser); err == nil {
		left = append(left, "the user "+TestUser)
	}
	return left
}

// takeLease cleans what gone runs left, makes sure TestUser exists and
// writes this server's drop-in, all under the lock.
func takeLease() (string, error) {
	text, err := leaseText()
	if err != nil {
		return "", err
	}
	suffix := make([]byte, 8)
	if _, err := randRead(suffix); err != nil {
		return "", err
	}
	path := filepath.Join(sudoersDir, sudoersPrefix+fmt.Sprintf("%x", suffix))
	err = withLock(func() error {
		if _, err := cleanLocked(true); err != nil {
			return err
		}
		if err := ensureUser(); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(text), 0o440); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return nil
	})
	return path, err
}

// dropLease removes this server's drop-in and, when it was the last live
// one, the user.
func dropLease(path string) error {
	if path == "" {
		return nil
	}
	return withLock(func() error {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		_, err := cleanLocked(false)
		return err
	})
}
