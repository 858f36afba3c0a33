// Package synapsetest runs real, throwaway Synapse homeservers for tests,
// the demo and the benchmark: Synapse from the project virtualenv (pinned in
// requirements.txt; MXADMIN_SYNAPSE_VENV picks another release), SQLite in a
// temp dir (or a database on a PostgreSQL server of its own, see DB),
// listening on a free loopback port.
// It also has a few raw HTTP helpers to set up and inspect the server that
// deliberately do not use the code under test.
package synapsetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// AppService declares an application service with an exclusive user
// namespace (users matching Regex belong to it).
type AppService struct {
	ID              string
	SenderLocalpart string
	Regex           string
	// ASToken is the service's token; Start fills it in when empty.
	ASToken string
}

// Config of a throwaway Synapse. The zero value is a fast server for
// functional tests.
type Config struct {
	// ServerName defaults to "test.local".
	ServerName string
	// BcryptRounds defaults to 4 (fast); the benchmark uses Synapse's 12.
	BcryptRounds int
	// SharedSecret defaults to a random one.
	SharedSecret string
	// Pepper is password_config.pepper.
	Pepper string
	// DefaultLoginLimits keeps Synapse's real (tiny) login rate limits
	// instead of the generous ones tests use.
	DefaultLoginLimits bool
	// PasswordLoginDisabled turns password login (and password changes) off.
	PasswordLoginDisabled bool
	// AppServices are registered with the server.
	AppServices []AppService
	// TLSCert and TLSKey make the listener serve HTTPS.
	TLSCert, TLSKey string
	// GuestAccess lets clients register guest accounts.
	GuestAccess bool
	// Extra is YAML appended to the config.
	Extra string
	// Port is the port to listen on; 0 picks a free one.
	Port int
	// Dir is where the server keeps its files; "" makes a temp dir that
	// Stop removes.
	Dir string
}

// Server is a running Synapse.
type Server struct {
	Config
	Dir string
	URL string

	cmd     *exec.Cmd
	done    chan struct{}
	ownDir  bool
	logPath string
	// dbName is the server's PostgreSQL database; "" with SQLite.
	dbName string
}

// RepoRoot finds the repository root (the directory holding go.mod).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// VenvBin returns the path of a program in the project virtualenv
// (MXADMIN_VENV overrides where that is).
func VenvBin(name string) (string, error) {
	venv := os.Getenv("MXADMIN_VENV")
	if venv == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		venv = filepath.Join(root, ".venv")
	}
	p := filepath.Join(venv, "bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is missing: run 'make venv' (it installs the pinned Synapse and ansible-core)", p)
	}
	return p, nil
}

// AnsibleBin returns the path of an Ansible command: from MXADMIN_ANSIBLE_VENV
// when set (the compatibility run with the oldest supported ansible-core),
// else from the project virtualenv.
func AnsibleBin(name string) (string, error) {
	if venv := os.Getenv("MXADMIN_ANSIBLE_VENV"); venv != "" {
		p := filepath.Join(venv, "bin", name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s is missing: run 'make venv-oldest'", p)
		}
		return p, nil
	}
	return VenvBin(name)
}

// SynapsePython is the Python of the virtualenv Synapse runs from:
// MXADMIN_SYNAPSE_VENV when set (another Synapse release, or psycopg2 for
// PostgreSQL), else the project virtualenv.
func SynapsePython() (string, error) {
	if venv := os.Getenv("MXADMIN_SYNAPSE_VENV"); venv != "" {
		p := filepath.Join(venv, "bin", "python")
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s is missing: 'make e2e SYNAPSE_VERSION=<version>' creates it", p)
		}
		return p, nil
	}
	return VenvBin("python")
}

// Start writes a config and starts Synapse, returning once /health answers.
func Start(cfg Config) (*Server, error) {
	python, err := SynapsePython()
	if err != nil {
		return nil, err
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "test.local"
	}
	if cfg.BcryptRounds == 0 {
		cfg.BcryptRounds = 4
	}
	if cfg.SharedSecret == "" {
		cfg.SharedSecret = randomHex(16)
	}
	s := &Server{Config: cfg, Dir: cfg.Dir}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "synapse-"); err != nil {
			return nil, err
		}
		s.ownDir = true
	} else if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, err
	}
	if s.Port == 0 {
		if s.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	s.URL = fmt.Sprintf("%s://127.0.0.1:%d", scheme, s.Port)
	if DB() == "postgres" {
		p, err := sharedPostgres()
		if err != nil {
			s.cleanup()
			return nil, err
		}
		if s.dbName, err = p.createDB(); err != nil {
			s.cleanup()
			return nil, err
		}
	}
	if err := s.writeConfig(); err != nil {
		s.cleanup()
		return nil, err
	}
	if err := s.start(python); err != nil {
		s.cleanup()
		return nil, err
	}
	return s, nil
}

func (s *Server) configPath() string { return filepath.Join(s.Dir, "homeserver.yaml") }

func (s *Server) writeConfig() error {
	keyPath := filepath.Join(s.Dir, "signing.key")
	if _, err := os.Stat(keyPath); err != nil {
		// Synapse's key file is "<alg> <version> <unpadded base64 seed>";
		// writing it here saves a second Python start (--generate-keys).
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		line := "ed25519 a_test " + base64.RawStdEncoding.EncodeToString(priv.Seed()) + "\n"
		if err := os.WriteFile(keyPath, []byte(line), 0o600); err != nil {
			return err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %q\n", s.ServerName)
	fmt.Fprintf(&b, "pid_file: %q\n", filepath.Join(s.Dir, "homeserver.pid"))
	fmt.Fprintf(&b, "listeners:\n  - port: %d\n    bind_addresses: ['127.0.0.1']\n    type: http\n    tls: %t\n    x_forwarded: false\n    resources:\n      - names: [client, federation]\n        compress: false\n", s.Port, s.TLSCert != "")
	if s.TLSCert != "" {
		fmt.Fprintf(&b, "tls_certificate_path: %q\ntls_private_key_path: %q\n", s.TLSCert, s.TLSKey)
	}
	if s.dbName != "" {
		fmt.Fprintf(&b, "database:\n  name: psycopg2\n  args:\n    user: postgres\n    dbname: %s\n    host: %q\n    port: %d\n    cp_min: 1\n    cp_max: 5\n", s.dbName, pg.dir, pg.port)
	} else {
		fmt.Fprintf(&b, "database:\n  name: sqlite3\n  args:\n    database: %q\n", filepath.Join(s.Dir, "homeserver.db"))
	}
	fmt.Fprintf(&b, "media_store_path: %q\n", filepath.Join(s.Dir, "media"))
	fmt.Fprintf(&b, "signing_key_path: %q\n", keyPath)
	fmt.Fprintf(&b, "registration_shared_secret: %q\n", s.SharedSecret)
	fmt.Fprintf(&b, "macaroon_secret_key: %q\nform_secret: %q\n", randomHex(16), randomHex(16))
	fmt.Fprintf(&b, "report_stats: false\ntrusted_key_servers: []\nsuppress_key_server_warning: true\n")
	fmt.Fprintf(&b, "enable_metrics: false\nurl_preview_enabled: false\npresence:\n  enabled: false\n")
	fmt.Fprintf(&b, "bcrypt_rounds: %d\n", s.BcryptRounds)
	// A fresh database starts with dozens of background updates, paced
	// with sleeps; until they finish some writes fail on SQLite (e.g.
	// reactivating a user: its profile upsert needs an index built by
	// one of them). Unpaced, they finish in a moment, and start waits.
	b.WriteString("background_updates:\n  sleep_enabled: false\n  background_update_duration_ms: 1000\n")
	fmt.Fprintf(&b, "password_config:\n  enabled: %t\n", !s.PasswordLoginDisabled)
	if s.Pepper != "" {
		fmt.Fprintf(&b, "  pepper: %q\n", s.Pepper)
	}
	// Generous limits so that tests are not throttled; the login tests
	// that need Synapse's real limits set DefaultLoginLimits.
	generous := "{per_second: 1000, burst_count: 1000}"
	if !s.DefaultLoginLimits {
		fmt.Fprintf(&b, "rc_login:\n  address: %s\n  account: %s\n  failed_attempts: %s\n", generous, generous, generous)
	}
	fmt.Fprintf(&b, "rc_message: %s\nrc_registration: %s\nrc_admin_redaction: %s\n", generous, generous, generous)
	if len(s.AppServices) > 0 {
		b.WriteString("app_service_config_files:\n")
		for i := range s.AppServices {
			as := &s.AppServices[i]
			if as.ASToken == "" {
				as.ASToken = randomHex(16)
			}
			p := filepath.Join(s.Dir, "appservice-"+as.ID+".yaml")
			reg := fmt.Sprintf("id: %q\nurl: null\nas_token: %q\nhs_token: %q\nsender_localpart: %q\nrate_limited: false\nnamespaces:\n  users:\n    - exclusive: true\n      regex: %q\n  rooms: []\n  aliases: []\n",
				as.ID, as.ASToken, randomHex(16), as.SenderLocalpart, as.Regex)
			if err := os.WriteFile(p, []byte(reg), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(&b, "  - %q\n", p)
		}
	}
	if s.GuestAccess {
		b.WriteString("allow_guest_access: true\n")
	}
	b.WriteString(s.Extra)
	return os.WriteFile(s.configPath(), []byte(b.String()), 0o600)
}

func (s *Server) start(python string) error {
	s.logPath = filepath.Join(s.Dir, "synapse.log")
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(python, "-m", "synapse.app.homeserver", "-c", s.configPath())
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group, and killed with the test process if that dies
	// first, so that no Synapse outlives its test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting Synapse: %w", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(90 * time.Second)
	client := s.HTTPClient()
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("the Synapse process exited during start-up; log:\n%s", s.LogTail(40))
		default:
		}
		resp, err := client.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s.waitBackgroundUpdates(python, deadline)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = s.kill()
	return fmt.Errorf("no answer from Synapse on /health within 90s; log:\n%s", s.LogTail(40))
}

// waitBackgroundUpdates waits until Synapse has run the background updates
// of a fresh database, reading its table with the driver Synapse uses
// (sqlite3, or psycopg2 on PostgreSQL): the admin API's status endpoint
// would need an admin, and creating one would change the users under test.
func (s *Server) waitBackgroundUpdates(python string, deadline time.Time) error {
	const script = `
import json, sys, time
kind, target, end = sys.argv[1], sys.argv[2], time.time() + float(sys.argv[3])
if kind == "sqlite":
    import sqlite3 as driver
    def connect():
        return driver.connect("file:" + target + "?mode=ro", uri=True, timeout=5)
else:
    import psycopg2 as driver
    def connect():
        db = driver.connect(**json.loads(target))
        db.autocommit = True
        return db
db = None
while time.time() < end:
    try:
        db = db or connect()
        cur = db.cursor()
        cur.execute("SELECT COUNT(*) FROM background_updates")
        if cur.fetchone()[0] == 0:
            sys.exit(0)
    except driver.Error:
        pass
    time.sleep(0.05)
sys.exit("background updates still running")
`
	kind, target := "sqlite", filepath.Join(s.Dir, "homeserver.db")
	if s.dbName != "" {
		args, _ := json.Marshal(map[string]any{"user": "postgres", "dbname": s.dbName, "host": pg.dir, "port": pg.port})
		kind, target = "postgres", string(args)
	}
	wait := time.Until(deadline).Seconds()
	out, err := exec.Command(python, "-c", script, kind, target, fmt.Sprint(wait)).CombinedOutput()
	if err != nil {
		_ = s.kill()
		return fmt.Errorf("waiting for Synapse's background updates: %v %s", err, out)
	}
	return nil
}

// HTTPClient is a client that trusts the server's test certificate.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: testTransport()}
}

// Stop stops Synapse (SIGTERM, then SIGKILL) and removes its temp dir and
// its PostgreSQL database.
func (s *Server) Stop() error {
	err := s.kill()
	s.cleanup()
	return err
}

// Kill stops Synapse but keeps its files, so that Restart can bring it back
// with the same database (to test a server that goes away mid-run).
func (s *Server) Kill() error { return s.kill() }

// Restart starts Synapse again on the same port with the same database.
func (s *Server) Restart() error {
	_ = s.kill()
	python, err := SynapsePython()
	if err != nil {
		return err
	}
	return s.start(python)
}

func (s *Server) kill() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	pgid := -s.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-s.done
	}
	return nil
}

func (s *Server) cleanup() {
	if s.ownDir && os.Getenv("MXADMIN_KEEP_SYNAPSE_DIRS") == "" {
		_ = os.RemoveAll(s.Dir)
	}
	if s.dbName != "" && pg != nil {
		_ = pg.dropDB(s.dbName)
		s.dbName = ""
	}
}

// LogTail returns the last n lines of Synapse's log.
func (s *Server) LogTail(n int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// UserID is the full ID of a localpart on this server.
func (s *Server) UserID(localpart string) string { return "@" + localpart + ":" + s.ServerName }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
	sharedMu   sync.Mutex
	started    []*Server
)

// Track registers a server to be stopped by StopAll.
func Track(s *Server) *Server {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	started = append(started, s)
	return s
}

// StopAll stops every server started through Shared or Track, the shared
// PostgreSQL server and every MAS pair (StartMAS). Test
// binaries call it from TestMain.
func StopAll() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for _, s := range started {
		_ = s.Stop()
	}
	started = nil
	stopPostgres()
	stopAllMAS()
}

// TB is the part of testing.TB the helpers use.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Required reports whether tests must fail, not skip, when Synapse cannot
// run: make test sets MXADMIN_REQUIRE_SYNAPSE=1, so a broken setup can never
// pass as a run of skipped tests.
func Required() bool { return os.Getenv("MXADMIN_REQUIRE_SYNAPSE") == "1" }

// Unavailable skips the test (plain go test) or fails it (make test).
func Unavailable(t TB, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("real Synapse needed but unavailable: %v", err)
	}
	t.Skipf("skipping: real Synapse unavailable (%v); 'make test' runs this test", err)
}

// Shared returns the test binary's shared Synapse, starting it on first use.
func Shared(t TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = Start(Config{})
		if sharedErr == nil {
			Track(shared)
		}
	})
	if sharedErr != nil {
		Unavailable(t, sharedErr)
	}
	return shared
}

// New starts a dedicated server for a test that needs its own config.
func New(t TB, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		Unavailable(t, err)
		return nil
	}
	return Track(s)
}

// Exec runs one SQL statement on the server's database, with ? placeholders
// for args, through the driver Synapse itself uses (sqlite3, or psycopg2 on
// PostgreSQL), and returns the number of rows it changed. Tests use it for
// states the APIs cannot make: an account from before Synapse refused upper
// case, a device last seen an hour ago.
func (s *Server) Exec(query string, args ...any) (int, error) {
	python, err := SynapsePython()
	if err != nil {
		return 0, err
	}
	const script = `
import json, sys
kind, target, query, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
if kind == "sqlite":
    import sqlite3
    db = sqlite3.connect(target, timeout=30)
else:
    import psycopg2
    db = psycopg2.connect(**json.loads(target))
    query = query.replace("?", "%s")
cur = db.cursor()
cur.execute(query, args)
db.commit()
print(cur.rowcount)
`
	kind, target := "sqlite", filepath.Join(s.Dir, "homeserver.db")
	if s.dbName != "" {
		conn, _ := json.Marshal(map[string]any{"user": "postgres", "dbname": s.dbName, "host": pg.dir, "port": pg.port})
		kind, target = "postgres", string(conn)
	}
	if args == nil {
		args = []any{}
	}
	encoded, err := json.Marshal(args)
	if err != nil {
		return 0, err
	}
	out, err := exec.Command(python, "-c", script, kind, target, query, string(encoded)).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("SQL %q: %v: %s", query, err, out)
	}
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &n); err != nil {
		return 0, fmt.Errorf("SQL %q: unexpected output %q", query, out)
	}
	return n, nil
}
