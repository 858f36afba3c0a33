// Command demo shows the collection at work against a throwaway Synapse:
// it starts one on loopback, runs the example playbook twice (the second run
// changes nothing), edits one user's declaration and runs --check --diff to
// show the drift, then tells how to log in. 'make demo' runs it.
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
	keep := flag.Bool("keep", false, "keep Synapse running after the demo, until Ctrl-C")
	flag.Parse()
	if err := run(*keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m==> %s\033[0m\n", fmt.Sprintf(format, args...))
}

func run(keep bool) error {
	root, err := synapsetest.RepoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "mxadmin-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	step("Starting a throwaway Synapse (SQLite in %s, loopback only)", work)
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
	connection := filepath.Join(work, "connection.yml")
	if err := os.WriteFile(connection, []byte(fmt.Sprintf("demo_homeserver_url: %q\ndemo_admin_token: %q\ndemo_alice_password: %q\n",
		srv.URL, token, alicePassword)), 0o600); err != nil {
		return err
	}
	collections, err := linkCollection(work, root)
	if err != nil {
		return err
	}
	playbook := func(extra ...string) error {
		args := append([]string{"-i", "inventory", "site.yml", "-e", "@" + connection}, extra...)
		fmt.Printf("$ ansible-playbook %s\n", strings.Join(args, " "))
		cmd := exec.Command("ansible-playbook", args...)
		cmd.Dir = example
		cmd.Env = append(os.Environ(), "ANSIBLE_COLLECTIONS_PATH="+collections, "ANSIBLE_FORCE_COLOR=1",
			"ANSIBLE_PYTHON_INTERPRETER="+filepath.Join(os.Getenv("MXADMIN_VENV"), "bin", "python"))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}

	step("First run: the declared users are created (--diff shows what each one gets)")
	if err := playbook("--diff"); err != nil {
		return err
	}
	step("Second run: nothing to do, so changed=0 and no writes")
	if err := playbook(); err != nil {
		return err
	}
	step("Editing one declaration (Alice's display name), then --check --diff shows the drift and changes nothing")
	vars := filepath.Join(example, "inventory", "group_vars", "matrix_servers.yml")
	if err := replaceInFile(vars, "displayname: Alice Liddell", "displayname: Alice Pleasance Liddell"); err != nil {
		return err
	}
	fmt.Printf("$ sed -i 's/Alice Liddell/Alice Pleasance Liddell/' inventory/group_vars/matrix_servers.yml\n")
	if err := playbook("--check", "--diff"); err != nil {
		return err
	}

	step("The same check as a CI gate: matrix_users_fail_on_drift=true makes the drift fail the run")
	if err := playbook("--check", "-e", "matrix_users_fail_on_drift=true"); err == nil {
		return fmt.Errorf("the drift gate should have failed the check run")
	}
	fmt.Println("(failed as intended: a CI job running this would go red until the server or the declaration is fixed)")

	step("Done")
	fmt.Printf("Synapse: %s (server name demo.localhost)\n", srv.URL)
	fmt.Printf("Log in with any Matrix client, or: curl -s %s/_matrix/client/v3/login -d '{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"alice\"},\"password\":\"%s\"}'\n", srv.URL, alicePassword)
	fmt.Printf("  admin / %s\n  alice / %s\n", adminPassword, alicePassword)
	if !keep {
		fmt.Println("Stopping Synapse (make demo DEMO_FLAGS=-keep keeps it running).")
		return nil
	}
	fmt.Println("Synapse keeps running; press Ctrl-C to stop it and remove its files.")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return nil
}
