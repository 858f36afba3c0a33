package synapsetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A real Matrix Authentication Service (MAS) for tests: PostgreSQL, MAS and a
// Synapse delegating authentication to it, all on loopback, started by the
// project's shared run-mas.sh (../shared/mas beside the repository; its
// README says what it configures). Nothing here imitates MAS.
//
// The MAS harness never skips: a test that asks for MAS fails, naming what to
// provide, when the script, mas-cli, PostgreSQL or Synapse is missing.

// MASDirEnv names the directory holding run-mas.sh and mas-dist.tar.xz
// when it is not ../shared/mas beside the repository.
const MASDirEnv = "MXADMIN_MAS_DIR"

// MASBinEnv names a mas-cli to run instead of the one in mas-dist.tar.xz.
// Its share/ (policy.wasm, templates, translations, manifest.json) comes
// from MXADMIN_MAS_SHARE, else a share/ beside the binary, else the tarball.
const MASBinEnv = "MAS_BIN"

// MASShareEnv names the share/ directory of a MAS_BIN.
const MASShareEnv = "MXADMIN_MAS_SHARE"

// masHowTo is what every "MAS unavailable" failure says.
const masHowTo = "the MAS tests need ../shared/mas/run-mas.sh beside the repository (with mas-dist.tar.xz), " +
	"or " + MASDirEnv + "=<directory holding run-mas.sh>; " + MASBinEnv + "=<mas-cli> runs another mas-cli " +
	"(its share/ from " + MASShareEnv + " or beside the binary); 'make e2e-mas' installs PostgreSQL"

// MASConfig adjusts a MAS pair. The zero value is what run-mas.sh starts.
type MASConfig struct {
	// ServerName defaults to "mas.test".
	ServerName string
	// Extra is MAS configuration YAML with top-level sections that
	// run-mas.sh does not write (e.g. upstream_oauth2). MAS is then
	// restarted reading both files: MAS merges several -c files by
	// appending lists, so a section run-mas.sh writes must not be repeated.
	Extra string
}

// TestUpstreamProviderID is the ULID of the upstream OAuth provider that
// TestUpstreamProvider declares.
const TestUpstreamProviderID = "01JTESTPR0V1DER000000000AA"

// TestUpstreamProvider is MASConfig.Extra declaring one upstream OAuth 2.0
// provider, so that upstream-oauth-links can be created. Discovery is off
// and its endpoints are in .invalid: MAS never contacts it (nobody logs in
// through it), it only has to exist in MAS's database, which MAS's start-up
// config sync does.
const TestUpstreamProvider = `upstream_oauth2:
  providers:
    - id: ` + TestUpstreamProviderID + `
      issuer: https://idp.invalid/
      human_name: Test IdP
      client_id: mas-test
      client_secret: not-a-real-secret
      token_endpoint_auth_method: client_secret_post
      scope: openid
      discovery_mode: disabled
      authorization_endpoint: https://idp.invalid/authorize
      token_endpoint: https://idp.invalid/token
      jwks_uri: https://idp.invalid/jwks
`

// MAS is a running MAS + PostgreSQL + Synapse, as run-mas.sh started them.
type MAS struct {
	// Work is run-mas.sh's WORK directory (config, logs, stop.sh).
	Work string
	// URL and SynapseURL reach the servers directly.
	URL, SynapseURL string
	// MASProxy and SynapseProxy count requests (Proxy.Writes and friends);
	// the code under test is pointed at their URLs.
	MASProxy, SynapseProxy *Proxy
	ServerName             string
	// AdminClientID and AdminClientSecret are the client_credentials
	// client that may ask for urn:mas:admin.
	AdminClientID, AdminClientSecret string
	// MatrixSecret is the MAS <-> Synapse shared secret.
	MatrixSecret string
	// CLIPath and ConfigPath run mas-cli (see CLI).
	CLIPath, ConfigPath string
	// Started is how long the start took (run-mas.sh, and the restart
	// for Extra); Stopped how long Stop took.
	Started, Stopped time.Duration

	extraPath string
	mu        sync.Mutex
	token     string
	tokenExp  time.Time
	stopOnce  sync.Once
	stopErr   error
}

// CleanupTB is the part of testing.TB that StartMAS uses.
type CleanupTB interface {
	TB
	Cleanup(func())
	Logf(format string, args ...any)
}

var (
	masMu      sync.Mutex
	masStarted []*MAS
)

// machineMASDir is where the project's machines keep the shared MAS.
const machineMASDir = "/work/shared/mas"

// MASDir finds run-mas.sh: MXADMIN_MAS_DIR, else shared/mas in a directory
// above the repository (../shared/mas from a checkout, ../../shared/mas from
// a worktree under wt/), else machineMASDir.
func MASDir() (string, error) {
	if dir := os.Getenv(MASDirEnv); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "run-mas.sh")); err != nil {
			return "", fmt.Errorf("%s=%s holds no run-mas.sh: %s", MASDirEnv, dir, masHowTo)
		}
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, "shared", "mas")
		if _, err := os.Stat(filepath.Join(candidate, "run-mas.sh")); err == nil {
			return candidate, nil
		}
		if dir == filepath.Dir(dir) {
			// A checkout made elsewhere (a CI clone under /tmp) on one of
			// the project's machines, where the shared folder is at home.
			if _, err := os.Stat(filepath.Join(machineMASDir, "run-mas.sh")); err == nil {
				return machineMASDir, nil
			}
			return "", errors.New("no run-mas.sh found in a shared/mas above " + root + " nor in " + machineMASDir + ": " + masHowTo)
		}
	}
}

// masEnv is the environment of run-mas.sh and mas-cli: MAS reads every MAS_*
// variable as configuration (MAS_FOO_BAR sets foo.bar), so none but MAS_BIN
// (which run-mas.sh reads) is passed on.
func masEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MAS_") && !strings.HasPrefix(kv, MASBinEnv+"=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// StartMAS starts a MAS pair for the test, stopped and purged when the test
// ends. It fails the test (it never skips) when MAS cannot run.
func StartMAS(t CleanupTB, cfg MASConfig) *MAS {
	t.Helper()
	m, err := startMAS(cfg)
	if err != nil {
		t.Fatalf("MAS unavailable: %v", err)
		return nil
	}
	t.Logf("MAS pair started in %s (MAS %s, Synapse %s)", m.Started.Round(time.Millisecond), m.URL, m.SynapseURL)
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Logf("stopping MAS: %v", err)
		}
		t.Logf("MAS pair stopped and purged in %s", m.Stopped.Round(time.Millisecond))
	})
	return m
}

func startMAS(cfg MASConfig) (*MAS, error) {
	begin := time.Now()
	dir, err := MASDir()
	if err != nil {
		return nil, err
	}
	python, err := SynapsePython()
	if err != nil {
		return nil, err
	}
	// run-mas.sh cds before it runs Synapse: every path must be absolute.
	if python, err = filepath.Abs(python); err != nil {
		return nil, err
	}
	if _, err := postgresBindir(); err != nil {
		return nil, fmt.Errorf("%v (MAS needs PostgreSQL; 'make postgresql' installs it)", err)
	}
	work, err := os.MkdirTemp("", "mas-")
	if err != nil {
		return nil, err
	}
	m := &MAS{Work: work}
	env := masEnv("WORK="+work, "SYNAPSE_PYTHON="+python)
	if cfg.ServerName != "" {
		env = append(env, "SERVER_NAME="+cfg.ServerName)
	}
	if bin := os.Getenv(MASBinEnv); bin != "" {
		if err := m.linkShare(bin, dir); err != nil {
			m.purge()
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(dir, "mas-dist.tar.xz")); err != nil {
		m.purge()
		return nil, fmt.Errorf("no mas-dist.tar.xz in %s and no %s: %s", dir, MASBinEnv, masHowTo)
	}
	ports := make([]string, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			m.purge()
			return nil, err
		}
		ports[i] = fmt.Sprint(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "run-mas.sh"), ports...)
	cmd.Env = env
	cmd.Dir = work
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// run-mas.sh detaches MAS and Synapse (setsid): they outlive it, and a
	// killed test binary, so every MAS started is tracked for StopAll.
	trackMAS(m)
	if err := cmd.Run(); err != nil {
		_ = m.Stop()
		return nil, fmt.Errorf("run-mas.sh: %v\n%s", err, tail(out.String(), 20))
	}
	if err := m.readEnv(); err != nil {
		_ = m.Stop()
		return nil, err
	}
	if bin := os.Getenv(MASBinEnv); bin != "" && m.CLIPath != bin {
		_ = m.Stop()
		return nil, fmt.Errorf("run-mas.sh ran %s, not %s=%s", m.CLIPath, MASBinEnv, bin)
	}
	if cfg.Extra != "" {
		if err := m.restartWith(cfg.Extra); err != nil {
			_ = m.Stop()
			return nil, err
		}
	}
	m.MASProxy = NewProxy(m.URL, "")
	m.SynapseProxy = NewProxy(m.SynapseURL, "")
	m.Started = time.Since(begin)
	return m, nil
}

// linkShare gives run-mas.sh the share/ of a MAS_BIN: without one in WORK
// it unpacks the tarball's, which need not match that binary.
func (m *MAS) linkShare(bin, dir string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s=%s: %v", MASBinEnv, bin, err)
	}
	share := os.Getenv(MASShareEnv)
	if share == "" {
		share = filepath.Join(filepath.Dir(bin), "share")
	}
	if _, err := os.Stat(filepath.Join(share, "policy.wasm")); err == nil {
		abs, err := filepath.Abs(share)
		if err != nil {
			return err
		}
		return os.Symlink(abs, filepath.Join(m.Work, "share"))
	}
	if _, err := os.Stat(filepath.Join(dir, "mas-dist.tar.xz")); err == nil {
		return nil // run-mas.sh unpacks the tarball's share/
	}
	return fmt.Errorf("%s=%s has no share/ with policy.wasm (set %s) and %s has no mas-dist.tar.xz", MASBinEnv, bin, MASShareEnv, dir)
}

// readEnv reads what run-mas.sh wrote to WORK/env.
func (m *MAS) readEnv() error {
	f, err := os.Open(filepath.Join(m.Work, "env"))
	if err != nil {
		return fmt.Errorf("run-mas.sh wrote no env file: %v", err)
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vals[k] = v
		}
	}
	m.URL, m.SynapseURL, m.ServerName = vals["MAS_URL"], vals["SYNAPSE_URL"], vals["SERVER_NAME"]
	m.AdminClientID, m.AdminClientSecret = vals["MAS_ADMIN_CLIENT_ID"], vals["MAS_ADMIN_CLIENT_SECRET"]
	m.MatrixSecret, m.CLIPath, m.ConfigPath = vals["MATRIX_SECRET"], vals["MAS_CLI"], vals["MAS_CONFIG"]
	for k, v := range map[string]string{"MAS_URL": m.URL, "SYNAPSE_URL": m.SynapseURL, "MAS_ADMIN_CLIENT_ID": m.AdminClientID,
		"MAS_ADMIN_CLIENT_SECRET": m.AdminClientSecret, "MAS_CLI": m.CLIPath, "MAS_CONFIG": m.ConfigPath} {
		if v == "" {
			return fmt.Errorf("run-mas.sh's env file lacks %s", k)
		}
	}
	return sc.Err()
}

// restartWith restarts MAS reading run-mas.sh's config and extra. Its pid
// goes where stop.sh looks for it; MAS syncs upstream providers and
// clients from the config into its database as it starts.
func (m *MAS) restartWith(extra string) error {
	m.extraPath = filepath.Join(m.Work, "mas-extra.yaml")
	if err := os.WriteFile(m.extraPath, []byte(extra), 0o600); err != nil {
		return err
	}
	pidPath := filepath.Join(m.Work, "mas.pid")
	if data, err := os.ReadFile(pidPath); err == nil {
		var pid int
		if _, err := fmt.Sscan(string(data), &pid); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
				time.Sleep(50 * time.Millisecond)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	logFile, err := os.OpenFile(filepath.Join(m.Work, "mas.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(m.CLIPath, "-c", m.ConfigPath, "-c", m.extraPath, "server")
	cmd.Env = masEnv()
	cmd.Dir = m.Work
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("restarting MAS: %w", err)
	}
	go func() { _ = cmd.Wait(); logFile.Close() }()
	if err := os.WriteFile(pidPath, []byte(fmt.Sprintln(cmd.Process.Pid)), 0o600); err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := client.Get(m.URL + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("MAS did not answer /health within 60s after the restart with %s; log:\n%s", m.extraPath, m.LogTail(20))
}

// Stop stops MAS, Synapse and PostgreSQL and removes every file (stop.sh
// --purge). It is safe to call more than once.
func (m *MAS) Stop() error {
	m.stopOnce.Do(func() {
		begin := time.Now()
		if m.MASProxy != nil {
			m.MASProxy.Close()
		}
		if m.SynapseProxy != nil {
			m.SynapseProxy.Close()
		}
		stop := filepath.Join(m.Work, "stop.sh")
		if _, err := os.Stat(stop); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := []string{"--purge"}
			if os.Getenv("MXADMIN_KEEP_SYNAPSE_DIRS") != "" {
				args = nil
			}
			if out, err := exec.CommandContext(ctx, stop, args...).CombinedOutput(); err != nil {
				m.stopErr = fmt.Errorf("stop.sh: %v: %s", err, out)
			}
		}
		m.purge()
		m.Stopped = time.Since(begin)
	})
	return m.stopErr
}

func (m *MAS) purge() {
	if os.Getenv("MXADMIN_KEEP_SYNAPSE_DIRS") == "" {
		_ = os.RemoveAll(m.Work)
	}
}

func trackMAS(m *MAS) {
	masMu.Lock()
	defer masMu.Unlock()
	masStarted = append(masStarted, m)
}

// stopAllMAS stops every MAS pair still running (StopAll).
func stopAllMAS() {
	masMu.Lock()
	defer masMu.Unlock()
	for _, m := range masStarted {
		_ = m.Stop()
	}
	masStarted = nil
}

// LogTail returns the last n lines of MAS's log.
func (m *MAS) LogTail(n int) string {
	data, err := os.ReadFile(filepath.Join(m.Work, "mas.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tail(string(data), n)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// UserID is the full Matrix ID of a localpart on this pair's homeserver.
func (m *MAS) UserID(localpart string) string { return "@" + localpart + ":" + m.ServerName }

// --- raw HTTP helpers, written for the tests (not the module's client) ---

var masClient = &http.Client{Timeout: 30 * time.Second}

// AdminToken returns an access token of the admin client (client_credentials,
// scope urn:mas:admin), asking MAS for a new one when the last one has less
// than a minute left (MAS gives them 300 s). It asks MAS directly, so the
// proxies do not count it.
func (m *MAS) AdminToken() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.token != "" && time.Until(m.tokenExp) > time.Minute {
		return m.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"urn:mas:admin"}}
	req, err := http.NewRequest(http.MethodPost, m.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(m.AdminClientID, m.AdminClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := masClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &tok) != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("client_credentials token: %d %s", resp.StatusCode, data)
	}
	m.token, m.tokenExp = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second)
	return m.token, nil
}

// Admin sends one request to MAS's admin API (path under /api/admin/v1,
// e.g. "/users") with the admin client's token, directly (not counted), and
// decodes the JSON answer (nil for an empty body).
func (m *MAS) Admin(method, path string, body any) (int, map[string]any, error) {
	token, err := m.AdminToken()
	if err != nil {
		return 0, nil, err
	}
	return doJSON(method, m.URL+"/api/admin/v1"+path, token, body)
}

// doJSON sends one JSON request and decodes a JSON object answer. An answer
// that is not JSON (MAS's 422 deserialisation errors are plain text) comes
// back as {"text": ...}.
func doJSON(method, target, token string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := masClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return resp.StatusCode, nil, nil
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return resp.StatusCode, map[string]any{"text": string(data)}, nil
	}
	return resp.StatusCode, out, nil
}

// UserByUsername reads a MAS user by localpart; nil when MAS has none.
func (m *MAS) UserByUsername(localpart string) (map[string]any, error) {
	status, out, err := m.Admin(http.MethodGet, "/users/by-username/"+url.PathEscape(localpart), nil)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		return nil, nil
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET user %s: %d %v", localpart, status, out)
	}
	data, _ := out["data"].(map[string]any)
	return data, nil
}

// SynapseToken mints a personal session for a MAS user (by ULID) with the
// scopes Synapse's admin API wants, valid for ttl, and returns its token and
// session ID. Revoke it with RevokePersonalSession; Synapse honours a revoked
// token for up to two minutes (it caches introspection), an expired one not.
func (m *MAS) SynapseToken(actorID string, ttl time.Duration) (token, sessionID string, err error) {
	status, out, err := m.Admin(http.MethodPost, "/personal-sessions", map[string]any{
		"actor_user_id": actorID, "human_name": "mxadmin test harness",
		"scope":      "urn:matrix:client:api:* urn:synapse:admin:*",
		"expires_in": int(ttl.Seconds()),
	})
	if err != nil {
		return "", "", err
	}
	if status != http.StatusCreated {
		return "", "", fmt.Errorf("personal session for %s: %d %v", actorID, status, out)
	}
	data, _ := out["data"].(map[string]any)
	attrs, _ := data["attributes"].(map[string]any)
	token, _ = attrs["access_token"].(string)
	sessionID, _ = data["id"].(string)
	if token == "" || sessionID == "" {
		return "", "", fmt.Errorf("personal session answer without token or ID: %v", out)
	}
	return token, sessionID, nil
}

// RevokePersonalSession revokes a personal session (409 when it already
// was: that is not an error here).
func (m *MAS) RevokePersonalSession(id string) error {
	status, out, err := m.Admin(http.MethodPost, "/personal-sessions/"+url.PathEscape(id)+"/revoke", nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK && status != http.StatusConflict {
		return fmt.Errorf("revoke personal session %s: %d %v", id, status, out)
	}
	return nil
}

// Count returns meta.count of a MAS admin API list (path with its filters,
// e.g. "/compat-sessions?filter[status]=active"), asking for the count only.
func (m *MAS) Count(path string) (int, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	status, out, err := m.Admin(http.MethodGet, path+sep+"count=only", nil)
	if err != nil {
		return 0, err
	}
	meta, _ := out["meta"].(map[string]any)
	n, ok := meta["count"].(float64)
	if status != http.StatusOK || !ok {
		return 0, fmt.Errorf("count %s: %d %v", path, status, out)
	}
	return int(n), nil
}

// Synapse sends one request to the delegating Synapse, directly (not
// counted), with a token from SynapseToken or a compatibility login.
func (m *MAS) Synapse(method, path, token string, body any) (int, map[string]any, error) {
	return doJSON(method, m.SynapseURL+path, token, body)
}

// WaitProvisioned waits until Synapse knows a user, reading its public
// profile (no token needed: the harness mints none for itself, so that no
// user appears that the test did not make), for at most timeout.
func (m *MAS) WaitProvisioned(localpart string, timeout time.Duration) (time.Duration, error) {
	begin := time.Now()
	path := "/_matrix/client/v3/profile/" + url.PathEscape(m.UserID(localpart))
	for {
		status, out, err := m.Synapse(http.MethodGet, path, "", nil)
		if err == nil && status == http.StatusOK {
			return time.Since(begin), nil
		}
		if time.Since(begin) > timeout {
			return time.Since(begin), fmt.Errorf("%s not in Synapse after %s: last answer %d %v %v", m.UserID(localpart), timeout, status, out, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CompatLogin logs a user in through MAS's compatibility login (password)
// and returns the access token and device ID; status is MAS's answer.
func (m *MAS) CompatLogin(user, password string) (status int, token, device string, err error) {
	status, out, err := doJSON(http.MethodPost, m.URL+"/_matrix/client/v3/login", "", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": user},
		"password":   password,
	})
	if err != nil {
		return 0, "", "", err
	}
	token, _ = out["access_token"].(string)
	device, _ = out["device_id"].(string)
	if status == http.StatusOK && token == "" {
		return status, "", "", fmt.Errorf("login answer without a token: %v", out)
	}
	return status, token, device, nil
}

// CompatLogout ends a compatibility session with its own token (at MAS:
// Synapse does not serve /logout when it delegates).
func (m *MAS) CompatLogout(token string) error {
	status, out, err := doJSON(http.MethodPost, m.URL+"/_matrix/client/v3/logout", token, map[string]any{})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("logout: %d %v", status, out)
	}
	return nil
}

// CLI runs `mas-cli -c <config> manage ARGS...` for test set-up (e.g.
// "register-user", "--yes", "-p", pw, "alice") and returns its output; it
// is ended after a minute.
func (m *MAS) CLI(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfgArgs := []string{"-c", m.ConfigPath}
	if m.extraPath != "" {
		cfgArgs = append(cfgArgs, "-c", m.extraPath)
	}
	cmd := exec.CommandContext(ctx, m.CLIPath, append(append(cfgArgs, "manage"), args...)...)
	cmd.Env = masEnv()
	cmd.Dir = m.Work
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("mas-cli manage %s: %v\n%s", args[0], err, tail(string(out), 10))
	}
	return string(out), nil
}

// ResetCounts forgets the requests both proxies have seen.
func (m *MAS) ResetCounts() {
	m.MASProxy.Reset()
	m.SynapseProxy.Reset()
}

// Writes returns the requests through either proxy that are not reads,
// except the admin client's token requests (POST /oauth2/token): a run that
// only reads still needs a token.
func (m *MAS) Writes() []Request {
	var out []Request
	for _, r := range m.MASProxy.Writes() {
		if r.Path != "/oauth2/token" {
			out = append(out, r)
		}
	}
	return append(out, m.SynapseProxy.Writes()...)
}
