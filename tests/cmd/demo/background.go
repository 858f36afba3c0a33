package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// state is what 'make demo' leaves in its folder (demo.json, 0600) so that
// 'make demo-start' can bring the same Synapse back and say how to log in.
type state struct {
	URL           string `json:"url"`
	ServerName    string `json:"server_name"`
	Python        string `json:"python"` // the Python Synapse ran from (its release made the database)
	SynapseDir    string `json:"synapse_dir"`
	AdminPassword string `json:"admin_password"`
	AlicePassword string `json:"alice_password"`
}

func statePath(work string) string { return filepath.Join(work, "demo.json") }

// pidPath names the process of the demo Synapse while it runs in the
// background (started by 'make demo' on a terminal or 'make demo-start').
func pidPath(work string) string { return filepath.Join(work, "synapse.pid") }

func (st state) config() string { return filepath.Join(st.SynapseDir, "homeserver.yaml") }

func writeState(work string, st state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(statePath(work), append(data, '\n'), 0o600)
}

func readState(work string) (state, error) {
	var st state
	data, err := os.ReadFile(statePath(work))
	if errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("there is no demo in %s: make demo first", work)
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s: %w (make demo writes a new one)", statePath(work), err)
	}
	return st, nil
}

// running returns the pid of the demo Synapse when it runs. A pid file
// whose process is gone, or is not this demo's Synapse any more (the pid
// reused), is stale: it is removed.
func running(work string, st state) (int, bool) {
	data, err := os.ReadFile(pidPath(work))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err == nil && pid > 0 && isDemoSynapse(pid, st.config()) {
		return pid, true
	}
	_ = os.Remove(pidPath(work))
	return 0, false
}

// isDemoSynapse: pid is alive (not a zombie) and runs Synapse with this
// demo's config, so that a reused pid is never signalled.
func isDemoSynapse(pid int, config string) bool {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// "pid (comm) S ...": the state follows the last ')'.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(strings.TrimSpace(string(stat[i+1:])), "Z") {
			return false
		}
	}
	var args string
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		args = strings.ReplaceAll(string(data), "\x00", " ")
	} else if out, err := exec.Command("ps", "-o", "args=", "-p", strconv.Itoa(pid)).Output(); err == nil {
		args = string(out) // no /proc (macOS)
	}
	return strings.Contains(args, "synapse.app.homeserver") && strings.Contains(args, config)
}

// startBackground starts the demo Synapse detached from this process and
// its terminal (its own session; its output goes to synapse.log), so that
// it outlives 'make', and waits until it answers.
func startBackground(work string, st state) (int, error) {
	if _, err := os.Stat(st.Python); err != nil {
		return 0, fmt.Errorf("the Python the demo Synapse ran from is gone (%v): make demo sets up a new one", err)
	}
	logPath := filepath.Join(st.SynapseDir, "synapse.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	cmd := exec.Command(st.Python, "-m", "synapse.app.homeserver", "-c", st.config())
	cmd.Dir = st.SynapseDir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting Synapse: %w", err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(pidPath(work), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return 0, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			_ = os.Remove(pidPath(work))
			return 0, fmt.Errorf("the demo Synapse exited during start-up (is %s taken by another program?); the end of %s:\n%s",
				st.URL, logPath, logTail(logPath, 20))
		default:
		}
		if resp, err := client.Get(st.URL + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return pid, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = stopPid(pid, st.config())
	_ = os.Remove(pidPath(work))
	return 0, fmt.Errorf("the demo Synapse did not answer on %s within 90s; the end of %s:\n%s", st.URL, logPath, logTail(logPath, 20))
}

// stopPid stops the demo Synapse (SIGTERM, SIGKILL after 15 s) and waits
// until it is gone.
func stopPid(pid int, config string) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return err
	}
	for _, wait := range []time.Duration{15 * time.Second, 5 * time.Second} {
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			if !isDemoSynapse(pid, config) {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return fmt.Errorf("the demo Synapse (pid %d) is still running after SIGKILL", pid)
}

// stopBackground stops the demo Synapse if it runs; false when it did not.
func stopBackground(work string, st state) (bool, error) {
	pid, ok := running(work, st)
	if !ok {
		return false, nil
	}
	if err := stopPid(pid, st.config()); err != nil {
		return true, err
	}
	return true, os.Remove(pidPath(work))
}

func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
