package main

// The pieces the scale, profile, creation and many-homeserver parts share:
// an inventory laid out as matrix-docker-ansible-deploy users lay theirs
// out, ansible-playbook runs against it, a plain HTTP client for what
// Synapse itself costs, and the module binary run alone with its peak
// memory.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// invHost is one homeserver of an inventory: the host_vars/<name>/vars.yml
// of a matrix-docker-ansible-deploy checkout, with the role's variables.
type invHost struct {
	name  string
	url   string
	token string
	// users is matrix_users_list; nil leaves it out (it comes from a
	// vars_files file instead).
	users []map[string]any
}

// writeInventory lays out dir/hosts.yml and dir/host_vars/<host>/vars.yml,
// block-style YAML as people write it, and returns dir.
func writeInventory(dir string, hosts []invHost) (string, error) {
	var inv strings.Builder
	inv.WriteString("all:\n  hosts:\n")
	for _, h := range hosts {
		fmt.Fprintf(&inv, "    %s:\n      ansible_connection: local\n", h.name)
		vars := filepath.Join(dir, "host_vars", h.name)
		if err := os.MkdirAll(vars, 0o755); err != nil {
			return "", err
		}
		var v bytes.Buffer
		fmt.Fprintf(&v, "---\nmatrix_users_homeserver_url: %s\nmatrix_users_admin_token: %s\n", yamlString(h.url), yamlString(h.token))
		if h.users != nil {
			writeUsersYAML(&v, h.users)
		}
		if err := os.WriteFile(filepath.Join(vars, "vars.yml"), v.Bytes(), 0o600); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts.yml"), []byte(inv.String()), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// writeUsersYAML writes matrix_users_list as a block sequence.
func writeUsersYAML(w io.Writer, users []map[string]any) {
	fmt.Fprintf(w, "matrix_users_list:\n")
	for _, u := range users {
		keys := make([]string, 0, len(u))
		for k := range u {
			if k != "username" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "  - username: %s\n", yamlString(fmt.Sprint(u["username"])))
		for _, k := range keys {
			switch v := u[k].(type) {
			case string:
				fmt.Fprintf(w, "    %s: %s\n", k, yamlString(v))
			default:
				fmt.Fprintf(w, "    %s: %v\n", k, v)
			}
		}
	}
}

// yamlString quotes a string for YAML (a JSON string is a YAML
// double-quoted scalar).
func yamlString(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}

// declared is how the benchmark declares n fixture accounts: each with its
// password (update_password on_create: never sent to an existing user), the
// fixture's admins with admin: true, so that a run has nothing to do.
func declared(name func(int) string, n, admins int, password string) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"username": name(i + 1), "password": password}
		if i < admins {
			out[i]["admin"] = true
		}
	}
	return out
}

// runResult is one measured process run.
type runResult struct {
	wall time.Duration
	// maxRSS is the process's own peak resident memory (wait4's rusage).
	maxRSS int64
	out    []byte
}

// ansibleRun runs ansible-playbook on one of the benchmark's playbooks
// with an inventory directory, as someone would from a checkout.
func (b *bench) ansibleRun(inventory, playbook string, env []string, args ...string) (runResult, error) {
	cmdArgs := append([]string{"-i", inventory, playbook}, args...)
	cmd := exec.Command(filepath.Join(b.venv, "bin", "ansible-playbook"), cmdArgs...)
	return b.runAnsible(cmd, env)
}

func (b *bench) runAnsible(cmd *exec.Cmd, env []string) (runResult, error) {
	cmd.Dir = filepath.Join(b.root, "tests", "cmd", "bench", "playbooks")
	cmd.Env = append(os.Environ(), "ANSIBLE_COLLECTIONS_PATH="+b.collections, "ANSIBLE_NOCOLOR=1",
		"ANSIBLE_PYTHON_INTERPRETER="+filepath.Join(b.venv, "bin", "python"), "ANSIBLE_CONFIG=")
	cmd.Env = append(cmd.Env, env...)
	return runProcess(cmd)
}

func runProcess(cmd *exec.Cmd) (runResult, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := runResult{wall: time.Since(start), out: out.Bytes()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	if err != nil {
		return r, fmt.Errorf("%s: %v\n%s", filepath.Base(cmd.Path), err, tail(out.String(), 40))
	}
	return r, nil
}

// binaryPath is the module binary of this machine (make native).
func (b *bench) binaryPath() string {
	return filepath.Join(b.root, "plugins", "modules", fmt.Sprintf("__mxadmin_synapse_%s_%s", runtime.GOOS, runtime.GOARCH))
}

// runBinary runs the module binary alone (args file in, JSON out), as
// Ansible would without the action plugin, and checks its result.
func (b *bench) runBinary(bin, url, token string, users []map[string]any, wantChanged bool) (runResult, map[string]any, error) {
	args, err := json.Marshal(map[string]any{"_mxadmin_module": "matrix_user", "homeserver_url": url,
		"admin_token": token, "users": users, "concurrency": b.cfg.concurrency})
	if err != nil {
		return runResult{}, nil, err
	}
	path := filepath.Join(b.work, "binary-args.json")
	if err := os.WriteFile(path, args, 0o600); err != nil {
		return runResult{}, nil, err
	}
	cmd := exec.Command(bin, path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	r := runResult{wall: time.Since(start), out: stdout.Bytes()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss * 1024
	}
	var res map[string]any
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil || err != nil || res["failed"] == true || res["changed"] != wantChanged {
		return r, res, fmt.Errorf("module binary (changed %v wanted): %v %s %s", wantChanged, err, tail(stdout.String(), 3), stderr.String())
	}
	return r, res, nil
}

// readList reads the whole user list as the module does (pages of 1000,
// guests, deactivated and locked included), one page after the other, with
// a plain client: what any no-op must learn, and what it costs Synapse.
func readList(client *http.Client, base, token string) (names []string, pages int, err error) {
	from := "0"
	for {
		q := url.Values{"from": {from}, "limit": {"1000"}, "guests": {"true"}, "deactivated": {"true"}, "locked": {"true"}}
		req, err := http.NewRequest(http.MethodGet, base+"/_synapse/admin/v2/users?"+q.Encode(), nil)
		if err != nil {
			return nil, pages, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, pages, err
		}
		var page struct {
			Users []struct {
				Name string `json:"name"`
			} `json:"users"`
			NextToken json.Number `json:"next_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, pages, fmt.Errorf("user list page %s: %d %v", from, resp.StatusCode, err)
		}
		pages++
		for _, u := range page.Users {
			names = append(names, u.Name)
		}
		if page.NextToken == "" || len(page.Users) == 0 {
			return names, pages, nil
		}
		from = page.NextToken.String()
	}
}

// putUsers sends PUT /_synapse/admin/v2/users/<id> for each user, the body
// the module sends to create one ({} or {"password": ...}), with the given
// number of requests in flight: Synapse's own time for the writes.
func putUsers(client *http.Client, base, token string, ids []string, body func(string) map[string]any, concurrency int) error {
	work := make(chan string)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				data, _ := json.Marshal(body(id))
				req, err := http.NewRequest(http.MethodPut, base+"/_synapse/admin/v2/users/"+url.PathEscape(id), bytes.NewReader(data))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("PUT %s: %d, want 201", id, resp.StatusCode)
					return
				}
			}
		}()
	}
	var err error
	for _, id := range ids {
		select {
		case work <- id:
			continue
		case err = <-errs:
		}
		break
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// benchClient is a plain client with enough idle connections for the
// concurrent writes and a timeout for a 100,000-user list page.
func benchClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: 5 * time.Minute, Transport: t}
}

// processCPU is the CPU time (user + system, every thread) a process has
// used so far, from /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	return statCPU(fmt.Sprintf("/proc/%d/stat", pid))
}

// mainThreadCPU is the CPU time of a process's main thread alone: in
// Synapse, the reactor thread that runs the request handlers (Python, under
// the GIL), without the database and hashing thread pools.
func mainThreadCPU(pid int) (time.Duration, error) {
	return statCPU(fmt.Sprintf("/proc/%d/task/%d/stat", pid, pid))
}

func statCPU(path string) (time.Duration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from after ")".
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("%s: too short", path)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: %v %v", path, err1, err2)
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(utime+stime) * (time.Second / 100), nil
}

// medianDur is the median of a set of durations.
func medianDur(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxInt64(v []int64) int64 {
	var m int64
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

// commas writes an integer with thousands separators.
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// loadAvg is the machine's 1-minute load average (other jobs share it).
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}
