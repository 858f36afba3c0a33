// Package sshtest runs a throwaway OpenSSH server on loopback for tests and
// the benchmark, so that playbooks reach their target the way users' do:
// over SSH. Debian's openssh-server (installed by the Makefile) runs with a
// config, port, host key and authorized key of its own in a temp dir; a
// counting TCP relay in front of it tells how many bytes went to the target.
package sshtest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// TestUser is the unprivileged account the tests log in as or become; the
// harness creates it (as root) when it is missing, and removes it when the
// last server stops (leases.go). While a server runs, TestUser may sudo to
// root without a password (as a deploy user does); it can only log in with
// the harness's key, through the harness's sshd.
const TestUser = "mxadmin-ssh"

var randRead = rand.Read

// Server is a running sshd behind a counting relay.
type Server struct {
	// Dir holds the config, keys and logs; removed by Stop.
	Dir string
	// Port is the relay's port on 127.0.0.1: connect here.
	Port int
	// Key is the client's private key, authorized for root and TestUser.
	Key string
	// KnownHosts pins the server's host key for 127.0.0.1:Port.
	KnownHosts string

	cmd     *exec.Cmd
	done    chan struct{}
	relay   net.Listener
	sent    atomic.Int64 // bytes from clients to sshd
	recv    atomic.Int64 // bytes from sshd to clients
	opened  atomic.Int64 // connections accepted
	conns   sync.WaitGroup
	logPath string
	sudoers string
}

// Sshd is the OpenSSH server binary.
const Sshd = "/usr/sbin/sshd"

// Start starts sshd and its relay. It must run as root (sshd changes to the
// user that logs in); CI runs the tests as root.
func Start() (*Server, error) {
	if _, err := os.Stat(Sshd); err != nil {
		return nil, fmt.Errorf("%s not found: 'make test' installs Debian's openssh-server (%v)", Sshd, err)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the SSH tests start sshd, which must run as root")
	}
	// The user, and this server's sudoers drop-in; what killed runs left
	// is removed first.
	sudoers, err := takeLease()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mxadmin-sshd-")
	if err != nil {
		_ = dropLease(sudoers)
		return nil, err
	}
	s := &Server{Dir: dir, Key: filepath.Join(dir, "client_key"), KnownHosts: filepath.Join(dir, "known_hosts"), logPath: filepath.Join(dir, "sshd.log"), sudoers: sudoers}
	if err := s.start(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	// The user's home dirs and the sshd dir must be reachable by TestUser,
	// whom sshd logs in as.
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	hostKey := filepath.Join(s.Dir, "host_key")
	for _, key := range []string{hostKey, s.Key} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mxadmin-e2e", "-f", key).CombinedOutput(); err != nil {
			return fmt.Errorf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(s.Key + ".pub")
	if err != nil {
		return err
	}
	authorized := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o644); err != nil {
		return err
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return err
	}
	sshdPort, err := freePort()
	if err != nil {
		return err
	}
	config := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root %s
UsePAM no
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
`, sshdPort, hostKey, filepath.Join(s.Dir, "sshd.pid"), authorized, TestUser)), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = exec.Command(Sshd, "-D", "-e", "-f", config)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.done) }()

	target := fmt.Sprintf("127.0.0.1:%d", sshdPort)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", target, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.done:
			return fmt.Errorf("sshd exited: %s", s.LogTail(20))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd did not listen on %s within 20s: %s", target, s.LogTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.relay, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return err
	}
	s.Port = s.relay.Addr().(*net.TCPAddr).Port
	go s.serveRelay(target)

	hk, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return err
	}
	fields := strings.Fields(string(hk))
	return os.WriteFile(s.KnownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s %s\n", s.Port, fields[0], fields[1])), 0o644)
}

// serveRelay forwards every connection to sshd, counting bytes both ways.
func (s *Server) serveRelay(target string) {
	for {
		c, err := s.relay.Accept()
		if err != nil {
			return
		}
		s.conns.Add(1)
		s.opened.Add(1)
		go func() {
			defer s.conns.Done()
			defer c.Close()
			up, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer up.Close()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, _ := io.Copy(countingWriter{up, &s.sent}, c)
				_ = n
				if tc, ok := up.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}()
			_, _ = io.Copy(countingWriter{c, &s.recv}, up)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			wg.Wait()
		}()
	}
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Sent returns the bytes sent to the target since the last Reset.
func (s *Server) Sent() int64 { return s.sent.Load() }

// Received returns the bytes the target sent back since the last Reset.
func (s *Server) Received() int64 { return s.recv.Load() }

// Connections returns the connections opened since the last Reset. Unlike
// the bytes, it does not count what a connection of an earlier test (an ssh
// ControlPersist master closing) still sends.
func (s *Server) Connections() int64 { return s.opened.Load() }

// Reset zeroes the counters.
func (s *Server) Reset() {
	s.sent.Store(0)
	s.recv.Store(0)
	s.opened.Store(0)
}

// Stop stops sshd (and every session it still runs) and the relay, removes
// Dir and this server's sudoers drop-in and, when no other server runs on
// the machine, TestUser.
func (s *Server) Stop() {
	if s.relay != nil {
		_ = s.relay.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	_ = os.RemoveAll(s.Dir)
	if err := dropLease(s.sudoers); err != nil {
		// Left for the next run, or make ssh-cleanup; said, not hidden.
		fmt.Fprintf(os.Stderr, "sshtest: undoing the SSH tests' changes to the machine: %v (make ssh-cleanup)\n", err)
	}
	s.sudoers = ""
}

// LogTail returns the last n lines of sshd's log.
func (s *Server) LogTail(n int) string {
	data, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// SSHArgs are the ssh options that trust this server's host key only.
func (s *Server) SSHArgs() string {
	return fmt.Sprintf("-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes", s.KnownHosts)
}

// ensureUser creates TestUser (home in /home, no password) when missing.
// An account whose password field starts with '!' counts as locked for
// sshd without PAM, so the field is '*': no password login, keys only.
func ensureUser() error {
	if _, err := user.Lookup(TestUser); err != nil {
		if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", "--comment", userComment, TestUser).CombinedOutput(); err != nil {
			return fmt.Errorf("useradd %s: %v\n%s", TestUser, err, out)
		}
	}
	if out, err := exec.Command("usermod", "-p", "*", "--comment", userComment, TestUser).CombinedOutput(); err != nil {
		return fmt.Errorf("usermod %s: %v\n%s", TestUser, err, out)
	}
	return nil
}

// UserIDs returns the uid and gid of a local account.
func UserIDs(name string) (uid, gid int, home string, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, "", err
	}
	_, err = fmt.Sscan(u.Uid, &uid)
	if err == nil {
		_, err = fmt.Sscan(u.Gid, &gid)
	}
	return uid, gid, u.HomeDir, err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Credential runs a command as a local account (for tests that need a second
// local user on the target, such as one attacking the module's cache).
func Credential(name string) (*syscall.Credential, error) {
	uid, gid, _, err := UserIDs(name)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// MountNoexec mounts a small tmpfs with noexec on dir (mode 1777, as /tmp
// often is) and returns the function that unmounts it. It needs root, as
// the SSH tests do.
func MountNoexec(dir string) (func(), error) {
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "noexec,nosuid,nodev,size=64m,mode=1777", "mxadmin-noexec", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mount -t tmpfs -o noexec on %s: %v\n%s", dir, err, out)
	}
	return func() {
		if exec.Command("umount", dir).Run() != nil {
			// Busy (a process of the test still in it): detach it now, the
			// kernel frees it when the last user goes.
			_ = exec.Command("umount", "-l", dir).Run()
		}
	}, nil
}
