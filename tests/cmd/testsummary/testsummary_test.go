package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain: with TESTSUMMARY_TEST_MAIN=1 this test binary is the
// testsummary command, so that tests run it as make does.
func TestMain(m *testing.M) {
	if os.Getenv("TESTSUMMARY_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// stream builds a fake 'go test -json' stream.
func stream(events ...event) string {
	var b strings.Builder
	for _, e := range events {
		data, _ := json.Marshal(e)
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

func out(pkg, test, text string) event {
	return event{Action: "output", Package: pkg, Test: test, Output: text}
}

func TestSummariseCountsTestsAndSubtestsAndPrintsEachTestOnce(t *testing.T) {
	const pkg = "example.com/m/reconcile"
	in := stream(
		event{Action: "start", Package: pkg},
		event{Action: "run", Package: pkg, Test: "TestPlan"},
		out(pkg, "TestPlan", "=== RUN   TestPlan\n"),
		event{Action: "run", Package: pkg, Test: "TestPlan/create"},
		out(pkg, "TestPlan/create", "=== RUN   TestPlan/create\n"),
		out(pkg, "TestPlan/create", "    --- PASS: TestPlan/create (0.00s)\n"),
		event{Action: "pass", Package: pkg, Test: "TestPlan/create"},
		event{Action: "run", Package: pkg, Test: "TestPlan/update"},
		event{Action: "pass", Package: pkg, Test: "TestPlan/update"},
		out(pkg, "TestPlan", "--- PASS: TestPlan (0.01s)\n"),
		event{Action: "pass", Package: pkg, Test: "TestPlan", Elapsed: 0.01},
		event{Action: "run", Package: pkg, Test: "TestOther"},
		event{Action: "pass", Package: pkg, Test: "TestOther"},
		out(pkg, "", "PASS\n"),
		out(pkg, "", "ok  \texample.com/m/reconcile\t0.02s\n"),
		event{Action: "pass", Package: pkg, Elapsed: 0.02},
	)
	var w bytes.Buffer
	c := summarise(strings.NewReader(in), &w)
	assert.Equal(t, Counts{Unit: "test", Run: 4, Passed: 4}, c)
	assert.True(t, c.OK())
	assert.Equal(t, "ok    reconcile.TestPlan (0.01s, 2 subtests)\n"+
		"ok    reconcile.TestOther (0.00s)\n"+
		"ok  \texample.com/m/reconcile\t0.02s\n", w.String())
}

func TestSummarisePrintsAFailedTestInFull(t *testing.T) {
	const pkg = "example.com/m/modules"
	in := stream(
		event{Action: "run", Package: pkg, Test: "TestA"},
		out(pkg, "TestA", "=== RUN   TestA\n"),
		event{Action: "run", Package: pkg, Test: "TestA/sub"},
		out(pkg, "TestA/sub", "=== RUN   TestA/sub\n"),
		out(pkg, "TestA/sub", "    a_test.go:12: expected 1, got 2\n"),
		out(pkg, "TestA/sub", "    --- FAIL: TestA/sub (0.00s)\n"),
		event{Action: "fail", Package: pkg, Test: "TestA/sub"},
		out(pkg, "TestA", "--- FAIL: TestA (0.00s)\n"),
		event{Action: "fail", Package: pkg, Test: "TestA"},
		out(pkg, "", "FAIL\n"),
		event{Action: "fail", Package: pkg},
	)
	var w bytes.Buffer
	c := summarise(strings.NewReader(in), &w)
	assert.Equal(t, Counts{Unit: "test", Run: 2, Failed: 2}, c)
	assert.False(t, c.OK())
	assert.Contains(t, w.String(), "FAIL  modules.TestA (0.00s, 1 subtests)\n")
	assert.Contains(t, w.String(), "a_test.go:12: expected 1, got 2")
	assert.Contains(t, w.String(), "--- FAIL: TestA/sub")
	assert.NotContains(t, w.String(), "=== RUN")
	assert.NotContains(t, w.String(), "outside any test", "the package failed because of its test")
}

func TestSummariseASkippedSubtestFailsTheStage(t *testing.T) {
	const pkg = "example.com/m/tests/e2e"
	in := stream(
		event{Action: "run", Package: pkg, Test: "TestRole"},
		event{Action: "run", Package: pkg, Test: "TestRole/mdad"},
		out(pkg, "TestRole/mdad", "    role_test.go:40: Synapse not available\n"),
		out(pkg, "TestRole/mdad", "    --- SKIP: TestRole/mdad (0.00s)\n"),
		event{Action: "skip", Package: pkg, Test: "TestRole/mdad"},
		event{Action: "pass", Package: pkg, Test: "TestRole"},
		event{Action: "pass", Package: pkg},
	)
	var w bytes.Buffer
	c := summarise(strings.NewReader(in), &w)
	assert.Equal(t, Counts{Unit: "test", Run: 2, Passed: 1, Skipped: 1}, c)
	assert.False(t, c.OK())
	assert.Contains(t, w.String(), "SKIP  e2e.TestRole (0.00s, 1 subtests): a subtest was skipped")
	assert.Contains(t, w.String(), "Synapse not available")
	c.Stage = "e2e"
	assert.Contains(t, c.Line(), "a skipped test inside make test is a defect")
}

func TestSummariseABuildFailureOrTestMainFailureBreaksTheStage(t *testing.T) {
	const pkg = "example.com/m/session"
	in := "# example.com/m/session\n" + stream(
		event{Action: "build-output", ImportPath: pkg, Output: "session.go:3:1: syntax error\n"},
		event{Action: "start", Package: pkg},
		out(pkg, "", "FAIL\texample.com/m/session [build failed]\n"),
		event{Action: "fail", Package: pkg, FailedBuild: pkg},
	)
	var w bytes.Buffer
	c := summarise(strings.NewReader(in), &w)
	assert.True(t, c.Broken)
	assert.False(t, c.OK())
	assert.Contains(t, w.String(), "# example.com/m/session\n", "lines that are not JSON pass through")
	assert.Contains(t, w.String(), "session.go:3:1: syntax error")
	assert.Contains(t, w.String(), "FAIL  example.com/m/session failed to build")

	w.Reset()
	c = summarise(strings.NewReader(stream(
		out(pkg, "", "TestMain: cannot start Synapse\n"),
		event{Action: "fail", Package: pkg},
	)), &w)
	assert.True(t, c.Broken)
	assert.Contains(t, w.String(), "TestMain: cannot start Synapse")
	assert.Contains(t, w.String(), "failed outside any test")
}

func TestSummariseCountsATestCutOffByATimeoutAsFailed(t *testing.T) {
	const pkg = "example.com/m/e2e"
	var w bytes.Buffer
	c := summarise(strings.NewReader(stream(
		event{Action: "run", Package: pkg, Test: "TestSlow"},
		out(pkg, "TestSlow", "=== RUN   TestSlow\n"),
		out(pkg, "", "panic: test timed out after 1s\n"),
		event{Action: "fail", Package: pkg},
	)), &w)
	assert.Equal(t, Counts{Unit: "test", Run: 1, Failed: 1}, c)
	assert.Contains(t, w.String(), "FAIL  e2e.TestSlow (did not finish)")
	assert.Contains(t, w.String(), "panic: test timed out after 1s")
}

func TestAStageThatRanNoTestFails(t *testing.T) {
	c := summarise(strings.NewReader(stream(
		out("p", "", "testing: warning: no tests to run\n"),
		event{Action: "pass", Package: "p"},
	)), &bytes.Buffer{})
	assert.False(t, c.OK())
	c.Stage = "e2e-platforms"
	assert.Contains(t, c.Line(), "FAILED (nothing ran)")
}

func TestRunGoTestFailsWhenTheCommandFailsOutsideAnyTest(t *testing.T) {
	var w bytes.Buffer
	c, err := runGoTest([]string{"sh", "-c", "echo 'no JSON at all'; exit 3"}, &w)
	require.NoError(t, err)
	assert.True(t, c.Broken)
	assert.Contains(t, w.String(), "no JSON at all")
	assert.Contains(t, w.String(), "exit status 3 outside any test")
}

func TestRunCommandCountsOneCheckOrTheCommandsOwnCounts(t *testing.T) {
	c, err := runCommand([]string{"true"})
	require.NoError(t, err)
	assert.Equal(t, 1, c.Passed)
	assert.True(t, c.OK())

	c, err = runCommand([]string{"false"})
	require.NoError(t, err)
	assert.Equal(t, 1, c.Failed)
	assert.False(t, c.OK())

	own := `echo '{"unit":"check","run":24,"passed":24}' > "$` + countsEnv + `"`
	c, err = runCommand([]string{"sh", "-c", own})
	require.NoError(t, err)
	assert.Equal(t, 24, c.Passed)
	assert.True(t, c.OK())

	c, err = runCommand([]string{"sh", "-c", own + "; exit 1"})
	require.NoError(t, err)
	assert.True(t, c.Broken, "a failing command fails its stage even when its own counts say passed")
	assert.False(t, c.OK())
}

func TestRecordAddsUpWithinOneRunOnly(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(runEnv, "run-1")
	_, err := record(dir, Counts{Stage: "go-lint", Unit: "check", Run: 1, Passed: 1})
	require.NoError(t, err)
	sum, err := record(dir, Counts{Stage: "go-lint", Unit: "check", Run: 1, Failed: 1})
	require.NoError(t, err)
	assert.Equal(t, 2, sum.Run)
	assert.Equal(t, 1, sum.Failed)

	t.Setenv(runEnv, "run-2")
	sum, err = record(dir, Counts{Stage: "go-lint", Unit: "check", Run: 1, Passed: 1})
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Run, "a count left by an earlier make run is replaced")
	assert.Equal(t, 0, sum.Failed)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestTotalEndsWithThePlainTallyLine(t *testing.T) {
	t0 := time.Now()
	stages := []Counts{
		{Stage: "unit", Unit: "test", Run: 76, Passed: 76, Started: t0},
		{Stage: "sanity", Unit: "check", Run: 23, Passed: 23, NotApplicable: []string{"pslint"}, Started: t0.Add(time.Second)},
	}
	var w bytes.Buffer
	assert.Equal(t, 0, printTotal(&w, stages, 0, 0))
	assert.Equal(t, "99 passed, 0 failed, 0 skipped", lastLine(w.String()))
	assert.Contains(t, w.String(), "unit: 76 tests run, 76 passed, 0 failed, 0 skipped")
	assert.Contains(t, w.String(), "(not applicable: pslint)")

	w.Reset()
	stages = append(stages, Counts{Stage: "e2e", Unit: "test", Run: 3, Passed: 2, Skipped: 1})
	assert.Equal(t, 1, printTotal(&w, stages, 2, 0))
	assert.Equal(t, "101 passed, 0 failed, 1 skipped", lastLine(w.String()))

	w.Reset()
	assert.Equal(t, 1, printTotal(&w, stages[:1], 2, 0), "make failed in a step that records nothing (venv)")
	assert.Equal(t, "76 passed, 1 failed, 0 skipped", lastLine(w.String()))

	w.Reset()
	broken := []Counts{{Stage: "unit", Unit: "test", Run: 5, Passed: 5, Broken: true}}
	assert.Equal(t, 1, printTotal(&w, broken, 2, 0))
	assert.Equal(t, "5 passed, 1 failed, 0 skipped", lastLine(w.String()))
}

func TestTotalShowsTheTotalTime(t *testing.T) {
	stages := []Counts{
		{Stage: "lint", Unit: "check", Run: 4, Passed: 4, Seconds: 50},
		{Stage: "e2e", Unit: "test", Run: 900, Passed: 900, Seconds: 725},
	}
	var w bytes.Buffer
	assert.Equal(t, 0, printTotal(&w, stages, 0, 24*time.Minute+31*time.Second))
	assert.Contains(t, w.String(), "e2e: 900 tests run, 900 passed, 0 failed, 0 skipped in 12m05s: ok")
	assert.Contains(t, w.String(), "   total time: 24m31s (the stages 12m55s;")
	assert.Equal(t, "904 passed, 0 failed, 0 skipped", lastLine(w.String()), "the tally stays the last line")

	w.Reset()
	printTotal(&w, stages, 0, 0)
	assert.Contains(t, w.String(), "   total time of the stages: 12m55s")
}

func TestDuration(t *testing.T) {
	for seconds, want := range map[float64]string{0: "0s", 9.4: "9s", 59.6: "1m00s", 125: "2m05s", 3725: "1h02m"} {
		assert.Equal(t, want, duration(seconds), "%v s", seconds)
	}
}

// testsummary runs this test binary as the testsummary command (TestMain),
// in dir, as one make run.
func testsummary(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TESTSUMMARY_TEST_MAIN=1", runEnv+"=run-of-"+t.Name())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// A stage of several commands (go-lint: gofmt, go vet, staticcheck) prints
// one line per command, indented, and the stage's line once, at its end;
// with -keep-going a failed command lets make run the stage's other
// commands, and 'end' fails the stage.
func TestAStageOfSeveralCommandsPrintsItsLineOnce(t *testing.T) {
	dir := t.TempDir()
	var all strings.Builder
	for _, argv := range [][]string{{"true"}, {"false"}, {"true"}} {
		out, code := testsummary(t, dir, append([]string{"run", "-stage", "go-lint", "-keep-going", "--"}, argv...)...)
		assert.Equal(t, 0, code, out)
		all.WriteString(out)
	}
	out, code := testsummary(t, dir, "end", "-stage", "go-lint")
	assert.Equal(t, 1, code, out)
	all.WriteString(out)
	assert.Equal(t, "$ true\n  -> passed in 0s\n$ false\n  -> FAILED in 0s\n$ true\n  -> passed in 0s\n"+
		"==> go-lint: 3 checks run, 2 passed, 1 failed, 0 skipped in 0s: FAILED\n", all.String())

	out, code = testsummary(t, dir, "run", "-stage", "unit", "--", "true")
	assert.Equal(t, 0, code, out)
	out, code = testsummary(t, dir, "end", "-stage", "unit")
	assert.Equal(t, 0, code, out)
	assert.Equal(t, "==> unit: 1 check run, 1 passed, 0 failed, 0 skipped in 0s: ok\n", out)

	out, code = testsummary(t, dir, "run", "-stage", "unit", "--", "false")
	assert.Equal(t, 1, code, "without -keep-going a failed command fails: %s", out)
}

func TestTheEndOfAStageThatNeverRanFails(t *testing.T) {
	dir := t.TempDir()
	// A count left by another make run is not this run's.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, defaultDir), 0o755))
	require.NoError(t, writeCounts(stageFile(filepath.Join(dir, defaultDir), "sanity"), Counts{Stage: "sanity", RunID: "an-earlier-run", Unit: "check", Run: 24, Passed: 24}))
	out, code := testsummary(t, dir, "end", "-stage", "sanity")
	assert.Equal(t, 1, code, out)
	assert.Equal(t, "==> sanity: 0 checks run, 0 passed, 0 failed, 0 skipped in 0s: FAILED (nothing ran)\n", out)
}

func TestReadStagesInTheOrderTheyStarted(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now()
	require.NoError(t, writeCounts(filepath.Join(dir, "b.json"), Counts{Stage: "b", Started: t0}))
	require.NoError(t, writeCounts(filepath.Join(dir, "a.json"), Counts{Stage: "a", Started: t0.Add(time.Second)}))
	stages, err := readStages(dir)
	require.NoError(t, err)
	require.Len(t, stages, 2)
	assert.Equal(t, "b", stages[0].Stage)
	assert.Equal(t, "a", stages[1].Stage)
}

func junitCaseXML(name, inner string) string {
	return `<?xml version="1.0" ?><testsuites><testsuite name="ansible-test"><testcase classname="sanity" name="` +
		name + `">` + inner + `</testcase></testsuite></testsuites>`
}

func TestCountSanity(t *testing.T) {
	dir := t.TempDir()
	junit := filepath.Join(dir, "junit")
	require.NoError(t, os.MkdirAll(junit, 0o755))
	files := map[string]string{
		"ansible-test-sanity-pep8.xml":                  junitCaseXML("pep8", ""),
		"ansible-test-sanity-compile-python-3.11.xml":   junitCaseXML("compile-python-3.11", ""),
		"ansible-test-sanity-pslint.xml":                junitCaseXML("pslint", "<skipped>No tests applicable.</skipped>"),
		"ansible-test-sanity-shellcheck.xml":            junitCaseXML("shellcheck", "<skipped>No tests applicable.</skipped>"),
		"ansible-test-sanity-validate-modules.xml":      junitCaseXML("validate-modules", `<failure message="bad doc">plugins/modules/x.py:0:0: bad</failure>`),
		"ansible-test-sanity-import-python-3.14.xml":    junitCaseXML("import-python-3.14", "<skipped>Skipping sanity test \"import\" on Python 3.14 because it could not be found.</skipped>"),
		"ansible-test-sanity-no-smart-quotes.xml":       junitCaseXML("no-smart-quotes", ""),
		"ansible-test-sanity-action-plugin-docs.xml":    junitCaseXML("action-plugin-docs", ""),
		"ansible-test-sanity-runtime-metadata.xml":      junitCaseXML("runtime-metadata", ""),
		"ansible-test-sanity-use-argspec-type-path.xml": junitCaseXML("use-argspec-type-path", ""),
	}
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(junit, name), []byte(body), 0o644))
	}
	log := filepath.Join(dir, "sanity.log")
	require.NoError(t, os.WriteFile(log, []byte(`WARNING: Using locale "C.UTF-8" instead of "en_US.UTF-8".
Running sanity test "pep8"
Running sanity test "pslint"
Running sanity test "shellcheck"
WARNING: Required program "shellcheck" not found.
Running sanity test "validate-modules"
ERROR: Found 1 validate-modules issue(s) which need to be resolved:
Running sanity test "use-argspec-type-path"
WARNING: Reviewing previous 2 warning(s):
WARNING: Required program "shellcheck" not found.
`), 0o644))

	c, err := countSanity(log, junit)
	require.NoError(t, err)
	assert.Equal(t, 9, c.Run)
	assert.Equal(t, 6, c.Passed)
	assert.Equal(t, 1, c.Failed)
	assert.Equal(t, 2, c.Skipped, "shellcheck (its program is missing) and import on a missing Python")
	assert.Equal(t, []string{"pslint"}, c.NotApplicable, "no PowerShell in the collection: nothing to skip")
	notes := strings.Join(c.Notes, "\n")
	assert.Contains(t, notes, `SKIP  sanity test shellcheck: Required program "shellcheck" not found.`)
	assert.Contains(t, notes, "SKIP  sanity test import-python-3.14")
	assert.Contains(t, notes, "FAIL  sanity test validate-modules")
	assert.NotContains(t, notes, "use-argspec-type-path", "the warnings ansible-test repeats at the end belong to no test")
	assert.False(t, c.OK())

	// The same run with shellcheck installed passes.
	require.NoError(t, os.WriteFile(filepath.Join(junit, "ansible-test-sanity-shellcheck.xml"), []byte(junitCaseXML("shellcheck", "")), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(junit, "ansible-test-sanity-validate-modules.xml"), []byte(junitCaseXML("validate-modules", "")), 0o644))
	require.NoError(t, os.Remove(filepath.Join(junit, "ansible-test-sanity-import-python-3.14.xml")))
	require.NoError(t, os.WriteFile(log, []byte("Running sanity test \"shellcheck\"\nRunning sanity test \"validate-modules\"\n"), 0o644))
	c, err = countSanity(log, junit)
	require.NoError(t, err)
	assert.Equal(t, Counts{Stage: "sanity", Unit: "check", Run: 8, Passed: 8, NotApplicable: []string{"pslint"}}, c)
	assert.True(t, c.OK())

	_, err = countSanity(log, filepath.Join(dir, "empty"))
	assert.ErrorContains(t, err, "wrote no results")
}

func TestShellJoin(t *testing.T) {
	assert.Equal(t, `go test -json -run '^$' ./...`, shellJoin([]string{"go", "test", "-json", "-run", "^$", "./..."}))
	assert.Equal(t, `sh -c 'echo '\''hi'\'''`, shellJoin([]string{"sh", "-c", "echo 'hi'"}))
}
