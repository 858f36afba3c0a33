package main

// Many homeservers (issue 22, item 4): a hosting provider's inventory of
// several homeservers, each with its own users, one playbook run over all
// of them with forks, against the same run on one host.

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

type hostsResult struct {
	hosts, users, added  int
	startAll             time.Duration
	oneChange, allChange time.Duration
	oneNoop, allNoop     time.Duration
	oneFloor, allFloor   time.Duration
	noopRuns             int
	verified             int
}

func (b *bench) hostsPart() error {
	n, pool, added := b.cfg.hosts, b.cfg.hostUsers, 50
	fmt.Printf("==> %d homeservers (SQLite, loopback), each with a fixture of %s accounts\n", n, commas(pool))
	servers := make([]*scaleServer, n)
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	// Two at a time: ten Python start-ups at once on a small machine only
	// make each slower.
	sem := make(chan struct{}, 2)
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			servers[i], errs[i] = b.newFixtureServer(fmt.Sprintf("synapse-host-%02d", i+1), pool, 5)
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range servers {
			if s != nil {
				s.srv.Stop()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	res := &hostsResult{hosts: n, users: pool, added: added, startAll: time.Since(start)}
	fmt.Printf("    started and filled in %s\n", secs(res.startAll))

	// Each host declares its fixture's accounts and `added` new ones of a
	// batch: host 1 alone gets batch "one" first, then every host gets
	// batch "all", so that both runs create the same number of users on
	// each host they cover.
	layout := func(batch string) (string, error) {
		hosts := make([]invHost, n)
		for i, s := range servers {
			users := declared(s.fixture.Name, pool, s.fixture.Admins, fixturePassword)
			for j := 1; j <= added; j++ {
				users = append(users, map[string]any{"username": fmt.Sprintf("%s-%s-%03d", batch, hostName(i), j)})
			}
			hosts[i] = invHost{name: hostName(i), url: s.srv.URL, token: s.token, users: users}
		}
		return writeInventory(filepath.Join(b.work, "hosts-"+batch), hosts)
	}
	forks := []string{fmt.Sprintf("ANSIBLE_FORKS=%d", n)}
	invOne, err := layout("one")
	if err != nil {
		return err
	}
	fmt.Printf("--> the role on one host, creating %d users\n", added)
	r, err := b.ansibleRun(invOne, "scale-role.yml", forks, "--limit", hostName(0))
	if err != nil {
		return err
	}
	res.oneChange = r.wall
	invAll, err := layout("all")
	if err != nil {
		return err
	}
	fmt.Printf("--> the role on all %d hosts (forks %d), creating %d users on each\n", n, n, added)
	if r, err = b.ansibleRun(invAll, "scale-role.yml", forks); err != nil {
		return err
	}
	res.allChange = r.wall
	fmt.Printf("    one host %s, all %s\n", secs(res.oneChange), secs(res.allChange))

	// Every host is as declared: its own fixture, its new users, and
	// nothing of another host's.
	client := benchClient()
	for i, s := range servers {
		names, _, err := readList(client, s.srv.URL, s.token)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, name := range names {
			have[name] = true
		}
		want := s.accounts + added
		if i == 0 {
			want += added
		}
		if len(names) != want {
			return fmt.Errorf("%s lists %d accounts after the run, want %d", hostName(i), len(names), want)
		}
		for j := 1; j <= added; j++ {
			if id := s.srv.UserID(fmt.Sprintf("all-%s-%03d", hostName(i), j)); !have[id] {
				return fmt.Errorf("%s: %s was not created", hostName(i), id)
			}
		}
		res.verified++
	}

	fmt.Printf("--> no-op reruns, one host and all %d, interleaved %d times\n", n, b.cfg.hostsRepeat)
	var one, all, floorOne, floorAll []time.Duration
	for rep := 0; rep < b.cfg.hostsRepeat; rep++ {
		// The floor: Ansible's own cost of one task on one host and on
		// all of them, with the same inventory and forks.
		if r, err = b.ansibleRun(invAll, "floor.yml", forks, "--limit", hostName(0)); err != nil {
			return err
		}
		floorOne = append(floorOne, r.wall)
		if r, err = b.ansibleRun(invAll, "floor.yml", forks); err != nil {
			return err
		}
		floorAll = append(floorAll, r.wall)
		if r, err = b.ansibleRun(invAll, "scale-role.yml", forks, "--limit", hostName(0)); err != nil {
			return err
		}
		if err := recapUnchanged(r.out, 1); err != nil {
			return err
		}
		one = append(one, r.wall)
		if r, err = b.ansibleRun(invAll, "scale-role.yml", forks); err != nil {
			return err
		}
		if err := recapUnchanged(r.out, n); err != nil {
			return err
		}
		all = append(all, r.wall)
		fmt.Printf("    one host %s, all %s; floor playbook: one host %s, all %s\n", secs(one[rep]), secs(all[rep]), secs(floorOne[rep]), secs(floorAll[rep]))
	}
	res.oneNoop, res.allNoop, res.noopRuns = medianDur(one), medianDur(all), len(one)
	res.oneFloor, res.allFloor = medianDur(floorOne), medianDur(floorAll)
	b.hostsRes = res
	return nil
}

func hostName(i int) string { return fmt.Sprintf("matrix%02d.example.com", i+1) }

func (b *bench) hostsReport() string {
	h := b.hostsRes
	var s strings.Builder
	fmt.Fprintf(&s, "## Many homeservers\n\n")
	fmt.Fprintf(&s, "A hosting provider's inventory: %d Synapses on this machine (%s, loopback, bcrypt_rounds 12), each holding a\n", h.hosts, synapsetest.DB())
	fmt.Fprintf(&s, "fixture of %s accounts and declaring them in its own `host_vars/<host>/vars.yml`, plus %d new users; the role over\n", commas(h.users), h.added)
	fmt.Fprintf(&s, "all of them with `forks: %d`, against the same run limited to one host (`--limit`). All %d hosts are checked afterwards\n", h.hosts, h.hosts)
	fmt.Fprintf(&s, "through their admin API (every declared account there, nothing else added): %d of %d correct. The %d Synapses\n", h.verified, h.hosts, h.hosts)
	fmt.Fprintf(&s, "share the machine's %d cores with Ansible's %d worker processes and %d module binaries.\n\n", b.cpus(), h.hosts, h.hosts)
	fmt.Fprintf(&s, "| run | one host | all %d hosts | ratio |\n|---|---:|---:|---:|\n", h.hosts)
	fmt.Fprintf(&s, "| creating %d users on each host | %s | %s | %.2f× |\n", h.added, secs(h.oneChange), secs(h.allChange), ratioOf(h.allChange, h.oneChange))
	fmt.Fprintf(&s, "| no-op rerun (median of %d interleaved) | %s | %s | %.2f× |\n", h.noopRuns, secs(h.oneNoop), secs(h.allNoop), ratioOf(h.allNoop, h.oneNoop))
	fmt.Fprintf(&s, "| the floor: a one-task playbook (`command: \"true\"`), same inventory and forks (median of %d, interleaved with the above) | %s | %s | %.2f× |\n", h.noopRuns, secs(h.oneFloor), secs(h.allFloor), ratioOf(h.allFloor, h.oneFloor))
	fmt.Fprintf(&s, "\nThe no-op over %d hosts is %.2f× the floor over the same hosts (one host: %.2f×). The part of a run that is\n", h.hosts, ratioOf(h.allNoop, h.allFloor), ratioOf(h.oneNoop, h.oneFloor))
	fmt.Fprintf(&s, "per host and CPU-bound (Ansible's workers, the binaries, the Synapses: all on this machine) cannot take less than\n")
	fmt.Fprintf(&s, "about %d/%d = %.0f× one host's on %d cores; Ansible's start-up is paid once, which keeps the ratios below that.\n", h.hosts, b.cpus(), float64(h.hosts)/float64(b.cpus()), b.cpus())
	fmt.Fprintf(&s, "\nStarting and filling the %d Synapses took %s. The over-SSH path is in the SSH section.\n", h.hosts, secs(h.startAll))
	fmt.Fprintf(&s, "\nThe machine's load average (1 minute; other jobs share it) %s.\n", b.loads["hosts"])
	fmt.Fprintf(&s, "\nReproduce only this section: `make bench BENCH_FLAGS='-only hosts'` (`-hosts 10 -host-users 1000`).\n")
	return s.String()
}
