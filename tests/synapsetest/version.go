package synapsetest

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

var (
	versionOnce sync.Once
	version     [2]int
	versionErr  error
)

// Version is the major and minor release of the Synapse the tests run
// (make e2e SYNAPSE_VERSION=... picks another). The module itself never
// looks at versions; tests do, to set up a server the way that release is
// configured and to know what its API can do.
func Version() ([2]int, error) {
	versionOnce.Do(func() {
		python, err := SynapsePython()
		if err != nil {
			versionErr = err
			return
		}
		out, err := exec.Command(python, "-c", "import synapse; print(synapse.__version__)").Output()
		if err != nil {
			versionErr = fmt.Errorf("reading Synapse's version: %w", err)
			return
		}
		parts := strings.SplitN(strings.TrimSpace(string(out)), ".", 3)
		if len(parts) < 2 {
			versionErr = fmt.Errorf("unexpected Synapse version %q", out)
			return
		}
		version[0], _ = strconv.Atoi(parts[0])
		version[1], versionErr = strconv.Atoi(parts[1])
	})
	return version, versionErr
}

// AtLeast reports whether the Synapse under test is release major.minor or
// newer; it fails (make test) or skips the test when Synapse is missing.
func AtLeast(t TB, major, minor int) bool {
	t.Helper()
	v, err := Version()
	if err != nil {
		Unavailable(t, err)
		return false
	}
	return v[0] > major || v[0] == major && v[1] >= minor
}
