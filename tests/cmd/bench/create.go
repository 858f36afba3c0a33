package main

// Creation at scale (issue 22, item 3): the role creating many users,
// against what Synapse itself needs for the same writes: the same PUTs
// sent by a plain client, one after the other and at the module's
// concurrency, with the CPU time Synapse's process used.

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// createRow is one measured way of creating users.
type createRow struct {
	what     string
	users    int
	wall     time.Duration
	cpu      time.Duration // Synapse's process, every thread
	mainCPU  time.Duration // Synapse's main (reactor) thread
	sampled  int           // > 0: measured on this many users, wall and cpu scaled to users
	requests int
}

// createScale is one scenario (with or without passwords).
type createScale struct {
	name string
	rows []createRow // the role first
}

func (b *bench) createPart() error {
	// Each way gets a Synapse of its own with the same fixture: the cost of
	// a create grows as the database does (seen: a third more per request
	// after 10,000 creates), so ways measured one after the other on one
	// server would not be compared fairly.
	client := benchClient()
	var s *scaleServer
	next := 0
	fresh := func() error {
		if s != nil {
			s.srv.Stop()
		}
		next++
		var err error
		s, err = b.newFixtureServer(fmt.Sprintf("synapse-create-%d", next), 10_000, 20)
		if err == nil {
			b.createBase = s.accounts
		}
		return err
	}
	defer func() {
		if s != nil {
			s.srv.Stop()
		}
	}()
	cpuNow := func() (time.Duration, time.Duration) {
		d, _ := processCPU(s.srv.Pid())
		m, _ := mainThreadCPU(s.srv.Pid())
		return d, m
	}
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = s.srv.UserID(fmt.Sprintf("%s-%06d", prefix, i+1))
		}
		return out
	}
	plain := func(what, prefix string, n, sample, conc int, password bool) (createRow, error) {
		m := n
		if sample > 0 && sample < n {
			m = sample
		}
		body := func(id string) map[string]any {
			if password {
				return map[string]any{"password": "pw-" + id}
			}
			return map[string]any{}
		}
		if err := fresh(); err != nil {
			return createRow{}, err
		}
		fmt.Printf("--> %s: %d PUTs\n", what, m)
		c0, m0 := cpuNow()
		start := time.Now()
		if err := putUsers(client, s.srv.URL, s.token, ids(prefix, m), body, conc); err != nil {
			return createRow{}, err
		}
		wall := time.Since(start)
		c1, m1 := cpuNow()
		r := createRow{what: what, users: n, wall: wall, cpu: c1 - c0, mainCPU: m1 - m0, requests: m}
		if m < n {
			r.sampled = m
			r.wall = r.wall * time.Duration(n) / time.Duration(m)
			r.cpu = r.cpu * time.Duration(n) / time.Duration(m)
			r.mainCPU = r.mainCPU * time.Duration(n) / time.Duration(m)
		}
		fmt.Printf("    %s, Synapse CPU %s (main thread %s), load %s\n", secs(r.wall), secs(r.cpu), secs(r.mainCPU), loadAvg())
		return r, nil
	}
	role := func(prefix string, n int, password bool) (createRow, error) {
		users := make([]map[string]any, n)
		for i := range users {
			name := fmt.Sprintf("%s-%06d", prefix, i+1)
			users[i] = map[string]any{"username": name}
			if password {
				users[i]["password"] = "pw-" + name
			}
		}
		if err := fresh(); err != nil {
			return createRow{}, err
		}
		inv, err := writeInventory(filepath.Join(b.work, fmt.Sprintf("create-%s-%d", prefix, next)), []invHost{{name: "matrix.example.com", url: s.srv.URL, token: s.token, users: users}})
		if err != nil {
			return createRow{}, err
		}
		fmt.Printf("--> the role creating %d users (concurrency %d)\n", n, b.cfg.concurrency)
		before, err := s.srv.UserCount(s.token)
		if err != nil {
			return createRow{}, err
		}
		c0, m0 := cpuNow()
		r, err := b.ansibleRun(inv, "scale-role.yml", nil, "-e", fmt.Sprintf("matrix_users_concurrency=%d", b.cfg.concurrency))
		if err != nil {
			return createRow{}, err
		}
		c1, m1 := cpuNow()
		row := createRow{what: fmt.Sprintf("the role (one module run, concurrency %d)", b.cfg.concurrency), users: n, wall: r.wall, cpu: c1 - c0, mainCPU: m1 - m0}
		after, err := s.srv.UserCount(s.token)
		if err != nil {
			return createRow{}, err
		}
		if after-before != n {
			return createRow{}, fmt.Errorf("the role created %d users, want %d", after-before, n)
		}
		fmt.Printf("    %s, Synapse CPU %s (main thread %s), load %s\n", secs(row.wall), secs(row.cpu), secs(row.mainCPU), loadAvg())
		return row, nil
	}

	n := b.cfg.createNoPW
	sc := createScale{name: fmt.Sprintf("%s new users without passwords", commas(n))}
	r, err := role("new", n, false)
	if err != nil {
		return err
	}
	sc.rows = append(sc.rows, r)
	if r, err = plain("plain client, sequential", "new", n, 0, 1, false); err != nil {
		return err
	}
	sc.rows = append(sc.rows, r)
	if r, err = plain(fmt.Sprintf("plain client, %d in flight", b.cfg.concurrency), "new", n, 0, b.cfg.concurrency, false); err != nil {
		return err
	}
	sc.rows = append(sc.rows, r)
	b.creates = append(b.creates, sc)

	n = b.cfg.createPW
	sc = createScale{name: fmt.Sprintf("%s new users with passwords (bcrypt cost 12)", commas(n))}
	if r, err = role("newpw", n, true); err != nil {
		return err
	}
	sc.rows = append(sc.rows, r)
	if r, err = plain("plain client, sequential", "newpw", n, b.cfg.createSeqSample, 1, true); err != nil {
		return err
	}
	sc.rows = append(sc.rows, r)
	if r, err = plain(fmt.Sprintf("plain client, %d in flight", b.cfg.concurrency), "newpw", n, 0, b.cfg.concurrency, true); err != nil {
		return err
	}
	sc.rows = append(sc.rows, r)
	b.creates = append(b.creates, sc)
	b.createDB = synapsetest.DB()
	return nil
}

func (b *bench) createReport() string {
	var s strings.Builder
	fmt.Fprintf(&s, "## Creating users at scale\n\n")
	fmt.Fprintf(&s, "The role creating users declared in host_vars, on a Synapse (%s, bcrypt_rounds 12, the default) that already\n", b.createDB)
	fmt.Fprintf(&s, "holds %s accounts (a new one with the same fixture for each way, as a create costs more as the database grows), against **Synapse's own time for the same writes**: the same `PUT /_synapse/admin/v2/users/<id>`\n", commas(b.createBase))
	fmt.Fprintf(&s, "requests (body `{}`, or `{\"password\": …}`) sent by a plain Go client, one after the other and with %d in flight\n", b.cfg.concurrency)
	fmt.Fprintf(&s, "(the module's concurrency). The floor is the faster of the two. Synapse CPU is the user+system time of its\n")
	fmt.Fprintf(&s, "process during the run, from /proc: every thread, and its main thread alone (the reactor, where the request\n")
	fmt.Fprintf(&s, "handlers run under Python's GIL; the database and the bcrypt hashes run in thread pools). Each figure is one run.\n\n")
	fmt.Fprintf(&s, "| scenario | how | users | wall time | per user | Synapse CPU (main thread) | per user | ratio to the floor |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, sc := range b.creates {
		floor := time.Duration(0)
		for _, r := range sc.rows[1:] {
			if floor == 0 || r.wall < floor {
				floor = r.wall
			}
		}
		for _, r := range sc.rows {
			what := r.what
			if r.sampled > 0 {
				what += fmt.Sprintf(" (measured on %d, scaled)", r.sampled)
			}
			fmt.Fprintf(&s, "| %s | %s | %s | %s | %.1f ms | %s (%s) | %.1f ms (%.1f ms) | %.2f× |\n", sc.name, what, commas(r.users), secs(r.wall),
				msPer(r.wall, r.users), secs(r.cpu), secs(r.mainCPU), msPer(r.cpu, r.users), msPer(r.mainCPU, r.users), ratioOf(r.wall, floor))
		}
	}
	for _, sc := range b.creates {
		role := sc.rows[0]
		floor := sc.rows[1]
		for _, r := range sc.rows[2:] {
			if r.wall < floor.wall {
				floor = r
			}
		}
		fmt.Fprintf(&s, "\n- %s: the role %s, %.2f× Synapse's own %s (%s; target ≤ 1.2×: %s). Synapse's CPU for the role's writes "+
			"was %.2f× what it used for the plain client's: on a shared machine that figure moves less than wall time does.", sc.name, secs(role.wall),
			ratioOf(role.wall, floor.wall), secs(floor.wall), floor.what, check(ratioOf(role.wall, floor.wall) <= 1.2), ratioOf(role.cpu, floor.cpu))
	}
	fmt.Fprintf(&s, "\n\n%s\n", b.createLimit())
	fmt.Fprintf(&s, "\nThe machine's load average (1 minute; other jobs share it) %s.\n", b.loads["create"])
	fmt.Fprintf(&s, "\nReproduce only this section: `make bench BENCH_FLAGS='-only create'` (`-create-nopw 10000 -create-pw 1000 -create-seq-sample 200`).\n")
	return s.String()
}

func msPer(d time.Duration, n int) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }

// createLimit says where the limit is, from the CPU figures.
func (b *bench) createLimit() string {
	if len(b.creates) < 2 {
		return ""
	}
	np, pw := b.creates[0], b.creates[1]
	seq, conc := np.rows[1], np.rows[2]
	pwConc := pw.rows[2]
	db := "SQLite, whose one connection (Synapse's pool for SQLite has one) serialises the writes as well"
	if b.createDB == "postgres" {
		db = "PostgreSQL: a pool of connections, so the database is not what serialises them"
	}
	return fmt.Sprintf("Where the limit is. Without passwords each user costs Synapse %.1f ms of CPU: %.1f ms in its main thread "+
		"(the request handler) and the rest in its database thread (the transaction's Python and the database driver). "+
		"Python runs one thread at a time (the GIL), so Synapse's single main process does at most about %.0f users a second "+
		"on one core, however many requests are in flight: with %d in flight it used %.2f cores' worth (%.1f ms of wall time "+
		"per user; sequential %.1f ms, %.2f cores); the database here is %s. "+
		"With passwords each user costs %.0f ms of CPU, nearly all of it the bcrypt hash, which Synapse runs in a thread pool "+
		"outside the GIL: there the machine's %d cores are the limit (at best %.0f ms of wall time per user; %.1f ms measured "+
		"with %d in flight, %.2f cores busy).",
		msPer(conc.cpu, conc.users), msPer(conc.mainCPU, conc.users), 1000/msPer(conc.cpu, conc.users), b.cfg.concurrency,
		conc.cpu.Seconds()/conc.wall.Seconds(), msPer(conc.wall, conc.users), msPer(seq.wall, seq.users), seq.cpu.Seconds()/seq.wall.Seconds(), db,
		msPer(pwConc.cpu, pwConc.users), b.cpus(), msPer(pwConc.cpu, pwConc.users)/float64(b.cpus()), msPer(pwConc.wall, pwConc.users),
		b.cfg.concurrency, pwConc.cpu.Seconds()/pwConc.wall.Seconds())
}
