package main

// The no-op at scale, measured as issue 22 measures it: the users declared
// where matrix-docker-ansible-deploy users declare them (the inventory's
// host_vars/<host>/vars.yml), the role's no-op run against a Synapse holding
// a fixture, next to the floor (a one-task playbook over the same inventory
// plus one plain sequential read of the server's user list), medians of
// interleaved runs.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// scaleServer is one Synapse holding a fixture, for the scale and profile
// parts.
type scaleServer struct {
	srv      *synapsetest.Server
	token    string
	fixture  synapsetest.Fixture
	accounts int           // what the admin API lists
	build    time.Duration // writing the fixture and restarting Synapse
}

// fixturePassword is the password of every fixture account, declared with
// each user as people declare passwords (update_password: on_create).
const fixturePassword = "fixture-password-9Tz"

// bridge is the application service whose puppets fill a bridged server.
var bridge = synapsetest.AppService{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}

// newFixtureServer starts a Synapse (bcrypt cost 12) and fills it with
// pool ordinary accounts (the first admins of them server admins) and 5%
// more: 2% deactivated and 3% bridge puppets, as on a bridged server.
func (b *bench) newFixtureServer(name string, pool, admins int) (*scaleServer, error) {
	srv, err := synapsetest.Start(synapsetest.Config{BcryptRounds: 12, AppServices: []synapsetest.AppService{bridge},
		Dir: filepath.Join(b.work, name)})
	if err != nil {
		return nil, err
	}
	s := &scaleServer{srv: srv}
	if s.token, err = srv.Register("admin", "bench-admin-password", true); err != nil {
		srv.Stop()
		return nil, err
	}
	s.fixture = synapsetest.Fixture{Prefix: "bench", Users: pool, Admins: min(admins, pool), Deactivated: pool / 50,
		AppService: bridge.ID, AppServiceUsers: pool * 3 / 100, Password: fixturePassword}
	start := time.Now()
	if err := srv.Populate(s.fixture); err != nil {
		srv.Stop()
		return nil, err
	}
	s.build = time.Since(start)
	if s.accounts, err = srv.UserCount(s.token); err != nil {
		srv.Stop()
		return nil, err
	}
	if s.accounts != s.fixture.Total()+1 {
		srv.Stop()
		return nil, fmt.Errorf("%s: the admin API lists %d accounts, the fixture wrote %d (and the admin)", name, s.accounts, s.fixture.Total())
	}
	return s, nil
}

// startFixture is newFixtureServer with 20 admins, saying what it does.
func (b *bench) startFixture(name string, pool int) (*scaleServer, error) {
	fmt.Printf("==> a Synapse with a fixture of %s accounts written into its database (%s), then restarted\n", commas(pool*105/100), synapsetest.DB())
	s, err := b.newFixtureServer(name, pool, 20)
	if err != nil {
		return nil, err
	}
	fmt.Printf("    %s (the admin API lists %s accounts)\n", s.build.Round(10*time.Millisecond), commas(s.accounts))
	return s, nil
}

// scalePoint is the measurement at one number of declared users.
type scalePoint struct {
	declared, accounts, runs int
	// medians
	floorPlay, read, role, moduleTask, binary time.Duration
	pages                                     int
	binaryRSS, roleRSS                        int64 // peaks over the runs
	// the vars_files variant (zero when not measured)
	vfFloorPlay, vfRole time.Duration
}

func (p scalePoint) floor() time.Duration   { return p.floorPlay + p.read }
func (p scalePoint) vfFloor() time.Duration { return p.vfFloorPlay + p.read }

// perUser is what each declared user costs above the floor.
func perUser(total, floor time.Duration, n int) time.Duration {
	return (total - floor) / time.Duration(n)
}

// measureScale measures the no-op at n declared users on s.
func (b *bench) measureScale(s *scaleServer, n, repeat int) (scalePoint, error) {
	p := scalePoint{declared: n, accounts: s.accounts, runs: repeat}
	dir := filepath.Join(b.work, fmt.Sprintf("scale-%d", n))
	users := declared(s.fixture.Name, n, s.fixture.Admins, fixturePassword)
	inv, err := writeInventory(filepath.Join(dir, "inventory"), []invHost{{name: "matrix.example.com", url: s.srv.URL, token: s.token, users: users}})
	if err != nil {
		return p, err
	}
	varsFile := n == b.cfg.varsFileN
	var vfInv, usersFile string
	if varsFile {
		if vfInv, err = writeInventory(filepath.Join(dir, "inventory-varsfile"), []invHost{{name: "matrix.example.com", url: s.srv.URL, token: s.token}}); err != nil {
			return p, err
		}
		usersFile = filepath.Join(dir, "users.yml")
		f, err := os.Create(usersFile)
		if err != nil {
			return p, err
		}
		f.WriteString("---\n")
		writeUsersYAML(f, users)
		if err := f.Close(); err != nil {
			return p, err
		}
	}
	withModuleTask := n <= b.cfg.moduleTaskMax
	fmt.Printf("==> no-op at %s declared users on %s accounts: %d interleaved runs of each\n", commas(n), commas(s.accounts), repeat)
	client := benchClient()
	var floorPlay, read, role, moduleTask, binary, vfFloor, vfRole []time.Duration
	var binRSS, roleRSS []int64
	bin := b.binaryPath()
	// One run first, not measured: the first run after writing the
	// inventory reads cold files. Up to 10,000 declared users the role
	// runs once too (above, that run alone takes minutes today).
	warm := []string{"floor.yml", "scale-role.yml"}
	if n > 10_000 {
		warm = warm[:1]
	}
	for _, pb := range warm {
		if _, err := b.ansibleRun(inv, pb, nil); err != nil {
			return p, err
		}
	}
	for rep := 0; rep < repeat; rep++ {
		r, err := b.ansibleRun(inv, "floor.yml", nil)
		if err != nil {
			return p, err
		}
		floorPlay = append(floorPlay, r.wall)

		start := time.Now()
		names, pages, err := readList(client, s.srv.URL, s.token)
		if err != nil {
			return p, err
		}
		read = append(read, time.Since(start))
		if len(names) != s.accounts {
			return p, fmt.Errorf("the plain read found %d accounts, the server has %d", len(names), s.accounts)
		}
		p.pages = pages

		if r, err = b.ansibleRun(inv, "scale-role.yml", nil); err != nil {
			return p, err
		}
		if err := recapUnchanged(r.out, 1); err != nil {
			return p, fmt.Errorf("the role at %d declared users: %w", n, err)
		}
		role = append(role, r.wall)
		roleRSS = append(roleRSS, r.maxRSS)

		if withModuleTask {
			if r, err = b.ansibleRun(inv, "module-task.yml", nil); err != nil {
				return p, err
			}
			if err := recapUnchanged(r.out, 1); err != nil {
				return p, fmt.Errorf("the module task at %d declared users: %w", n, err)
			}
			moduleTask = append(moduleTask, r.wall)
		}

		br, _, err := b.runBinary(bin, s.srv.URL, s.token, users, false)
		if err != nil {
			return p, err
		}
		binary = append(binary, br.wall)
		binRSS = append(binRSS, br.maxRSS)

		if varsFile {
			if r, err = b.ansibleRun(vfInv, "floor-varsfile.yml", nil, "-e", "bench_vars_file="+usersFile); err != nil {
				return p, err
			}
			vfFloor = append(vfFloor, r.wall)
			if r, err = b.ansibleRun(vfInv, "role-varsfile.yml", nil, "-e", "bench_vars_file="+usersFile); err != nil {
				return p, err
			}
			if err := recapUnchanged(r.out, 1); err != nil {
				return p, fmt.Errorf("the role with vars_files: %w", err)
			}
			vfRole = append(vfRole, r.wall)
		}
		fmt.Printf("    run %d: floor playbook %s + read %s; role %s", rep+1, secs(floorPlay[rep]), secs(read[rep]), secs(role[rep]))
		if withModuleTask {
			fmt.Printf("; module task %s", secs(moduleTask[rep]))
		}
		fmt.Printf("; binary %s (%s)", secs(binary[rep]), mb(binRSS[rep]))
		if varsFile {
			fmt.Printf("; vars_files: floor playbook %s, role %s", secs(vfFloor[rep]), secs(vfRole[rep]))
		}
		fmt.Println()
	}
	p.floorPlay, p.read, p.role, p.binary = medianDur(floorPlay), medianDur(read), medianDur(role), medianDur(binary)
	if withModuleTask {
		p.moduleTask = medianDur(moduleTask)
	}
	if varsFile {
		p.vfFloorPlay, p.vfRole = medianDur(vfFloor), medianDur(vfRole)
	}
	p.binaryRSS, p.roleRSS = maxInt64(binRSS), maxInt64(roleRSS)
	fmt.Printf("    medians: role %s against the floor %s (%.2f×)\n", secs(p.role), secs(p.floor()), ratioOf(p.role, p.floor()))
	return p, nil
}

// recapUnchanged checks the play recap: hosts hosts, none changed or failed.
func recapUnchanged(out []byte, hosts int) error {
	ok := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, " ok=") && strings.Contains(line, " changed=") {
			if !strings.Contains(line, " changed=0 ") || !strings.Contains(line, " failed=0 ") || !strings.Contains(line, " unreachable=0 ") {
				return fmt.Errorf("not a no-op: %s", strings.TrimSpace(line))
			}
			ok++
		}
	}
	if ok != hosts {
		return fmt.Errorf("%d hosts in the play recap, want %d:\n%s", ok, hosts, tail(string(out), 20))
	}
	return nil
}

func ratioOf(a, b time.Duration) float64 { return float64(a) / float64(b) }

// scalePart measures the curve: the declared counts up to 10,000 on a server
// of about 10,500 accounts (the issue's), larger ones on a server of
// 105,000. The profile part runs on the first server too.
func (b *bench) scalePart(doScale, doProfile bool) error {
	var small, big []int
	for _, n := range b.cfg.scaleDeclared {
		if n <= 10_000 {
			small = append(small, n)
		} else {
			big = append(big, n)
		}
	}
	if doProfile && !contains(small, b.cfg.profileN) && b.cfg.profileN <= 10_000 {
		small = append(small, 0) // only for the server
	}
	if len(small) > 0 {
		s, err := b.startFixture("synapse-scale-10k", 10_000)
		if err != nil {
			return err
		}
		defer s.srv.Stop()
		b.fixtures = append(b.fixtures, s)
		if doScale {
			for _, n := range small {
				if n == 0 {
					continue
				}
				p, err := b.measureScale(s, n, b.cfg.scaleRepeat)
				if err != nil {
					return err
				}
				b.scale = append(b.scale, p)
			}
		}
		if doProfile {
			if err := b.profile(s, b.cfg.profileN); err != nil {
				return err
			}
		}
	}
	if doScale {
		for _, n := range big {
			s, err := b.startFixture(fmt.Sprintf("synapse-scale-%d", n), n)
			if err != nil {
				return err
			}
			b.fixtures = append(b.fixtures, s)
			p, err := b.measureScale(s, n, b.cfg.bigRepeat)
			s.srv.Stop()
			if err != nil {
				return err
			}
			b.scale = append(b.scale, p)
		}
	}
	return nil
}

func contains(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

// scaleReport renders the scale section.
func (b *bench) scaleReport() string {
	var s strings.Builder
	fmt.Fprintf(&s, "## At scale: the no-op against the floor\n\n")
	fmt.Fprintf(&s, "Issue 22's measurement. The users are declared where matrix-docker-ansible-deploy users declare them, in the\n")
	fmt.Fprintf(&s, "inventory's `host_vars/<host>/vars.yml` (`matrix_users_list`, each entry with `username` and `password`, the\n")
	fmt.Fprintf(&s, "server's admins with `admin: true`), against a Synapse holding a fixture written into its database: the declared\n")
	fmt.Fprintf(&s, "accounts plus 5%% more (2%% deactivated, 3%% bridge puppets with an `appservice_id`). **The floor** is what any\n")
	fmt.Fprintf(&s, "no-op must cost: a one-task playbook (`ansible.builtin.command: \"true\"`) over the same inventory, plus one plain\n")
	fmt.Fprintf(&s, "sequential read of the server's user list (pages of 1,000, as the module reads it, by a plain Go client). Each\n")
	fmt.Fprintf(&s, "figure is the median of interleaved runs (floor playbook, read, role, module task, binary, one after the other).\n")
	fmt.Fprintf(&s, "The floor's task runs `command`, a Python module (AnsiballZ, a Python start on the target); the role's module is our\n")
	fmt.Fprintf(&s, "binary, so at a few hundred users the role can come out below the floor. \"The module task without the role\" is\n")
	fmt.Fprintf(&s, "`mxadmin.synapse.matrix_user` called directly with `users: \"{{ matrix_users_list }}\"`.\n\n")
	for _, f := range b.fixtures {
		fmt.Fprintf(&s, "- Fixture of %s accounts (%d admins, %s deactivated, %s bridge puppets) written and Synapse restarted in %s; the admin API then lists %s accounts.\n",
			commas(f.fixture.Total()), f.fixture.Admins, commas(f.fixture.Deactivated), commas(f.fixture.AppServiceUsers), f.build.Round(10*time.Millisecond), commas(f.accounts))
	}
	fmt.Fprintf(&s, "\n| declared users | accounts on the server | role no-op | the floor (playbook + read) | ratio | per declared user above the floor | the module task without the role (ratio) | runs |\n")
	fmt.Fprintf(&s, "|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range b.scale {
		mt := "—"
		if p.moduleTask > 0 {
			mt = fmt.Sprintf("%s (%.2f×)", secs(p.moduleTask), ratioOf(p.moduleTask, p.floor()))
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s (%s + %s) | %.2f× | %.0f µs | %s | %d |\n", commas(p.declared), commas(p.accounts), secs(p.role),
			secs(p.floor()), secs(p.floorPlay), secs(p.read), ratioOf(p.role, p.floor()), float64(perUser(p.role, p.floor(), p.declared).Microseconds()), mt, p.runs)
	}
	fmt.Fprintf(&s, "\nThe module binary alone (args file in, JSON out, as Ansible runs a binary module without our action plugin), against the\n")
	fmt.Fprintf(&s, "plain read of the same list; peak RSS from `wait4`'s rusage (`ru_maxrss`), the largest of the runs:\n\n")
	fmt.Fprintf(&s, "| declared users | binary alone | plain read (%s) | ratio | binary peak RSS | `ansible-playbook` (controller process) peak RSS, role run |\n", "pages of 1,000")
	fmt.Fprintf(&s, "|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range b.scale {
		fmt.Fprintf(&s, "| %s | %s | %s (%d pages) | %.2f× | %s | %s |\n", commas(p.declared), secs(p.binary), secs(p.read), p.pages,
			ratioOf(p.binary, p.read), mb(p.binaryRSS), mb(p.roleRSS))
	}
	for _, p := range b.scale {
		if p.vfRole > 0 {
			fmt.Fprintf(&s, "\n`vars_files` instead of host_vars (the same %s users in a file named by the play's `vars_files`, the floor\n", commas(p.declared))
			fmt.Fprintf(&s, "playbook given the same `vars_files`): the role %s against the floor %s (%s + %s), **%.2f×**; with host_vars %.2f×.\n",
				secs(p.vfRole), secs(p.vfFloor()), secs(p.vfFloorPlay), secs(p.read), ratioOf(p.vfRole, p.vfFloor()), ratioOf(p.role, p.floor()))
		}
	}
	var checks []string
	for _, p := range b.scale {
		switch p.declared {
		case 500:
			checks = append(checks, fmt.Sprintf("at 500 declared users %.2f× (target ≤ 1.15×: %s)", ratioOf(p.role, p.floor()), check(ratioOf(p.role, p.floor()) <= 1.15)))
		case 10_000:
			checks = append(checks, fmt.Sprintf("at 10,000 %.2f× (target ≤ 1.5×: %s)", ratioOf(p.role, p.floor()), check(ratioOf(p.role, p.floor()) <= 1.5)))
		case 100_000:
			checks = append(checks, fmt.Sprintf("binary peak RSS at 100,000 declared users %s (target < 200 MB: %s)", mb(p.binaryRSS), check(p.binaryRSS < 200_000_000)))
		}
	}
	if len(checks) > 0 {
		fmt.Fprintf(&s, "\nAgainst issue 22's targets: %s.\n", strings.Join(checks, "; "))
	}
	if len(b.scale) > 1 {
		lo, hi := b.scale[0], b.scale[len(b.scale)-1]
		for _, p := range b.scale {
			if p.declared == 1000 {
				lo = p
			}
		}
		a, z := perUser(lo.role, lo.floor(), lo.declared), perUser(hi.role, hi.floor(), hi.declared)
		fmt.Fprintf(&s, "The cost per declared user above the floor goes from %.0f µs at %s to %.0f µs at %s (%.2f×; target: flat).\n",
			float64(a.Microseconds()), commas(lo.declared), float64(z.Microseconds()), commas(hi.declared), float64(z)/float64(a))
	}
	fmt.Fprintf(&s, "\nThe machine's load average (1 minute; other jobs share it) %s.\n", b.loads["scale"])
	fmt.Fprintf(&s, "\nReproduce only this section: `make bench BENCH_FLAGS='-only scale'` (`-scale-declared 500,1000,10000,100000`).\n")
	return s.String()
}

func check(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}
