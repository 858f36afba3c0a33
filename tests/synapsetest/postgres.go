package synapsetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DB is the database the test servers use: MXADMIN_SYNAPSE_DB=postgres
// (make e2e SYNAPSE_DB=postgres) gives each Synapse a database of its own on
// one PostgreSQL server the test binary starts; anything else is SQLite.
func DB() string {
	if os.Getenv("MXADMIN_SYNAPSE_DB") == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// postgres is the one PostgreSQL server of a test binary, started on first
// use from the binaries of Debian's postgresql package, in a temp data dir,
// listening only on a unix socket in that dir (no port to collide with).
type postgres struct {
	bindir  string
	dir     string // data dir and socket dir
	port    int    // names the socket file (.s.PGSQL.<port>)
	cred    *syscall.Credential
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	nextDB  int
}

var (
	pg     *postgres
	pgErr  error
	pgOnce sync.Once
	pgMu   sync.Mutex
)

// sharedPostgres starts the PostgreSQL server on first use.
func sharedPostgres() (*postgres, error) {
	pgOnce.Do(func() { pg, pgErr = startPostgres() })
	return pg, pgErr
}

// postgresBindir finds the newest PostgreSQL installed by Debian's package.
func postgresBindir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var found []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return "", errors.New("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): 'make e2e SYNAPSE_DB=postgres' installs Debian's postgresql package")
	}
	sort.Slice(found, func(i, j int) bool { return pgMajor(found[i]) > pgMajor(found[j]) })
	return found[0], nil
}

func pgMajor(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}

func startPostgres() (*postgres, error) {
	bindir, err := postgresBindir()
	if err != nil {
		return nil, err
	}
	p := &postgres{bindir: bindir}
	// PostgreSQL refuses to run as root: as root, run it as the postgres
	// system user that Debian's package creates.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL cannot run as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// A short path: a unix socket path must stay under 108 bytes, which a
	// long TMPDIR would break.
	base := os.TempDir()
	if len(base) > 60 {
		base = "/tmp"
	}
	if p.dir, err = os.MkdirTemp(base, "mxpg-"); err != nil {
		return nil, err
	}
	if p.cred != nil {
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(p.dir, "data")
	initdb := p.command(filepath.Join(bindir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		p.removeDir()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if p.port, err = freePort(); err != nil {
		p.removeDir()
		return nil, err
	}
	p.logPath = filepath.Join(p.dir, "postgres.log")
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.removeDir()
		return nil, err
	}
	// Durability is of no use for throwaway test data.
	p.cmd = p.command(filepath.Join(bindir, "postgres"), "-D", data, "-k", p.dir, "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		p.removeDir()
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := p.psql("SELECT 1"); err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			p.removeDir()
			return nil, fmt.Errorf("PostgreSQL exited during start-up; log:\n%s", p.logTail())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("PostgreSQL did not accept connections within 60s; log:\n%s", p.logTail())
		}
	}
}

// command runs a PostgreSQL program as the user that owns the server, in
// its own process group, killed if the test binary dies first.
func (p *postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	return cmd
}

func (p *postgres) psql(sql string) (string, error) {
	cmd := p.command(filepath.Join(p.bindir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", p.dir, "-p", strconv.Itoa(p.port), "-U", "postgres", "-d", "postgres", "-c", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql %q: %v: %s", sql, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// createDB makes a database for one Synapse, with the encoding and the C
// collation Synapse insists on (it refuses to start otherwise).
func (p *postgres) createDB() (string, error) {
	pgMu.Lock()
	p.nextDB++
	name := fmt.Sprintf("synapse_%d_%s", p.nextDB, randomHex(4))
	pgMu.Unlock()
	_, err := p.psql(fmt.Sprintf(`CREATE DATABASE %s ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0`, name))
	return name, err
}

// dropDB removes a database once its Synapse has stopped.
func (p *postgres) dropDB(name string) error {
	_, err := p.psql(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
	return err
}

func (p *postgres) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		select {
		case <-p.done:
		default:
			// SIGINT: PostgreSQL's fast shutdown.
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
			}
		}
	}
	p.removeDir()
}

func (p *postgres) removeDir() {
	if os.Getenv("MXADMIN_KEEP_SYNAPSE_DIRS") == "" {
		_ = os.RemoveAll(p.dir)
	}
}

func (p *postgres) logTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// stopPostgres stops the shared server, if one was started (StopAll).
func stopPostgres() {
	if pg != nil {
		pg.stop()
	}
	pg, pgErr, pgOnce = nil, nil, sync.Once{}
}
