// Command demo shows the collection at work against a throwaway Synapse:
// it starts one on loopback, runs the example playbook twice (the second run
// changes nothing), edits one user's declaration and runs --check --diff to
// show the drift, then tells how to log in. 'make demo' runs it.
//
// Everything lives in build/demo (a copy of docs/examples/demo with an
// ansible.cfg, the connection variables, Synapse's files), which stays after
// the demo, so the printed commands can be run again by hand. On a terminal
// Synapse keeps running until Ctrl-C (-keep=false stops it at once);
// elsewhere (CI, a pipe) it stops at the end unless -keep is given.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

func main() {
	interactive := isTerminal(os.Stdout) && isTerminal(os.Stdin)
	keep := flag.Bool("keep", interactive, "keep Synapse running after the demo, until Ctrl-C (default: on a terminal)")
	flag.Parse()
	d := demo{keep: *keep, colour: isTerminal(os.Stdout) && os.Getenv("NO_COLOR") == ""}
	if err := d.run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

type demo struct {
	keep   bool
	colour bool // stdout is a terminal and NO_COLOR is not set
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
	root, err := synapsetest.RepoRoot()
	if err != nil {
		return err
	}
	// A fixed folder, replaced by the next demo: the commands printed below
	// point into it and keep working after the demo.
	work := filepath.Join(root, "build", "demo")
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}

	d.step("Starting a throwaway Synapse (SQLite in %s, loopback only)", rel(root, filepath.Join(work, "synapse")))
	srv, err := synapsetest.Start(synapsetest.Config{ServerName: "demo.localhost", BcryptRounds: 12, Dir: filepath.Join(work, "synapse")})
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("Synapse is up at %s\n", srv.URL)

	adminPassword := "demo-admin-" + randomWord()
	token, err := srv.Register("admin", adminPassword, true)
	if err != nil {
		return fmt.Errorf("creating the demo admin: %w", err)
	}
	fmt.Println("Created the admin @admin:demo.localhost with the registration shared secret, to get an admin token.")

	example := filepath.Join(work, "example")
	if err := copyDir(filepath.Join(root, "docs", "examples", "demo"), example); err != nil {
		return err
	}
	alicePassword := "alice-" + randomWord()
	if err := os.WriteFile(filepath.Join(work, "connection.yml"), []byte(fmt.Sprintf("demo_homeserver_url: %q\ndemo_admin_token: %q\ndemo_alice_password: %q\n",
		srv.URL, token, alicePassword)), 0o600); err != nil {
		return err
	}
	if _, err := linkCollection(work, root); err != nil {
		return err
	}
	// ansible.cfg in the playbook's folder: what make demo passes in the
	// environment, for a rerun by hand.
	python := filepath.Join(os.Getenv("MXADMIN_VENV"), "bin", "python")
	if err := os.WriteFile(filepath.Join(example, "ansible.cfg"), []byte(fmt.Sprintf(
		"# Written by make demo: the collection from this checkout, the venv's Python.\n[defaults]\ncollections_path = ../collections\ninterpreter_python = %s\n", python)), 0o644); err != nil {
		return err
	}
	venvBin := filepath.Join(os.Getenv("MXADMIN_VENV"), "bin")
	fmt.Printf("The playbook is a copy of docs/examples/demo in %s, kept after the demo. To run the commands below again:\n", rel(root, example))
	fmt.Printf("  cd %s && export PATH=%s:$PATH\n", example, venvBin)

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

	d.step("Done")
	fmt.Printf("Synapse: %s (server name demo.localhost), files in %s\n", srv.URL, rel(root, work))
	if !d.keep {
		fmt.Println("Synapse stops now, so the commands above and the logins below no longer work;")
		fmt.Println("'make demo DEMO_FLAGS=-keep' keeps it running until Ctrl-C (the default on a terminal).")
	}
	fmt.Printf("Log in with any Matrix client (homeserver %s) as:\n  admin / %s\n  alice / %s\n", srv.URL, adminPassword, alicePassword)
	fmt.Printf("or check a login with curl:\n  curl -s %s/_matrix/client/v3/login -d '{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"alice\"},\"password\":\"%s\"}'\n", srv.URL, alicePassword)
	if !d.keep {
		return nil
	}
	fmt.Println("Synapse keeps running; press Ctrl-C to stop it (its files stay in " + rel(root, work) + " until the next make demo).")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	fmt.Println("\nStopping Synapse.")
	return nil
}

// rel shows a path inside the checkout relative to it.
func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
