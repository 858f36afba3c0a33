// Command demo shows the collection at work against a throwaway Synapse:
// it starts one on loopback, runs the example playbook twice (the second run
// changes nothing), edits one user's declaration and runs --check --diff to
// show the drift, then tells how to log in. 'make demo' runs it.
//
// Everything lives in build/demo (-dir): a copy of docs/examples/demo with an
// ansible.cfg, the connection variables, Synapse's files and demo.json (how
// to start it again, the logins). It stays after the demo, so the printed
// commands can be run again by hand. On a terminal Synapse then keeps
// running in the background (-keep=false stops it at the end); elsewhere (CI,
// a file, a pipe) it stops at the end unless -keep is given.
//
//	demo [-keep] [-dir DIR]   the demo ('make demo')
//	demo start [-dir DIR]     start its Synapse again, in the background ('make demo-start')
//	demo stop [-dir DIR]      stop it ('make demo-stop')
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

func main() {
	root, err := synapsetest.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
	defaultDir := filepath.Join(root, "build", "demo")
	interactive := isTerminal(os.Stdout) && isTerminal(os.Stdin)
	d := demo{root: root, interactive: interactive, colour: isTerminal(os.Stdout) && os.Getenv("NO_COLOR") == ""}
	args, cmd := os.Args[1:], "demo"
	if len(args) > 0 && (args[0] == "start" || args[0] == "stop") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	dir := fs.String("dir", defaultDir, "the demo's folder (make DEMO_DIR=...)")
	keep := false
	if cmd == "demo" {
		fs.BoolVar(&keep, "keep", interactive, "keep Synapse running in the background after the demo (default: on a terminal); make demo-stop stops it")
	}
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo %s: unexpected %q\n", cmd, fs.Arg(0))
		os.Exit(2)
	}
	if d.work, err = filepath.Abs(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
	d.makeVars = ""
	if filepath.Clean(d.work) != defaultDir {
		d.makeVars = " DEMO_DIR=" + d.work
	}
	switch cmd {
	case "start":
		err = d.start()
	case "stop":
		err = d.stop()
	default:
		d.keep = keep
		err = d.run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s failed: %v\n", d.make(cmd), err)
		os.Exit(1)
	}
}

type demo struct {
	root     string
	work     string // the demo's folder
	makeVars string // what the make commands it prints need (DEMO_DIR=... when not the default)
	keep     bool
	// interactive: stdin and stdout are a terminal (-keep's default).
	interactive bool
	colour      bool // stdout is a terminal and NO_COLOR is not set
}

// make is the make command of a target ("demo-start", or the subcommand
// "start"), as the user types it.
func (d demo) make(target string) string {
	if t, ok := map[string]string{"start": "demo-start", "stop": "demo-stop"}[target]; ok {
		target = t
	}
	return "make " + target + d.makeVars
}

func (d demo) step(format string, args ...any) {
	text := "==> " + fmt.Sprintf(format, args...)
	if d.colour {
		text = "\033[1m" + text + "\033[0m"
	}
	fmt.Printf("\n%s\n", text)
}

// ansibleEnv: ansible-playbook's own colour follows the demo's.
func (d demo) ansibleEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ANSIBLE_NOCOLOR=") && !strings.HasPrefix(kv, "ANSIBLE_FORCE_COLOR=") {
			env = append(env, kv)
		}
	}
	if d.colour {
		return append(env, "ANSIBLE_FORCE_COLOR=1")
	}
	return append(env, "ANSIBLE_NOCOLOR=1")
}

func (d demo) run() error {
	root, work := d.root, d.work
	// A fixed folder, replaced by the next demo: the commands printed below
	// point into it and keep working after the demo. A Synapse the last
	// demo left running is stopped first.
	if st, err := readState(work); err == nil {
		if stopped, err := stopBackground(work, st); err != nil {
			return err
		} else if stopped {
			fmt.Printf("Stopped the Synapse of the last demo (%s).\n", st.URL)
		}
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	// The demo's Synapse runs on SQLite, whatever the environment asks of
	// the tests' servers: it must start again without them.
	os.Setenv("MXADMIN_SYNAPSE_DB", "sqlite")
	python, err := synapsetest.SynapsePython()
	if err != nil {
		return err
	}

	st := state{ServerName: "demo.localhost", Python: python, SynapseDir: filepath.Join(work, "synapse")}
	d.step("Starting a throwaway Synapse (SQLite in %s, loopback only)", rel(root, st.SynapseDir))
	srv, err := synapsetest.Start(synapsetest.Config{ServerName: st.ServerName, BcryptRounds: 12, Dir: st.SynapseDir})
	if err != nil {
		return err
	}
	defer srv.Stop()
	st.URL = srv.URL
	fmt.Printf("Synapse is up at %s\n", srv.URL)

	st.AdminPassword = "demo-admin-" + randomWord()
	token, err := srv.Register("admin", st.AdminPassword, true)
	if err != nil {
		return fmt.Errorf("creating the demo admin: %w", err)
	}
	fmt.Println("Created the admin @admin:demo.localhost with the registration shared secret, to get an admin token.")

	example := filepath.Join(work, "example")
	if err := copyDir(filepath.Join(root, "docs", "examples", "demo"), example); err != nil {
		return err
	}
	st.AlicePassword = "alice-" + randomWord()
	if err := writeState(work, st); err != nil {
		return err
	}
	// The playbook's first task names this command when Synapse is stopped.
	if err := os.WriteFile(filepath.Join(work, "connection.yml"), []byte(fmt.Sprintf(
		"demo_homeserver_url: %q\ndemo_admin_token: %q\ndemo_alice_password: %q\ndemo_start_command: %q\n",
		srv.URL, token, st.AlicePassword, d.make("demo-start"))), 0o600); err != nil {
		return err
	}
	if _, err := linkCollection(work, root); err != nil {
		return err
	}
	// ansible.cfg in the playbook's folder: what make demo passes in the
	// environment, for a rerun by hand.
	venvPython := filepath.Join(os.Getenv("MXADMIN_VENV"), "bin", "python")
	if err := os.WriteFile(filepath.Join(example, "ansible.cfg"), []byte(fmt.Sprintf(
		"# Written by make demo: the collection from this checkout, the venv's Python.\n[defaults]\ncollections_path = ../collections\ninterpreter_python = %s\n", venvPython)), 0o644); err != nil {
		return err
	}
	fmt.Printf("The playbook is a copy of docs/examples/demo in %s, kept after the demo: the end says how to run it again.\n", rel(root, example))

	playbook := func(extra ...string) error {
		args := append([]string{"-i", "inventory", "site.yml", "-e", "@../connection.yml"}, extra...)
		fmt.Printf("$ ansible-playbook %s\n", strings.Join(args, " "))
		cmd := exec.Command("ansible-playbook", args...)
		cmd.Dir = example
		cmd.Env = d.ansibleEnv()
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}

	d.step("First run: the declared users are created (--diff shows what each one gets)")
	if err := playbook("--diff"); err != nil {
		return err
	}
	d.step("Second run: nothing to do, so changed=0 and no writes")
	if err := playbook(); err != nil {
		return err
	}
	d.step("Editing one declaration (Alice's display name), then --check --diff shows the drift and changes nothing")
	vars := filepath.Join(example, "inventory", "group_vars", "matrix_servers.yml")
	if err := replaceInFile(vars, "displayname: Alice Liddell", "displayname: Alice Pleasance Liddell"); err != nil {
		return err
	}
	fmt.Printf("$ sed -i 's/Alice Liddell/Alice Pleasance Liddell/' inventory/group_vars/matrix_servers.yml\n")
	if err := playbook("--check", "--diff"); err != nil {
		return err
	}

	d.step("The same check as a CI gate: matrix_users_fail_on_drift=true makes the drift fail the run")
	if err := playbook("--check", "-e", "matrix_users_fail_on_drift=true"); err == nil {
		return fmt.Errorf("the drift gate should have failed the check run")
	}
	fmt.Println("(failed as intended: a CI job running this would go red until the server or the declaration is fixed)")
	fmt.Println("Without --check the same command applies the new display name; then the check passes again.")

	if !d.keep {
		if err := srv.Stop(); err != nil {
			return err
		}
		d.step("Done: the demo Synapse is stopped (%s starts it again)", d.make("demo-start"))
		if d.interactive {
			fmt.Printf("DEMO_FLAGS=-keep=false stopped it at the end; without it, on a terminal, it keeps running.\n")
		} else {
			fmt.Printf("Into a file or a pipe make demo stops its Synapse at the end (DEMO_FLAGS=-keep keeps it running).\n")
		}
		fmt.Printf("Its users and files stay in %s: %s starts it again and says how to log in;\n", rel(root, work), d.make("demo-start"))
		fmt.Printf("then the playbook runs again with:\n  %s\n", d.rerun(example))
		return nil
	}
	// Handed over to a Synapse in the background, started the way make
	// demo-start starts it, so that it outlives this command.
	if err := srv.Kill(); err != nil {
		return err
	}
	pid, err := startBackground(work, st)
	if err != nil {
		return err
	}
	d.step("Done: the demo Synapse keeps running in the background (%s stops it)", d.make("demo-stop"))
	d.printUp(st, pid, example)
	return nil
}

// rerun is the command that runs the demo's playbook again by hand.
func (d demo) rerun(example string) string {
	return fmt.Sprintf("cd %s && PATH=%s:$PATH ansible-playbook -i inventory site.yml -e @../connection.yml",
		example, filepath.Join(os.Getenv("MXADMIN_VENV"), "bin"))
}

// printUp says where the running demo Synapse is and how to use it.
func (d demo) printUp(st state, pid int, example string) {
	fmt.Printf("Synapse: %s (server name %s, pid %d), files in %s\n", st.URL, st.ServerName, pid, rel(d.root, d.work))
	fmt.Printf("Run the playbook again (with --check --diff it only shows what it would change):\n  %s\n", d.rerun(example))
	fmt.Printf("Log in with any Matrix client (homeserver %s) as:\n  admin / %s\n  alice / %s\n", st.URL, st.AdminPassword, st.AlicePassword)
	fmt.Printf("or check a login with curl:\n  curl -s %s/_matrix/client/v3/login -d '{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"alice\"},\"password\":\"%s\"}'\n", st.URL, st.AlicePassword)
	fmt.Printf("%s stops it; %s starts it again, with the same users.\n", d.make("demo-stop"), d.make("demo-start"))
}

// start brings the demo Synapse back, in the background ('make demo-start').
func (d demo) start() error {
	st, err := readState(d.work)
	if err != nil {
		return err
	}
	example := filepath.Join(d.work, "example")
	if pid, ok := running(d.work, st); ok {
		d.step("The demo Synapse is already running (%s stops it)", d.make("demo-stop"))
		d.printUp(st, pid, example)
		return nil
	}
	pid, err := startBackground(d.work, st)
	if err != nil {
		return err
	}
	d.step("The demo Synapse is up again, in the background (%s stops it)", d.make("demo-stop"))
	d.printUp(st, pid, example)
	return nil
}

// stop stops the demo Synapse ('make demo-stop'); nothing to stop is fine.
func (d demo) stop() error {
	st, err := readState(d.work)
	if err != nil {
		fmt.Printf("No demo Synapse to stop (no demo in %s).\n", rel(d.root, d.work))
		return nil
	}
	stopped, err := stopBackground(d.work, st)
	switch {
	case err != nil:
		return err
	case stopped:
		fmt.Printf("Stopped the demo Synapse (%s); its users and files stay in %s: %s starts it again.\n", st.URL, rel(d.root, d.work), d.make("demo-start"))
	default:
		fmt.Printf("The demo Synapse is not running (%s starts it).\n", d.make("demo-start"))
	}
	return nil
}

// rel shows a path inside the checkout relative to it.
func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
