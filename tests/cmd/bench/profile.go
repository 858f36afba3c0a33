package main

// Where the time of a no-op goes: ansible-playbook under cProfile (the
// controller process and each worker process it forks) and the module
// binary under pprof, at 10,000 declared users.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// profileWrapper runs ansible-playbook's main under cProfile and patches
// the worker process (forked, so the patch carries over) to profile each
// task in its own file.
const profileWrapper = `
import cProfile, os, sys
out = os.environ["MXADMIN_PROFILE_DIR"]
from ansible.executor.process import worker
_run = worker.WorkerProcess._run
def profiled(self):
    p = cProfile.Profile()
    p.enable()
    try:
        return _run(self)
    finally:
        p.disable()
        name = "".join(c if c.isalnum() else "_" for c in self._task.get_name())[:60]
        p.dump_stats(os.path.join(out, "worker-%d-%s.prof" % (os.getpid(), name)))
worker.WorkerProcess._run = profiled
sys.argv[0] = "ansible-playbook"
from ansible.cli.playbook import main
p = cProfile.Profile()
p.enable()
code = 0
try:
    code = main()
except SystemExit as e:
    code = e.code
finally:
    p.disable()
    p.dump_stats(os.path.join(out, "main.prof"))
sys.exit(code)
`

// profileAnalyzer sums the profiles up: per process, the total, the
// cumulative time of the functions that answer "where does the time go"
// (matched by file suffix and name; several may match one group, the
// largest is kept since they nest), and the top functions by own time.
const profileAnalyzer = `
import glob, json, os, pstats, sys
d = sys.argv[1]
groups = json.loads(sys.argv[2])
def summary(paths):
    st = pstats.Stats(*paths)
    total = st.total_tt
    res = {"total": total, "groups": {}, "own": [], "cum": []}
    for name, pats in groups.items():
        best = 0.0
        for (file, line, func), (cc, nc, tt, ct, callers) in st.stats.items():
            for suffix, fn in pats:
                if file.endswith(suffix) and func == fn:
                    best = max(best, ct)
        res["groups"][name] = best
    waits = {"<built-in method time.sleep>": "sleep", "<method 'poll' of 'select.poll' objects>": "poll"}
    res["waits"] = {}
    for (f, l, fn), (cc, nc, tt, ct, _) in st.stats.items():
        if fn in waits:
            res["waits"][waits[fn]] = res["waits"].get(waits[fn], 0) + tt
    rows = sorted([kv for kv in st.stats.items() if kv[0][2] not in waits], key=lambda kv: kv[1][2], reverse=True)[:15]
    res["own"] = [["%s:%d %s" % (os.path.relpath(f, os.path.dirname(os.path.dirname(f))) if f.startswith("/") else f, l, fn), tt, ct, nc] for (f, l, fn), (cc, nc, tt, ct, _) in rows]
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][3], reverse=True)[:40]
    res["cum"] = [["%s:%d %s" % (os.path.relpath(f, os.path.dirname(os.path.dirname(f))) if f.startswith("/") else f, l, fn), tt, ct, nc] for (f, l, fn), (cc, nc, tt, ct, _) in rows]
    return res
workers = sorted(glob.glob(os.path.join(d, "worker-*.prof")))
print(json.dumps({"main": summary([os.path.join(d, "main.prof")]), "workers": summary(workers), "nworkers": len(workers),
                  "each": {os.path.basename(w).split("-", 2)[2][:-5]: summary([w])["total"] for w in workers}}))
`

// profileGroups are the costs the issue names, as functions of
// ansible-core (2.19) and of our action plugin.
var profileGroups = []struct {
	proc, name string
	funcs      [][2]string
}{
	{"main", "loading the host_vars (YAML), for the inventory and each task's variables", [][2]string{{"ansible/plugins/vars/host_group_vars.py", "load_found_files"}}},
	{"main", "YAML parsing, all of it (host_vars, playbook, role)", [][2]string{{"yaml/__init__.py", "load"}}},
	{"main", "variables of the host for each task (get_vars)", [][2]string{{"ansible/vars/manager.py", "get_vars"}}},
	{"main", "result handling (unpickling the workers' results, callbacks)", [][2]string{{"ansible/plugins/strategy/__init__.py", "_process_pending_results"}}},
	{"main", "queueing tasks (forking a worker, pickling the task and its variables)", [][2]string{{"ansible/plugins/strategy/__init__.py", "_queue_task"}}},
	{"workers", "the role's argument-spec validation task (validate_argument_spec)", [][2]string{{"ansible/plugins/action/validate_argument_spec.py", "run"}}},
	{"workers", "— in it: templating the role's variables to validate", [][2]string{{"ansible/plugins/action/validate_argument_spec.py", "get_args_from_task_vars"}}},
	{"workers", "— in it: deep-copying the validated variables (ValidationResult)", [][2]string{{"ansible/module_utils/common/arg_spec.py", "__init__"}}},
	{"workers", "— in it: checking each list entry against the sub-spec", [][2]string{{"ansible/module_utils/common/parameters.py", "_validate_sub_spec"}}},
	{"workers", "the module task: templating its arguments (the users list)", [][2]string{{"ansible/plugins/action/__init__.py", "finalize_task_arg"}, {"ansible/playbook/task.py", "_post_validate_args"}}},
	{"workers", "the module task: our action plugin (go_binary.py run, the binary included)", [][2]string{{"plugins/plugin_utils/go_binary.py", "run"}}},
	{"workers", "— in it: waiting for the module binary", [][2]string{{"subprocess.py", "communicate"}, {"ansible/plugins/connection/local.py", "exec_command"}}},
	{"workers", "the module task: sending its result to the controller (pickling)", [][2]string{{"ansible/executor/task_queue_manager.py", "send_task_result"}}},
	{"workers", "all templating in the workers (nested in the rows above)", [][2]string{{"ansible/_internal/_templating/_engine.py", "template"}, {"ansible/template/__init__.py", "template"}}},
}

type profSummary struct {
	Total  float64            `json:"total"`
	Waits  map[string]float64 `json:"waits"`
	Groups map[string]float64 `json:"groups"`
	Own    [][]any            `json:"own"`
	Cum    [][]any            `json:"cum"`
}

type profResult struct {
	declared int
	wall     time.Duration      // the profiled run (slower than an unprofiled one)
	plain    time.Duration      // the same run without a profiler, for scale
	Main     profSummary        `json:"main"`
	Workers  profSummary        `json:"workers"`
	NWorkers int                `json:"nworkers"`
	Each     map[string]float64 `json:"each"`
	// the binary
	binWall time.Duration
	binRead time.Duration
	binTop  []string
}

// profile profiles the role's no-op at n declared users on s.
func (b *bench) profile(s *scaleServer, n int) error {
	fmt.Printf("==> profiling the role's no-op at %s declared users (cProfile) and the binary (pprof)\n", commas(n))
	dir := filepath.Join(b.work, "profile")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	users := declared(s.fixture.Name, n, s.fixture.Admins, fixturePassword)
	inv, err := writeInventory(filepath.Join(dir, "inventory"), []invHost{{name: "matrix.example.com", url: s.srv.URL, token: s.token, users: users}})
	if err != nil {
		return err
	}
	res := &profResult{declared: n}
	// One unprofiled run first: the figure the profile's shares apply to.
	r, err := b.ansibleRun(inv, "scale-role.yml", nil)
	if err != nil {
		return err
	}
	res.plain = r.wall
	cmd := exec.Command(filepath.Join(b.venv, "bin", "python"), "-c", profileWrapper, "-i", inv, "scale-role.yml")
	r, err = b.runAnsible(cmd, []string{"MXADMIN_PROFILE_DIR=" + dir})
	if err != nil {
		return err
	}
	if err := recapUnchanged(r.out, 1); err != nil {
		return err
	}
	res.wall = r.wall
	groups := map[string][][2]string{}
	for _, g := range profileGroups {
		groups[g.name] = g.funcs
	}
	gj, _ := json.Marshal(groups)
	out, err := exec.Command(filepath.Join(b.venv, "bin", "python"), "-c", profileAnalyzer, dir, string(gj)).Output()
	if err != nil {
		return fmt.Errorf("analysing the profiles: %v", err)
	}
	if err := json.Unmarshal(out, res); err != nil {
		return err
	}
	fmt.Printf("    unprofiled %s, profiled %s: controller %.2f s of Python, %d workers %.2f s\n", secs(res.plain), secs(res.wall), res.Main.Total, res.NWorkers, res.Workers.Total)

	// The binary: wall time, CPU time and a CPU profile.
	prof := filepath.Join(dir, "modprof")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", prof, "./modules-src/cmd/modprof").CombinedOutput(); err != nil {
		return fmt.Errorf("building modprof: %v\n%s", err, out)
	}
	cpuFile := filepath.Join(dir, "binary.pprof")
	if err := os.Setenv("MXADMIN_CPUPROFILE", cpuFile); err != nil {
		return err
	}
	br, _, err := b.runBinary(b.binaryPath(), s.srv.URL, s.token, users, false)
	if err != nil {
		return err
	}
	res.binWall = br.wall
	start := time.Now()
	if _, _, err := readList(benchClient(), s.srv.URL, s.token); err != nil {
		return err
	}
	res.binRead = time.Since(start)
	// The same run under the CPU profiler (modprof writes MXADMIN_CPUPROFILE).
	if _, _, err := b.runBinary(prof, s.srv.URL, s.token, users, false); err != nil {
		return err
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=25", prof, cpuFile).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof: %v", err)
	}
	for _, line := range strings.Split(string(top), "\n") {
		if strings.Contains(line, "Duration:") {
			res.binTop = append(res.binTop, strings.TrimSpace(line))
		}
		if f := strings.Fields(line); len(f) >= 6 && strings.HasSuffix(f[1], "%") && f[0] != "flat" {
			res.binTop = append(res.binTop, strings.TrimSpace(line))
		}
	}
	b.prof = res
	return nil
}

// profileReport renders the profile section.
func (b *bench) profileReport() string {
	p := b.prof
	var s strings.Builder
	fmt.Fprintf(&s, "## Where the time goes: a profile of the no-op\n\n")
	fmt.Fprintf(&s, "The role's no-op at %s declared users over the scale section's inventory and server,", commas(p.declared))
	fmt.Fprintf(&s, " `ansible-playbook` under cProfile: the controller process and\n")
	fmt.Fprintf(&s, "every worker process it forks (one per task), each profiled whole. cProfile slows Python down: the run took %s\n", secs(p.wall))
	fmt.Fprintf(&s, "profiled, %s without. Times are the profiler's (seconds of the profiled run); compare them with each other.\n\n", secs(p.plain))
	fmt.Fprintf(&s, "| process | where | seconds | share of that process |\n|---|---|---:|---:|\n")
	fmt.Fprintf(&s, "| controller | all of it | %.2f | 100%% |\n", p.Main.Total)
	fmt.Fprintf(&s, "| controller | waiting for the workers (`time.sleep` in the strategy's loop) | %.2f | %.0f%% |\n", p.Main.Waits["sleep"], 100*p.Main.Waits["sleep"]/p.Main.Total)
	for _, g := range profileGroups {
		if g.proc == "main" {
			fmt.Fprintf(&s, "| controller | %s | %.2f | %.0f%% |\n", g.name, p.Main.Groups[g.name], 100*p.Main.Groups[g.name]/p.Main.Total)
		}
	}
	fmt.Fprintf(&s, "| %d workers | all of them | %.2f | 100%% |\n", p.NWorkers, p.Workers.Total)
	tasks := make([]string, 0, len(p.Each))
	for t := range p.Each {
		tasks = append(tasks, t)
	}
	sort.Slice(tasks, func(i, j int) bool { return p.Each[tasks[i]] > p.Each[tasks[j]] })
	for _, t := range tasks {
		fmt.Fprintf(&s, "| worker | task `%s` | %.2f | %.0f%% |\n", t, p.Each[t], 100*p.Each[t]/p.Workers.Total)
	}
	for _, g := range profileGroups {
		if g.proc == "workers" {
			fmt.Fprintf(&s, "| workers | %s | %.2f | %.0f%% |\n", g.name, p.Workers.Groups[g.name], 100*p.Workers.Groups[g.name]/p.Workers.Total)
		}
	}
	fmt.Fprintf(&s, "\nThe groups nest (templating happens inside the argument-spec validation and the module task, the\n")
	fmt.Fprintf(&s, "subprocess inside the action plugin): shares do not add up. The workers' `poll` (waiting for the binary) is %.2f s.\n", p.Workers.Waits["poll"])
	fmt.Fprintf(&s, "\nThe functions with the most own time, waits left out (controller, then workers):\n\n| process | function | own s | cumulative s | calls |\n|---|---|---:|---:|---:|\n")
	for _, proc := range []struct {
		name string
		sum  profSummary
	}{{"controller", p.Main}, {"workers", p.Workers}} {
		for i, row := range proc.sum.Own {
			if i >= 8 {
				break
			}
			fmt.Fprintf(&s, "| %s | `%v` | %.2f | %.2f | %.0f |\n", proc.name, row[0], row[1], row[2], row[3])
		}
	}
	fmt.Fprintf(&s, "\nThe module binary alone at %s declared users: %s wall, of which the plain read of the user list takes %s (%.0f%%).\n",
		commas(p.declared), secs(p.binWall), secs(p.binRead), 100*float64(p.binRead)/float64(p.binWall))
	fmt.Fprintf(&s, "Its CPU profile (pprof, `go tool pprof -top -cum`: where the CPU time goes, callers included; the rest of the wall\n")
	fmt.Fprintf(&s, "time is waiting for Synapse):\n\n```\n%s\n```\n", strings.Join(p.binTop, "\n"))
	fmt.Fprintf(&s, "\nThe machine's load average (1 minute; other jobs share it) %s.\n", b.loads["scale"])
	return s.String()
}
