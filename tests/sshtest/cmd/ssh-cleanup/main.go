// Command ssh-cleanup removes what SSH test runs that are gone left on the
// machine (their sudoers drop-ins; when no run is live, the user
// mxadmin-ssh and any noexec tmpfs still mounted): 'make ssh-cleanup', and
// make test when its stages end. It never touches what a running test uses.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/mxadmin/synapse/tests/sshtest"
)

func main() {
	if os.Geteuid() != 0 {
		if left := sshtest.Leftovers(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "ssh-cleanup: %s left by the SSH tests; removing them needs root\n", strings.Join(left, ", "))
			os.Exit(1)
		}
		fmt.Println("==> ssh-cleanup: the SSH tests left nothing on this machine")
		return
	}
	done, err := sshtest.Cleanup()
	for _, d := range done {
		fmt.Println("==> ssh-cleanup: " + d)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ssh-cleanup:", err)
		os.Exit(1)
	}
	if left := sshtest.Leftovers(); len(left) > 0 {
		fmt.Printf("==> ssh-cleanup: left %s: in use by an SSH test that is still running\n", strings.Join(left, ", "))
	} else if len(done) == 0 {
		fmt.Println("==> ssh-cleanup: the SSH tests left nothing on this machine")
	}
}
