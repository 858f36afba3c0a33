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
	"runtime/debug"

	"github.com/mxadmin/synapse/modules-src/internal/modules"
)

// memoryLimit is the soft limit of the Go heap (GOMEMLIMIT, which overrides
// it): past it the collector runs more often rather than let the heap grow
// to twice what is live. A run of 100,000 declared users peaks at about
// 200 MB live (the decoded arguments); without the limit its RSS reached
// 290 MB, with it about 215 MB. Smaller runs never reach it.
const memoryLimit = 160 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
	}
	argsPath := ""
	if len(os.Args) > 1 {
		argsPath = os.Args[1]
	}
	if argsPath == modules.SpecFlag {
		os.Exit(modules.WriteSpecs(os.Stdout))
	}
	os.Exit(modules.Main(argsPath, os.Stdout))
}
