package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Answers a hostile server (or a proxy in front of Synapse) sends on purpose:
// bombs, hashes of any bcrypt cost, terminal control sequences. The proxy of
// the fixture sits between the module and a real Synapse and replaces or
// rewrites Synapse's answers.

// runMeasured runs a module as runModule does and also returns its peak
// resident memory, in bytes (the kernel's count for the finished process).
func runMeasured(t *testing.T, module string, args map[string]any) (Run, int64) {
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
	cmd := exec.Command(binary, path)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
	}
	r := Run{Stdout: stdout.String(), Stderr: stderr.String(), Exit: cmd.ProcessState.ExitCode()}
	recordOutput(r.Stdout + r.Stderr)
	assert.Empty(t, r.Stderr, "the module wrote to stderr")
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &r.Result), "one JSON object: %s", r.Stdout)
	usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	require.True(t, ok)
	return r, usage.Maxrss << 10 // KiB on Linux
}

// gzipOfZeros is a gzip bomb: n zero bytes, about 1 KB compressed per MB.
func gzipOfZeros(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for written := 0; written < n; written += len(zeros) {
		_, err := zw.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// oneUserRead matches the single-user GET (not the list, not devices).
func oneUserRead(r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/_synapse/admin/v2/users/")
	return ok && r.Method == http.MethodGet && !strings.Contains(rest, "/")
}

// existingUsers makes n accounts (without a password, so without a hash)
// straight through Synapse's admin API and returns a batch declaring each
// with threepids: [], which makes the module read each user alone, n at once.
func existingUsers(t *testing.T, f *fixture, prefix string, n int) []any {
	t.Helper()
	var users []any
	for range n {
		name := uniqueUser(prefix)
		status, _, err := f.srv.Do(http.MethodPut, "/_synapse/admin/v2/users/"+url.PathEscape(f.srv.UserID(name)), f.token, map[string]any{})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, status)
		users = append(users, map[string]any{"user": name, "threepids": []any{}})
	}
	return users
}

// 32 gzip-bombed one-user answers at concurrency 32 took the module to
// 14.6 GB of memory. The module asks for answers without compression and
// refuses a compressed one unread; an uncompressed answer that never ends
// is read up to what one user can be (1 MiB) and refused. Peak memory stays
// that of a normal run.
func TestHostileGzipBombsAndEndlessAnswers(t *testing.T) {
	f := newFixture(t)
	users := existingUsers(t, f, "bomb", 32)
	bomb := gzipOfZeros(t, 256<<20) // 256 MiB each, 8 GiB for the 32
	defer f.proxy.SetFault(nil)

	// A normal run of the same batch, for the memory it takes.
	_, baseline := runMeasured(t, "matrix_user", f.args(map[string]any{"users": users, "concurrency": 32}))
	t.Logf("peak memory of the batch without bombs: %d MiB", baseline>>20)

	var bombed atomic.Int32
	var acceptEncoding sync.Map
	for name, answer := range map[string]func(w http.ResponseWriter){
		"gzip bomb": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(bomb)
		},
		"endless answer": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"name": "@x:test", "displayname": "`)
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for sent := 0; sent < 1<<30; sent += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return // the module hung up
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			bombed.Store(0)
			f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				if !oneUserRead(r) {
					return false
				}
				acceptEncoding.Store(r.Header.Get("Accept-Encoding"), true)
				bombed.Add(1)
				answer(w)
				return true
			})
			f.proxy.Reset()
			r, peak := runMeasured(t, "matrix_user", f.args(map[string]any{"users": users, "concurrency": 32}))
			t.Logf("peak memory with 32 %ss: %d MiB", name, peak>>20)
			require.True(t, r.failed(), r.Stdout)
			assert.Equal(t, int32(32), bombed.Load(), "every user was read alone, and bombed")
			want := "a compressed answer (Content-Encoding: gzip), which this module did not ask for (it sends Accept-Encoding: identity) and does not decompress"
			if name == "endless answer" {
				want = "more than the 1 MiB this request can legitimately bring; not read"
			}
			got := r.batchUsers()
			require.Len(t, got, 32)
			for id, u := range got {
				assert.Equal(t, "failed", u["action"], id)
				assert.Contains(t, u["error"], want, id)
			}
			f.requireNoWrites(t)
			// The bombs held 8 GiB (gzip) or 32 GiB (endless); a run
			// reading at most 1 MiB of each stays within a few dozen MiB of
			// the normal run.
			assert.Less(t, peak, baseline+48<<20, "peak %d MiB, baseline %d MiB", peak>>20, baseline>>20)
		})
	}
	_, sent := acceptEncoding.Load("identity")
	assert.True(t, sent, "the module asks for no content coding")
	_, other := acceptEncoding.Load("gzip")
	assert.False(t, other)
}

// rewriteAnswers makes the proxy pass matching requests to Synapse and
// rewrite Synapse's answer before the module sees it.
func rewriteAnswers(f *fixture, match func(*http.Request) bool, rewrite func([]byte) []byte) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if !match(r) {
			return false
		}
		req, err := http.NewRequest(r.Method, f.srv.URL+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return true
		}
		req.Header = r.Header.Clone()
		resp, err := f.srv.HTTPClient().Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return true
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(rewrite(data))
		return true
	}
}

func hashSearch(r *http.Request) bool {
	return strings.Contains(r.URL.Path, "/_synapse/admin/v1/search_users/")
}

// firstOnly matches the first request that match matches, and no later one.
func firstOnly(match func(*http.Request) bool) func(*http.Request) bool {
	var seen atomic.Bool
	return func(r *http.Request) bool {
		return match(r) && !seen.Swap(true)
	}
}

// withCost rewrites the bcrypt cost of every hash in an answer (the test
// Synapse hashes with cost 4).
func withCost(cost int) func([]byte) []byte {
	return func(data []byte) []byte {
		return bytes.ReplaceAll(data, []byte("$2b$04$"), fmt.Appendf(nil, "$2b$%02d$", cost))
	}
}

// The bcrypt cost of a stored hash comes from the server: a $2b$18$ hash
// ignored the timeout and SIGTERM took 19 s; cost 31 would run for days.
// Costs above 15 are refused at once, by user and naming the cost, and
// nothing is sent for that user.
func TestHostileBcryptCostRefused(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("cost")
	f.run(t, map[string]any{"user": name, "password": "cost-pass-1"}).mustSucceed(t)
	defer f.proxy.SetFault(nil)
	for _, cost := range []int{16, 18, 31} {
		f.proxy.SetFault(rewriteAnswers(f, hashSearch, withCost(cost)))
		start := time.Now()
		r := f.run(t, map[string]any{"user": name, "password": "cost-pass-1", "update_password": "always"})
		require.True(t, r.failed(), r.Stdout)
		assert.Less(t, time.Since(start), 10*time.Second, "cost %d was not computed", cost)
		assert.Contains(t, r.msg(), fmt.Sprintf("cannot compare the password of %s (update_password: always), so nothing was sent for this user: the stored password hash has bcrypt cost %d, above the 15 this module compares", f.srv.UserID(name), cost))
		assert.Contains(t, r.msg(), "update_password: on_create")
		f.requireNoWrites(t)
	}
	// Cost 15 is compared (the hash no longer matches its password once
	// its cost is rewritten, so the password is set). Only the comparison's
	// search is rewritten: the run reads the hash back after setting the
	// password (the pepper check), and that answer is the server's own.
	f.proxy.SetFault(rewriteAnswers(f, firstOnly(hashSearch), withCost(15)))
	r := f.run(t, map[string]any{"user": name, "password": "cost-pass-1", "update_password": "always"}).mustSucceed(t)
	assert.Equal(t, []string{"password"}, r.changes())
}

// The compares stop with the run: SIGTERM during thousands of compares
// ends the module at once (the compare in flight is abandoned), with its
// one JSON result and nothing sent.
func TestHostileSlowHashesStopOnSIGTERM(t *testing.T) {
	f := newFixture(t)
	var users []any
	for range 12 {
		name := uniqueUser("slow")
		users = append(users, map[string]any{"user": name, "password": "slow-pass-1"})
	}
	f.run(t, map[string]any{"users": users}).mustSucceed(t)
	for _, u := range users {
		u.(map[string]any)["update_password"] = "always"
	}
	// Cost 15: about 2 s a compare here, 12 s for the batch on 2 cores.
	var searched atomic.Bool
	f.proxy.SetFault(rewriteAnswers(f, func(r *http.Request) bool {
		if hashSearch(r) {
			searched.Store(true)
			return true
		}
		return false
	}, withCost(15)))
	defer f.proxy.SetFault(nil)
	f.proxy.Reset()
	m := startModule(t, "matrix_user", f.args(map[string]any{"users": users}))
	require.Eventually(t, searched.Load, 30*time.Second, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond) // mid-compare
	require.NoError(t, m.cmd.Process.Signal(syscall.SIGTERM))
	signalled := time.Now()
	r := m.wait(t, 30*time.Second)
	t.Logf("ended %s after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	assert.Less(t, time.Since(signalled), 1500*time.Millisecond, "a compare in flight is not waited for")
	require.True(t, r.failed(), r.Stdout)
	assert.Contains(t, r.msg(), "interrupted by SIGTERM")
	for id, u := range r.batchUsers() {
		assert.Contains(t, u["error"], "the password was not compared: interrupted by SIGTERM", id)
	}
	f.requireNoWrites(t)
}

// rawControls are the characters that must never reach a terminal from a
// server's text: ESC, CR, LF inside a line, C1's CSI, DEL, and the
// bidirectional override that reorders what follows.
var rawControls = []string{"\x1b", "\r", "\u009b", "\x7f", "\u202e", "\u2066"}

// A server's error text reaches the messages with its control and format
// characters escaped: an answer holding "\x1b[2K\rok:" once erased the
// task's line and printed a fake "ok:". Checked in the module's result and
// in what ansible-playbook prints, as JSON and as YAML.
func TestHostileControlCharactersEscaped(t *testing.T) {
	f := newFixture(t)
	const evil = "\x1b[2K\rok: [synapse_host] \u009b31m\x7f\u202egnp.exe\u2066"
	defer f.proxy.SetFault(nil)
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut {
			return false
		}
		writeJSONAnswer(w, http.StatusBadRequest, map[string]any{"errcode": "M_\x1b[1mBAD", "error": evil})
		return true
	})
	r := f.run(t, map[string]any{"user": uniqueUser("ctl"), "displayname": "Control"})
	require.True(t, r.failed(), r.Stdout)
	assert.Contains(t, r.msg(), `Synapse answered 400 M_\x1b[1mBAD: \x1b[2K\rok: [synapse_host] \u009b31m\x7f\u202egnp.exe\u2066`)
	for _, c := range rawControls {
		assert.NotContains(t, r.msg(), c, "%q", c)
	}

	for _, format := range []string{"json", "yaml"} {
		vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": uniqueUser("ctl"),
			"test_password": "ctl-pass-1", "test_displayname": "Control", "test_admin": "no"}
		pb := ansiblePlaybookEnv(t, testCollection(t), []string{"ANSIBLE_CALLBACK_RESULT_FORMAT=" + format},
			"-i", "inventory/hosts.yml", "matrix_user.yml", "-e", extraVars(t, vars))
		require.NotEqual(t, 0, pb.Exit, pb.Output)
		assert.Contains(t, pb.Output, "fatal: [synapse_host]")
		assert.Contains(t, pb.Output, "gnp.exe", "%s: the server's text is in the output, escaped", format)
		for _, c := range rawControls {
			assert.NotContains(t, pb.Output, c, "%s: %q reached the terminal", format, c)
		}
	}

	// Identifiers the module quotes come from answers too: a user ID with
	// a control sequence is refused, not quoted.
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/account/whoami") {
			return false
		}
		writeJSONAnswer(w, http.StatusOK, map[string]any{"user_id": "@admin:" + f.srv.ServerName + evil})
		return true
	})
	r = f.run(t, map[string]any{"user": uniqueUser("ctl")})
	require.True(t, r.failed(), r.Stdout)
	assert.Contains(t, r.msg(), "holds whitespace, control or invisible format characters, which no identifier does")
	for _, c := range rawControls {
		assert.NotContains(t, r.msg(), c)
	}
}
