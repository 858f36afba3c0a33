// Command mxadmin-synapse is the binary behind the Ansible modules of the
// mxadmin.synapse collection. Ansible runs it as `<binary> <args file>`; it
// prints one JSON result. Which module to run is named in the args file.
package main

import (
	"os"

	"github.com/mxadmin/synapse/modules-src/modules"
)

func main() {
	argsPath := ""
	if len(os.Args) > 1 {
		argsPath = os.Args[1]
	}
	os.Exit(modules.Main(argsPath, os.Stdout))
}
