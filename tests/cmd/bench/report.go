package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// header is the top of docs/benchmarks.md and its Machine section.
func (b *bench) header(hashTime time.Duration) string {
	var s strings.Builder
	fmt.Fprintf(&s, "# Benchmarks\n\n")
	fmt.Fprintf(&s, "Written by `make bench` (tests/cmd/bench), last on %s. Every number comes from one run on one machine:\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&s, "absolute times drift between runs and machines, ratios much less. Rerun it to get yours.\n\n")
	fmt.Fprintf(&s, "## Machine\n\n")
	fmt.Fprintf(&s, "- CPU: %s, %d cores (GOMAXPROCS %d)\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(&s, "- OS: %s\n", strings.TrimSpace(output("uname", "-srm")))
	db := "SQLite"
	if synapsetest.DB() == "postgres" {
		db = "PostgreSQL"
	}
	fmt.Fprintf(&s, "- Synapse %s (%s, bcrypt_rounds 12, on loopback), ansible-core %s, Python %s, %s\n",
		b.pyOutput("import synapse; print(synapse.__version__)"), db, b.pyOutput("import ansible.release as r; print(r.__version__)"),
		b.pyOutput("import platform; print(platform.python_version())"), runtime.Version())
	fmt.Fprintf(&s, "- One bcrypt hash at cost 12 (Python bcrypt, as Synapse hashes), at the start of the latest run: %s\n\n", hashTime.Round(time.Millisecond))

	return s.String()
}

// report renders the basic part's results as Markdown, each target of the
// benchmark checked against the numbers.
func (b *bench) report(hashTime, floor time.Duration) string {
	var s strings.Builder
	fmt.Fprintf(&s, "## Results\n\n")
	fmt.Fprintf(&s, "HTTP requests and server-side password hashes are counted by a proxy between the tools and Synapse\n")
	fmt.Fprintf(&s, "(a hash: each shared-secret registration, each password login, each user PUT with a password).\n\n")
	fmt.Fprintf(&s, "| scenario | approach | users | wall time | HTTP requests | server hashes | ratio to fastest | note |\n")
	fmt.Fprintf(&s, "|---|---|---:|---:|---:|---:|---:|---|\n")
	names := map[string]string{"create": "create", "noop": "no-op rerun", "always": "password `always`, unchanged"}
	for _, group := range []string{"create", "noop", "always"} {
		fastest := time.Duration(0)
		for _, r := range b.rows {
			if r.group == group && !r.reference && (fastest == 0 || r.wall < fastest) {
				fastest = r.wall
			}
		}
		for _, r := range b.rows {
			if r.group != group {
				continue
			}
			ratio := fmt.Sprintf("%.2f×", float64(r.wall)/float64(fastest))
			if r.reference {
				ratio = "—"
			}
			fmt.Fprintf(&s, "| %s | %s | %d | %s | %d | %d | %s | %s |\n", names[group], r.approach, r.users,
				r.wall.Round(10*time.Millisecond), r.requests, r.hashes, ratio, r.note)
		}
	}

	get := func(group, prefix string) row {
		for _, r := range b.rows {
			if r.group == group && strings.HasPrefix(r.approach, prefix) {
				return r
			}
		}
		return row{}
	}
	role := get("create", "matrix_users role")
	reg := get("create", "register_new_matrix_user")
	loop := get("create", "matrix_user, one task")
	single := get("noop", "reference: one-task playbook")
	roleNoop := get("noop", "matrix_users role")
	module := get("noop", "reference: the role's module alone")
	loopNoop := get("noop", "matrix_user, one task")
	always := get("always", "matrix_users role")

	fmt.Fprintf(&s, "\n## Against the targets\n\n")
	ratio := float64(role.wall) / float64(floor)
	fmt.Fprintf(&s, "- Creating %d users: the server-side floor is %d × %s / %d cores = %s; the role took %s, %.2f× the floor (target ≤ 1.3×: %s). "+
		"register_new_matrix_user took %.1f× as long as the role, the Ansible loop %.1f×.\n",
		role.users, role.users, hashTime.Round(time.Millisecond), runtime.NumCPU(), floor.Round(10*time.Millisecond),
		role.wall.Round(10*time.Millisecond), ratio, check(ratio <= 1.3), float64(reg.wall)/float64(role.wall), float64(loop.wall)/float64(role.wall))
	noopRatio := float64(roleNoop.wall) / float64(single.wall)
	fmt.Fprintf(&s, "- No-op rerun of %d declared users: the whole `ansible-playbook` run took %s, %.2f× the %s of a one-task playbook with the same inventory (target ≤ 1.5×: %s); "+
		"the module alone took %s (target < 0.5 s: %s) and sent %d HTTP requests; the loop took %s (%.0f× the role).\n",
		roleNoop.users, roleNoop.wall.Round(10*time.Millisecond), noopRatio, single.wall.Round(10*time.Millisecond), check(noopRatio <= 1.5),
		module.wall.Round(time.Millisecond), check(module.wall < 500*time.Millisecond), module.requests,
		loopNoop.wall.Round(10*time.Millisecond), float64(loopNoop.wall)/float64(roleNoop.wall))
	fmt.Fprintf(&s, "- Password `always` rerun of %d users with unchanged passwords: %d server-side hashes and %d logouts (target 0 and 0: %s); %s. "+
		"The module compared the %d passwords with the stored hashes itself, on all cores, in %s.\n",
		always.users, always.hashes, always.logouts, check(always.hashes == 0 && always.logouts == 0), always.note, always.users, always.wall.Round(10*time.Millisecond))
	fmt.Fprintf(&s, "\nReproduce: `make bench` (flags: `make bench BENCH_FLAGS='-n 100 -noop-n 1000'`).\n")
	return s.String()
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func output(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	return string(out)
}

func (b *bench) pyOutput(code string) string {
	return strings.TrimSpace(output(filepath.Join(b.venv, "bin", "python"), "-c", code))
}

func (b *bench) cpus() int { return runtime.NumCPU() }

// sectionOrder is the order of the sections of docs/benchmarks.md; "" is
// the top (title, date) before the first one.
var sectionOrder = []string{"", "Machine", "Results", "Against the targets", "At scale: the no-op against the floor",
	"Where the time goes: a profile of the no-op", "Issue 22 baseline (2026-12-03), read by hand", "Creating users at scale",
	"Many homeservers", "Over SSH"}

// splitSections splits Markdown at its "## " headings: title → the
// section's text, heading included.
func splitSections(text string) (map[string]string, []string) {
	out := map[string]string{}
	var order []string
	title, cur := "", strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			if _, seen := out[title]; !seen {
				order = append(order, title)
			}
			out[title] += cur.String()
		}
		cur.Reset()
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.HasPrefix(line, "## ") {
			flush()
			title = strings.TrimSpace(strings.TrimPrefix(line, "## "))
		}
		cur.WriteString(line)
	}
	flush()
	return out, order
}

// addSections adds the sections of a rendered part.
func addSections(into map[string]string, text string) {
	sections, _ := splitSections(text)
	for title, body := range sections {
		into[title] = strings.TrimRight(body, "\n") + "\n"
	}
}

// mergeReport replaces the sections of the old results file that this run
// measured and keeps the others, in sectionOrder.
func mergeReport(old string, fresh map[string]string) string {
	kept, oldOrder := splitSections(old)
	var out []string
	emit := func(title string) {
		if body, ok := fresh[title]; ok {
			out = append(out, strings.TrimRight(body, "\n")+"\n")
		} else if body, ok := kept[title]; ok {
			out = append(out, strings.TrimRight(body, "\n")+"\n")
		}
	}
	for _, title := range sectionOrder {
		emit(title)
	}
	for _, title := range oldOrder {
		if !slices.Contains(sectionOrder, title) {
			emit(title)
		}
	}
	return strings.Join(out, "\n")
}
