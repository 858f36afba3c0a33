// Command modprof is the module binary with a CPU profile (never shipped): make bench
// builds it to see where the binary's own time goes. It runs what the
// shipped binary runs (modules.Main) and writes a pprof CPU profile to the
// file named by MXADMIN_CPUPROFILE, and, when MXADMIN_MEMPROFILE names a
// file, a heap profile taken near the peak of the live heap (what holds the
// memory of a large run: a profile at the end would show nothing left).
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

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
	if path := os.Getenv("MXADMIN_MEMPROFILE"); path != "" {
		go heapPeaks(path)
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

// heapPeaks writes a heap profile to path each time the live heap grows by
// a tenth over the largest seen, so the last one written is near the peak.
func heapPeaks(path string) {
	var most uint64
	for range time.Tick(20 * time.Millisecond) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapAlloc < most+most/10 {
			continue
		}
		most = m.HeapAlloc
		fmt.Fprintf(os.Stderr, "modprof: heap %d MB (in use %d MB, from the OS %d MB, all %d MB), %d GCs\n",
			m.HeapAlloc>>20, m.HeapInuse>>20, m.HeapSys>>20, m.Sys>>20, m.NumGC)
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
}
