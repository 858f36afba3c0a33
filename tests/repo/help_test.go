// Package repo checks the repository itself: the Makefile, the README.
package repo

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// phonyTargets reads the Makefile's .PHONY list (continuation lines included).
func phonyTargets(t *testing.T, makefile string) []string {
	t.Helper()
	logical := strings.ReplaceAll(makefile, "\\\n", " ")
	var targets []string
	for _, l := range strings.Split(logical, "\n") {
		if rest, ok := strings.CutPrefix(l, ".PHONY:"); ok {
			targets = append(targets, strings.Fields(rest)...)
		}
	}
	require.NotEmpty(t, targets, ".PHONY")
	return targets
}

// TestHelpListsEveryPhonyTarget: make help is generated from the '## '
// comments above the targets, so a target added without one shows here.
func TestHelpListsEveryPhonyTarget(t *testing.T) {
	data, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	cmd := exec.Command("make", "--no-print-directory", "-s", "help")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))

	listed := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  make (\S+) +(.+)$`).FindAllStringSubmatch(string(out), -1) {
		listed[m[1]] = m[2]
	}
	phony := phonyTargets(t, string(data))
	for _, target := range phony {
		assert.NotEmpty(t, listed[target], "make help does not list %s: put a '## what it does' line above it", target)
	}
	for target := range listed {
		assert.Contains(t, phony, target, "make help lists %s, which is not in .PHONY", target)
	}
	assert.GreaterOrEqual(t, len(listed), 20)
}
