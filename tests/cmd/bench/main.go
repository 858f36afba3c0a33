// Command bench measures, in one run on one machine, the ways of creating
// and keeping Synapse users: register_new_matrix_user once per user (what
// --tags=register-user does), matrix_user once per user in an Ansible loop,
// and the matrix_users role with the whole list in one module run. It starts
// its own Synapse with Synapse's default bcrypt cost (12), counts every HTTP
// request and every server-side password hash through a proxy, prints a
// table and writes it to docs/benchmarks.md. 'make bench' runs it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

type config struct {
	create      int
	noop        int
	out         string
	concurrency int
	repeat      int
	only        string
	// scale and profile
	scaleDeclared []int
	scaleRepeat   int
	bigRepeat     int
	moduleTaskMax int
	varsFileN     int
	profileN      int
	// creation at scale
	createNoPW, createPW, createSeqSample int
	// many homeservers
	hosts, hostUsers, hostsRepeat int
}

// parts are the benchmark's parts, in the order they run; -only picks some.
var parts = []string{"basic", "ssh", "scale", "profile", "create", "hosts"}

func main() {
	var cfg config
	flag.IntVar(&cfg.create, "n", 100, "users created by each approach")
	flag.IntVar(&cfg.noop, "noop-n", 1000, "users in the no-op reruns")
	flag.IntVar(&cfg.concurrency, "concurrency", 8, "concurrency of the role's module run")
	flag.IntVar(&cfg.repeat, "repeat", 7, "runs of each short no-op measurement (the median is reported)")
	flag.StringVar(&cfg.out, "out", "docs/benchmarks.md", "where to write the results (relative to the repository root; empty: do not write)")
	flag.StringVar(&cfg.only, "only", "", "run only these parts, comma-separated ("+strings.Join(parts, ", ")+"), and replace only their sections of the results file")
	declaredFlag := flag.String("scale-declared", "500,1000,10000,100000", "declared users of the scale curve (up to 10,000 on a server of 10,500 accounts, more on a server of that many plus 5%)")
	flag.IntVar(&cfg.scaleRepeat, "scale-repeat", 5, "interleaved runs of each scale measurement up to 10,000 declared users")
	flag.IntVar(&cfg.bigRepeat, "big-repeat", 3, "interleaved runs of each scale measurement above 10,000 declared users")
	flag.IntVar(&cfg.moduleTaskMax, "module-task-max", 10000, "measure the module task alone (without the role) up to this many declared users")
	flag.IntVar(&cfg.varsFileN, "vars-file-n", 10000, "declared users of the vars_files variant (0: none)")
	flag.IntVar(&cfg.profileN, "profile-n", 10000, "declared users of the profile (at most 10,000)")
	flag.IntVar(&cfg.createNoPW, "create-nopw", 10000, "users created without passwords by each way")
	flag.IntVar(&cfg.createPW, "create-pw", 1000, "users created with passwords by each way")
	flag.IntVar(&cfg.createSeqSample, "create-seq-sample", 200, "sequential PUTs with a password actually sent (the time is scaled to -create-pw)")
	flag.IntVar(&cfg.hosts, "hosts", 10, "homeservers of the many-homeserver part")
	flag.IntVar(&cfg.hostUsers, "host-users", 1000, "fixture accounts of each of those homeservers")
	flag.IntVar(&cfg.hostsRepeat, "hosts-repeat", 3, "interleaved no-op runs of the many-homeserver part")
	flag.Parse()
	for _, f := range strings.Split(*declaredFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "-scale-declared: %q is not a positive number\n", f)
			os.Exit(2)
		}
		cfg.scaleDeclared = append(cfg.scaleDeclared, n)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		os.Exit(1)
	}
}

// row is one measured run.
type row struct {
	group    string
	approach string
	users    int
	wall     time.Duration
	requests int
	hashes   int
	logouts  int
	note     string
	// reference rows (Ansible's floor, the module alone) are shown for
	// comparison but are not approaches, so they take no part in ratios.
	reference bool
}

type bench struct {
	cfg         config
	root, work  string
	srv         *synapsetest.Server
	proxy       *synapsetest.Proxy
	token       string
	collections string
	venv        string
	rows        []row
	ssh         []sshRow
	// sshPairRatio is the median of rerun/ping over interleaved pairs.
	sshPairRatio float64
	// the scale, profile, creation and many-homeserver parts
	fixtures   []*scaleServer
	scale      []scalePoint
	prof       *profResult
	creates    []createScale
	createBase int
	createDB   string
	hostsRes   *hostsResult
	// loads is the machine's load average at the start and end of each
	// part (other jobs share the machine).
	loads map[string]string
}

func run(cfg config) error {
	root, err := synapsetest.RepoRoot()
	if err != nil {
		return err
	}
	selected := map[string]bool{}
	if cfg.only == "" {
		for _, p := range parts {
			selected[p] = true
		}
	} else {
		for _, p := range strings.Split(cfg.only, ",") {
			p = strings.TrimSpace(p)
			if !slices.Contains(parts, p) {
				return fmt.Errorf("-only: no part %q (the parts: %s)", p, strings.Join(parts, ", "))
			}
			selected[p] = true
		}
	}
	work, err := os.MkdirTemp("", "mxadmin-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &bench{cfg: cfg, root: root, work: work, venv: os.Getenv("MXADMIN_VENV"), loads: map[string]string{}}
	if b.venv == "" {
		b.venv = filepath.Join(root, ".venv")
	}
	if b.collections, err = synapsetest.LinkCollection(filepath.Join(work, "collections"), root); err != nil {
		return err
	}
	// The PostgreSQL server of SYNAPSE_DB=postgres, if one was started.
	defer synapsetest.StopAll()

	fmt.Println("==> measuring one bcrypt hash at Synapse's default cost (12), as Synapse computes it")
	hashTime, err := b.bcryptTime()
	if err != nil {
		return err
	}
	fmt.Printf("one hash: %s\n", hashTime.Round(time.Millisecond))

	fresh := map[string]string{}
	took := map[string]time.Duration{}
	var noopUsers []map[string]any
	// A part renders its sections once it is over (with its load figures).
	var pending []func() string
	steps := []struct {
		part string
		f    func() error
	}{
		{"basic", func() error {
			users, floor, err := b.basicPart(hashTime)
			noopUsers = users
			if err == nil {
				pending = append(pending, func() string { return b.report(hashTime, floor) })
			}
			return err
		}},
		{"ssh", func() error {
			if noopUsers == nil {
				if noopUsers, err = b.sshSetup(); err != nil {
					return err
				}
			}
			if err := b.sshBench(noopUsers); err != nil {
				return err
			}
			pending = append(pending, func() string { return b.sshReport() })
			return nil
		}},
		{"scale", func() error {
			if !selected["scale"] && !selected["profile"] {
				return nil
			}
			if err := b.scalePart(selected["scale"], selected["profile"]); err != nil {
				return err
			}
			if selected["scale"] {
				pending = append(pending, func() string { return b.scaleReport() })
			}
			if selected["profile"] {
				pending = append(pending, func() string { return b.profileReport() })
			}
			return nil
		}},
		{"create", func() error {
			if err := b.createPart(); err != nil {
				return err
			}
			pending = append(pending, func() string { return b.createReport() })
			return nil
		}},
		{"hosts", func() error {
			if err := b.hostsPart(); err != nil {
				return err
			}
			pending = append(pending, func() string { return b.hostsReport() })
			return nil
		}},
	}
	for _, step := range steps {
		if !selected[step.part] && step.part != "scale" {
			continue
		}
		start, load := time.Now(), loadAvg()
		b.loads[step.part] = "at the start " + load
		if err := step.f(); err != nil {
			return fmt.Errorf("part %s: %w", step.part, err)
		}
		b.loads[step.part] += ", at the end " + loadAvg()
		for _, render := range pending {
			addSections(fresh, render())
		}
		pending = nil
		if step.part == "ssh" && b.srv != nil {
			// The basic part's Synapse served the SSH part too.
			b.srv.Stop()
			b.proxy.Close()
			b.srv = nil
		}
		if selected[step.part] || step.part == "scale" && selected["profile"] {
			took[step.part] = time.Since(start)
			fmt.Printf("==> part %s took %s\n", step.part, took[step.part].Round(time.Second))
		}
	}
	if b.srv != nil {
		b.srv.Stop()
		b.proxy.Close()
	}
	addSections(fresh, b.header(hashTime))
	var old []byte
	if cfg.out != "" {
		if old, err = os.ReadFile(filepath.Join(root, cfg.out)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	report := mergeReport(string(old), fresh)
	fmt.Println()
	fmt.Println(report)
	if cfg.out != "" {
		path := filepath.Join(root, cfg.out)
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Printf("written to %s\n", path)
	}
	for _, p := range parts {
		if d, ok := took[p]; ok {
			fmt.Printf("part %s took %s\n", p, d.Round(time.Second))
		}
	}
	return nil
}

// basicPart is the first benchmark: creating 100 users three ways, the
// no-op rerun of 1,000, the password "always" rerun. It leaves its Synapse
// running (b.srv) with the no-op users for the SSH part.
func (b *bench) basicPart(hashTime time.Duration) ([]map[string]any, time.Duration, error) {
	cfg := b.cfg
	var err error
	fmt.Println("==> starting Synapse with bcrypt_rounds 12")
	b.srv, err = synapsetest.Start(synapsetest.Config{BcryptRounds: 12, Dir: filepath.Join(b.work, "synapse")})
	if err != nil {
		return nil, 0, err
	}
	b.proxy = synapsetest.NewProxy(b.srv.URL, "")
	if b.token, err = b.srv.Register("admin", "bench-admin-password", true); err != nil {
		return nil, 0, err
	}

	n := cfg.create
	fmt.Printf("==> creating %d users each way\n", n)
	if err := b.measure("create", "register_new_matrix_user, once per user (--tags=register-user)", n, "", func() error {
		for i := 1; i <= n; i++ {
			name := fmt.Sprintf("reg-%04d", i)
			cmd := exec.Command(filepath.Join(b.venv, "bin", "register_new_matrix_user"), "-u", name, "-p", "pw-"+name, "--no-admin", "-k", b.srv.SharedSecret, b.proxy.URL)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("register_new_matrix_user %s: %v\n%s", name, err, out)
			}
		}
		return nil
	}); err != nil {
		return nil, 0, err
	}
	if err := b.measure("create", "matrix_user, one task per user (Ansible loop)", n, "", func() error {
		return b.playbook("loop.yml", map[string]any{"matrix_users_list": users("loop", n, true)})
	}); err != nil {
		return nil, 0, err
	}
	if err := b.measure("create", "matrix_users role, the whole list in one module run", n, "", func() error {
		return b.playbook("role.yml", map[string]any{"matrix_users_list": users("role", n, true), "matrix_users_concurrency": cfg.concurrency})
	}); err != nil {
		return nil, 0, err
	}
	floor := time.Duration(float64(n) * float64(hashTime) / float64(runtime.NumCPU()))

	m := cfg.noop
	fmt.Printf("==> creating %d more users (not measured), then rerunning with nothing to do\n", m)
	noopUsers := users("noop", m, false)
	if err := b.playbook("role.yml", map[string]any{"matrix_users_list": noopUsers, "matrix_users_concurrency": cfg.concurrency}); err != nil {
		return nil, 0, err
	}
	// The no-op runs take a second or two, where a busy neighbour on the
	// host shows: each is run several times, interleaved, and the median
	// is reported.
	noopRuns := []struct {
		approach string
		users    int
		ref      bool
		f        func() error
	}{
		// The same declaration is loaded as for the role, as it would be
		// from the inventory: the reference is Ansible's start-up with that
		// inventory and one module task.
		{"reference: one-task playbook (matrix_user, one user), same inventory", 1, true, func() error {
			return b.playbook("single.yml", map[string]any{"bench_user": "noop-0001", "matrix_users_list": noopUsers})
		}},
		{"matrix_users role, no-op rerun", m, false, func() error {
			return b.playbook("role.yml", map[string]any{"matrix_users_list": noopUsers, "matrix_users_concurrency": cfg.concurrency})
		}},
		{"reference: the role's module alone (binary, args file in, JSON out)", m, true, func() error {
			return b.module(noopUsers)
		}},
	}
	samples := make([][]row, len(noopRuns))
	for rep := 0; rep < cfg.repeat; rep++ {
		for i, nr := range noopRuns {
			if err := b.measure("noop", nr.approach, nr.users, "", nr.f); err != nil {
				return nil, 0, err
			}
			samples[i] = append(samples[i], b.rows[len(b.rows)-1])
			b.rows = b.rows[:len(b.rows)-1]
		}
	}
	for i, nr := range noopRuns {
		r := median(samples[i])
		r.reference = nr.ref
		r.note = fmt.Sprintf("median of %d runs", len(samples[i]))
		b.rows = append(b.rows, r)
	}
	if err := b.measure("noop", "matrix_user, one task per user (Ansible loop), no-op rerun", m, "", func() error {
		return b.playbook("loop.yml", map[string]any{"matrix_users_list": noopUsers})
	}); err != nil {
		return nil, 0, err
	}

	fmt.Printf("==> rerunning the role's %d users with update_password: always and unchanged passwords\n", n)
	sessions, err := b.loginSome(n)
	if err != nil {
		return nil, 0, err
	}
	always := users("role", n, true)
	for _, u := range always {
		u["update_password"] = "always"
	}
	if err := b.measure("always", "matrix_users role, update_password: always, passwords unchanged", n, "", func() error {
		return b.playbook("role.yml", map[string]any{"matrix_users_list": always, "matrix_users_concurrency": cfg.concurrency})
	}); err != nil {
		return nil, 0, err
	}
	valid := 0
	for _, token := range sessions {
		if b.srv.TokenValid(token) {
			valid++
		}
	}
	b.rows[len(b.rows)-1].note = fmt.Sprintf("%d of %d sessions opened before the run still valid after it", valid, len(sessions))

	return noopUsers, floor, nil
}

// measure times f and records what it cost the server.
func (b *bench) measure(group, approach string, users int, note string, f func() error) error {
	fmt.Printf("--> %s (%d users)\n", approach, users)
	b.proxy.Reset()
	start := time.Now()
	if err := f(); err != nil {
		return err
	}
	r := row{group: group, approach: approach, users: users, wall: time.Since(start),
		requests: len(b.proxy.Requests()), hashes: b.proxy.Hashes(), logouts: b.proxy.Logouts(), note: note}
	fmt.Printf("    %s, %d requests, %d server-side hashes\n", r.wall.Round(10*time.Millisecond), r.requests, r.hashes)
	b.rows = append(b.rows, r)
	return nil
}

// median returns the row with the median wall time.
func median(rows []row) row {
	sorted := append([]row(nil), rows...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].wall < sorted[j].wall })
	return sorted[len(sorted)/2]
}

// users declares n users named prefix-0001...
func users(prefix string, n int, password bool) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		name := fmt.Sprintf("%s-%04d", prefix, i+1)
		out[i] = map[string]any{"username": name}
		if password {
			out[i]["password"] = "pw-" + name
		}
	}
	return out
}

// playbook runs one of the benchmark's playbooks against the proxy.
func (b *bench) playbook(name string, vars map[string]any) error {
	return b.playbookOn("inventory/hosts.yml", nil, name, vars)
}

// playbookOn runs a playbook with an inventory and more environment.
func (b *bench) playbookOn(inventory string, env []string, name string, vars map[string]any) error {
	vars["bench_url"] = b.proxy.URL
	vars["bench_token"] = b.token
	vars["matrix_users_homeserver_url"] = b.proxy.URL
	vars["matrix_users_admin_token"] = b.token
	data, err := json.Marshal(vars)
	if err != nil {
		return err
	}
	varsFile := filepath.Join(b.work, "vars.json")
	if err := os.WriteFile(varsFile, data, 0o600); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(b.venv, "bin", "ansible-playbook"), "-i", inventory, name, "-e", "@"+varsFile)
	cmd.Dir = filepath.Join(b.root, "tests", "cmd", "bench", "playbooks")
	cmd.Env = append(os.Environ(), "ANSIBLE_COLLECTIONS_PATH="+b.collections, "ANSIBLE_NOCOLOR=1",
		"ANSIBLE_PYTHON_INTERPRETER="+filepath.Join(b.venv, "bin", "python"), "ANSIBLE_CONFIG=")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ansible-playbook %s: %v\n%s", name, err, tail(string(out), 40))
	}
	return nil
}

// module runs the module binary directly, as Ansible does.
func (b *bench) module(users []map[string]any) error {
	bin := filepath.Join(b.root, "plugins", "modules", fmt.Sprintf("__mxadmin_synapse_%s_%s", runtime.GOOS, runtime.GOARCH))
	args, err := json.Marshal(map[string]any{"_mxadmin_module": "matrix_user", "homeserver_url": b.proxy.URL,
		"admin_token": b.token, "users": users, "concurrency": b.cfg.concurrency})
	if err != nil {
		return err
	}
	path := filepath.Join(b.work, "args.json")
	if err := os.WriteFile(path, args, 0o600); err != nil {
		return err
	}
	out, err := exec.Command(bin, path).Output()
	if err != nil {
		return fmt.Errorf("module: %v\n%s", err, out)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil || res["failed"] == true || res["changed"] == true {
		return fmt.Errorf("the no-op module run did not report unchanged: %s", tail(string(out), 5))
	}
	return nil
}

// loginSome opens a session for a few users, to check afterwards that an
// unchanged password logged nobody out.
func (b *bench) loginSome(n int) ([]string, error) {
	var tokens []string
	for i := 1; i <= n && i <= 5; i++ {
		name := fmt.Sprintf("role-%04d", i)
		token, err := b.srv.Login(name, "pw-"+name)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, token)
	}
	return tokens, nil
}

// bcryptTime measures one bcrypt hash at cost 12 with the library Synapse
// uses, in the project virtualenv.
func (b *bench) bcryptTime() (time.Duration, error) {
	script := `import bcrypt, time
salt = bcrypt.gensalt(12)
bcrypt.hashpw(b"warm-up", salt)
start = time.perf_counter()
for _ in range(5):
    bcrypt.hashpw(b"benchmark-password", salt)
print((time.perf_counter() - start) / 5)`
	out, err := exec.Command(filepath.Join(b.venv, "bin", "python"), "-c", script).Output()
	if err != nil {
		return 0, fmt.Errorf("measuring bcrypt: %v", err)
	}
	var secs float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &secs); err != nil {
		return 0, err
	}
	return time.Duration(secs * float64(time.Second)), nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
