package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mxadmin/synapse/tests/sshtest"
	"github.com/mxadmin/synapse/tests/synapsetest"
)

// sshRow is one measured kind of run over SSH (medians).
type sshRow struct {
	approach string
	users    int
	runs     int
	wall     time.Duration
	sent     int64
	recv     int64
}

type sshSample struct {
	wall       time.Duration
	sent, recv int64
}

func medianSSH(approach string, users int, samples []sshSample) sshRow {
	walls := make([]time.Duration, len(samples))
	sent := make([]int64, len(samples))
	recv := make([]int64, len(samples))
	for i, s := range samples {
		walls[i], sent[i], recv[i] = s.wall, s.sent, s.recv
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	sort.Slice(sent, func(i, j int) bool { return sent[i] < sent[j] })
	sort.Slice(recv, func(i, j int) bool { return recv[i] < recv[j] })
	m := len(samples) / 2
	return sshRow{approach: approach, users: users, runs: len(samples), wall: walls[m], sent: sent[m], recv: recv[m]}
}

// sshBench measures the role's first run and no-op rerun over SSH against
// ansible.builtin.ping over the same connection. The users must exist.
func (b *bench) sshBench(users []map[string]any) error {
	fmt.Println("==> over SSH: starting sshd on loopback")
	srv, err := sshtest.Start()
	if err != nil {
		return err
	}
	defer srv.Stop()
	remoteTmp := filepath.Join(srv.Dir, "remote-tmp")
	inventory := filepath.Join(b.work, "ssh-inventory.yml")
	inv := fmt.Sprintf(`all:
  hosts:
    bench_host:
      ansible_connection: ssh
      ansible_host: 127.0.0.1
      ansible_port: %d
      ansible_user: root
      ansible_ssh_private_key_file: %q
      ansible_ssh_common_args: %q
      ansible_remote_tmp: %q
      ansible_python_interpreter: /usr/bin/python3
`, srv.Port, srv.Key, srv.SSHArgs(), remoteTmp)
	if err := os.WriteFile(inventory, []byte(inv), 0o600); err != nil {
		return err
	}
	run := func(name string, vars map[string]any) (sshSample, error) {
		// A new SSH connection for every run, as for a run minutes after
		// the last one (Ansible keeps a connection open for 60 s).
		cp, err := os.MkdirTemp(b.work, "cp-")
		if err != nil {
			return sshSample{}, err
		}
		srv.Reset()
		start := time.Now()
		err = b.playbookOn(inventory, []string{"ANSIBLE_SSH_CONTROL_PATH_DIR=" + cp}, name, vars)
		s := sshSample{wall: time.Since(start), sent: srv.Sent(), recv: srv.Received()}
		fmt.Printf("    %s: %s, %d bytes sent, %d received\n", name, s.wall.Round(10*time.Millisecond), s.sent, s.recv)
		return s, err
	}
	roleVars := func() map[string]any {
		return map[string]any{"matrix_users_list": users, "matrix_users_concurrency": b.cfg.concurrency}
	}

	fmt.Printf("--> role, first run over SSH (empty cache), %d users\n", len(users))
	var first []sshSample
	for i := 0; i < 3; i++ {
		if err := os.RemoveAll(filepath.Join(remoteTmp, "mxadmin_synapse")); err != nil {
			return err
		}
		s, err := run("role.yml", roleVars())
		if err != nil {
			return err
		}
		first = append(first, s)
	}
	fmt.Printf("--> role no-op rerun and ping over SSH, interleaved, %d times\n", b.cfg.repeat)
	var rerun, ping []sshSample
	for i := 0; i < b.cfg.repeat; i++ {
		s, err := run("ping.yml", map[string]any{})
		if err != nil {
			return err
		}
		ping = append(ping, s)
		if s, err = run("role.yml", roleVars()); err != nil {
			return err
		}
		rerun = append(rerun, s)
	}
	ratios := make([]float64, len(rerun))
	for i := range rerun {
		ratios[i] = float64(rerun[i].wall) / float64(ping[i].wall)
	}
	sort.Float64s(ratios)
	b.sshPairRatio = ratios[len(ratios)/2]
	b.ssh = []sshRow{
		medianSSH("reference: `ansible.builtin.ping` playbook", 0, ping),
		medianSSH("matrix_users role, first run (empty cache: the binary is uploaded)", len(users), first),
		medianSSH("matrix_users role, no-op rerun (binary cached)", len(users), rerun),
	}
	return nil
}

// sshReport renders the SSH section of docs/benchmarks.md.
func (b *bench) sshReport() string {
	var s strings.Builder
	fmt.Fprintf(&s, "## Over SSH\n\n")
	fmt.Fprintf(&s, "The same Synapse, the target reached over SSH: Debian's OpenSSH server on loopback, started by the benchmark,\n")
	fmt.Fprintf(&s, "logged in as root with a key, Ansible's SSH defaults (compression on). Every run opens a new SSH connection, as a\n")
	fmt.Fprintf(&s, "run minutes after the last one does. Bytes are counted by a TCP relay in front of sshd (SSH's own traffic\n")
	fmt.Fprintf(&s, "included). The machine is shared with other busy jobs: each figure is the median of the runs shown.\n\n")
	fmt.Fprintf(&s, "| approach | users | wall time | bytes sent to the target | bytes received | runs |\n")
	fmt.Fprintf(&s, "|---|---:|---:|---:|---:|---:|\n")
	for _, r := range b.ssh {
		users := fmt.Sprint(r.users)
		if r.users == 0 {
			users = "—"
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %d |\n", r.approach, users, r.wall.Round(10*time.Millisecond), kb(r.sent), kb(r.recv), r.runs)
	}
	if len(b.ssh) == 3 {
		ping, first, rerun := b.ssh[0], b.ssh[1], b.ssh[2]
		check := func(ok bool) string {
			if ok {
				return "met"
			}
			return "**missed**"
		}
		ratio := float64(rerun.wall) / float64(ping.wall)
		fmt.Fprintf(&s, "\n- No-op rerun of %d users over SSH: %s sent to the target (target ≤ 100 KB: %s); %s, %.2f× the %s of the ping playbook over the same SSH (target ≤ 1.3×: %s).\n",
			rerun.users, kb(rerun.sent), check(rerun.sent <= 100_000), rerun.wall.Round(10*time.Millisecond), ratio, ping.wall.Round(10*time.Millisecond), check(ratio <= 1.3))
		fmt.Fprintf(&s, "- Each rerun ran right after a ping run; the median of those %d pairs' ratios is %.2f× (less exposed to the machine's load than the ratio of medians).\n",
			rerun.runs, b.sshPairRatio)
		fmt.Fprintf(&s, "- First run: %s sent (the binary, compressed by SSH, once per version and target user), %s.\n",
			kb(first.sent), first.wall.Round(10*time.Millisecond))
		fmt.Fprintf(&s, "- Before the binary cache (Ansible's own way: binary and args file copied for every task), the rerun sent about 3.0 MB.\n")
	}
	fmt.Fprintf(&s, "\nReproduce only this section: `make bench BENCH_FLAGS='-only ssh'`.\n")
	return s.String()
}

func kb(n int64) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f KB", float64(n)/1e3)
}

// sshSetup starts a Synapse with the no-op users for the SSH part when the
// basic part did not run (-only ssh).
func (b *bench) sshSetup() ([]map[string]any, error) {
	var err error
	b.srv, err = synapsetest.Start(synapsetest.Config{Dir: filepath.Join(b.work, "synapse")})
	if err != nil {
		return nil, err
	}
	b.proxy = synapsetest.NewProxy(b.srv.URL, "")
	if b.token, err = b.srv.Register("admin", "bench-admin-password", true); err != nil {
		return nil, err
	}
	users := users("noop", b.cfg.noop, false)
	fmt.Printf("==> creating %d users (not measured)\n", len(users))
	if err := b.playbook("role.yml", map[string]any{"matrix_users_list": users, "matrix_users_concurrency": b.cfg.concurrency}); err != nil {
		return nil, err
	}
	return users, nil
}
