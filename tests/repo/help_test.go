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
	out := makeHelp(t)

	listed := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  make (\S+) +(.+)$`).FindAllStringSubmatch(out, -1) {
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

func makeHelp(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "-s", "help")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

// TestHelpStartsWhereTheReadmeStarts: demo, test and check come first, in
// that order, with the variables that change what they do.
func TestHelpStartsWhereTheReadmeStarts(t *testing.T) {
	out := makeHelp(t)
	var order []string
	for _, m := range regexp.MustCompile(`(?m)^  make (\S+) `).FindAllStringSubmatch(out, -1) {
		order = append(order, m[1])
	}
	require.GreaterOrEqual(t, len(order), 3)
	assert.Equal(t, []string{"demo", "test", "check"}, order[:3], "make help:\n%s", out)
	for _, flag := range []string{"DEMO_FLAGS=-keep", "DEMO_FLAGS=-keep=false", "DEMO_DIR=", "E2E_RUN=", "SYNAPSE_VERSION=",
		"SYNAPSE_DB=postgres", "ANSIBLE_CORE=", "ANSIBLE_PYTHON=", "BENCH_FLAGS=", "MAS_BIN=", "MXADMIN_MAS_DIR=", "VERSION="} {
		assert.Contains(t, out, flag, "make help names %s", flag)
	}
	// Every variable make help offers is one the Makefile uses.
	data, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`(?m)^##> ([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(string(data), -1) {
		assert.Contains(t, string(data), "$("+m[1]+")", "make help offers %s, which the Makefile does not use", m[1])
	}
}

// TestEveryStageEndsWithItsLine: a stage's commands go on after a failed
// one ('testsummary -keep-going'), so only its end ('$(call stage_end,...)',
// after its last command) prints its line and fails the target: a stage
// without it would pass whatever failed in it. Its target builds
// $(TESTSUMMARY) first (make check runs stages two at a time).
func TestEveryStageEndsWithItsLine(t *testing.T) {
	data, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	logical := strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n")
	call := regexp.MustCompile(`\$\(call (go_test|check|stage_end),([^,)]+)`)
	stages := 0
	for i := 0; i < len(logical); i++ {
		target, prereqs, ok := strings.Cut(logical[i], ":")
		if !ok || strings.HasPrefix(logical[i], "\t") || strings.HasPrefix(logical[i], "#") || strings.ContainsAny(target, " =$") {
			continue
		}
		open := map[string]bool{} // stages with commands after their last end
		ended := map[string]int{}
		for j := i + 1; j < len(logical) && strings.HasPrefix(logical[j], "\t"); j++ {
			for _, m := range call.FindAllStringSubmatch(logical[j], -1) {
				if m[1] == "stage_end" {
					assert.True(t, open[m[2]], "%s: $(call stage_end,%s) without a command of that stage before it", target, m[2])
					open[m[2]] = false
					ended[m[2]]++
				} else {
					open[m[2]] = true
				}
			}
		}
		for stage, unended := range open {
			stages++
			assert.False(t, unended, "%s: stage %s has a command after its last $(call stage_end,%s), or no end", target, stage, stage)
			assert.Equal(t, 1, ended[stage], "%s: stage %s ends once", target, stage)
			assert.Contains(t, strings.Fields(prereqs), "$(TESTSUMMARY)", "%s: its stage %s needs $(TESTSUMMARY) among its prerequisites", target, stage)
		}
	}
	assert.GreaterOrEqual(t, stages, 14, "the stages of make test")
}
