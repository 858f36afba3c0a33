// Command modprof is the module binary with a CPU profile (never shipped): make bench
// builds it to see where the binary's own time goes. It runs what the
// shipped binary runs (modules.Main) and writes a pprof CPU profile to the
// file named by MXADMIN_CPUPROFILE.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/mxadmin/synapse/modules-src/internal/modules"
)

func main() {
	f, err := os.Create(os.Getenv("MXADMIN_CPUPROFILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "modprof: MXADMIN_CPUPROFILE:", err)
		os.Exit(2)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "modprof:", err)
		os.Exit(2)
	}
	argsPath := ""
	if len(os.Args) > 1 {
		argsPath = os.Args[1]
	}
	code := modules.Main(argsPath, os.Stdout)
	pprof.StopCPUProfile()
	f.Close()
	os.Exit(code)
}
