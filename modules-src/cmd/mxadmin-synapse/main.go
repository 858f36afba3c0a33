// Command mxadmin-synapse is the binary behind the Ansible modules of the
// mxadmin.synapse collection. Ansible runs it as `<binary> <args file>`; the
// collection's action plugin runs it as `<binary> -` with the arguments on
// standard input, so that they never touch the target's disk. It prints one
// JSON result. Which module to run is named in the arguments.
//
// `mxadmin-synapse --spec` prints the argument specs of the modules instead.
package main

import (
	"os"

	"github.com/mxadmin/synapse/modules-src/internal/modules"
)

func main() {
	argsPath := ""
	if len(os.Args) > 1 {
		argsPath = os.Args[1]
	}
	if argsPath == modules.SpecFlag {
		os.Exit(modules.WriteSpecs(os.Stdout))
	}
	os.Exit(modules.Main(argsPath, os.Stdout))
}
