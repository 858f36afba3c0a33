package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const (
	defaultDir = "build/test-counts"
	// countsEnv names the file where a command run by 'testsummary run'
	// may write counts of its own (as JSON Counts).
	countsEnv = "TESTSUMMARY_COUNTS"
	// runEnv identifies one make run: calls with the same stage name and
	// run add up; a count left by another run is replaced.
	runEnv = "TESTSUMMARY_RUN"
)

// Counts is what one stage ran. Run = Passed + Failed + Skipped.
type Counts struct {
	Stage   string `json:"stage"`
	RunID   string `json:"run_id,omitempty"`
	Unit    string `json:"unit"` // "test" (go test: tests and subtests) or "check"
	Run     int    `json:"run"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
	// NotApplicable: ansible-test sanity tests with no file of their kind
	// in the collection ("No tests applicable."); not run, not skipped.
	NotApplicable []string `json:"not_applicable,omitempty"`
	// Broken: the stage failed outside any counted test (a build error,
	// a command's exit status); it makes the stage fail.
	Broken  bool      `json:"broken,omitempty"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Notes   []string  `json:"-"`
}

// OK: nothing failed, nothing skipped, something ran.
func (c Counts) OK() bool {
	return c.Failed == 0 && c.Skipped == 0 && !c.Broken && c.Run > 0
}

func (c *Counts) add(o Counts) {
	c.Run += o.Run
	c.Passed += o.Passed
	c.Failed += o.Failed
	c.Skipped += o.Skipped
	c.NotApplicable = append(c.NotApplicable, o.NotApplicable...)
	c.Broken = c.Broken || o.Broken
	c.Seconds += o.Seconds
	if c.Unit == "" {
		c.Unit = o.Unit
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// Line is the stage's summary line.
func (c Counts) Line() string {
	status := "ok"
	switch {
	case c.Run == 0:
		status = "FAILED (nothing ran)"
	case c.Skipped > 0:
		status = "FAILED (a skipped test inside make test is a defect)"
	case c.Failed > 0 || c.Broken:
		status = "FAILED"
	}
	s := fmt.Sprintf("==> %s: %s run, %d passed, %d failed, %d skipped", c.Stage, plural(c.Run, c.Unit), c.Passed, c.Failed, c.Skipped)
	if len(c.NotApplicable) > 0 {
		s += fmt.Sprintf(" (not applicable: %s)", strings.Join(c.NotApplicable, ", "))
	}
	if c.Broken {
		s += " (and an error outside the tests, above)"
	}
	return s + fmt.Sprintf(" in %s: %s", duration(c.Seconds), status)
}

// CommandLine is one command's result inside its stage, indented under it
// so that it does not read as a stage of its own.
func (c Counts) CommandLine() string {
	took := " in " + duration(c.Seconds)
	if c.Unit == "check" && c.Run == 1 {
		if c.OK() {
			return "  -> passed" + took
		}
		return "  -> FAILED" + took
	}
	s := fmt.Sprintf("  -> %s run, %d passed, %d failed, %d skipped", plural(c.Run, c.Unit), c.Passed, c.Failed, c.Skipped)
	if c.Broken {
		s += " (and an error outside the tests, above)"
	}
	return s + took
}

// duration shows seconds as make test's lines do: "9s", "2m05s", "1h02m".
func duration(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func stageFile(dir, stage string) string {
	return filepath.Join(dir, strings.ReplaceAll(stage, string(filepath.Separator), "_")+".json")
}

// record adds c to the stage's counts of this make run and returns the sum.
func record(dir string, c Counts) (Counts, error) {
	c.RunID = os.Getenv(runEnv)
	path := stageFile(dir, c.Stage)
	if data, err := os.ReadFile(path); err == nil && c.RunID != "" {
		var prev Counts
		if json.Unmarshal(data, &prev) == nil && prev.RunID == c.RunID {
			prev.add(c)
			c = prev
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c, err
	}
	return c, writeCounts(path, c)
}

func writeCounts(path string, c Counts) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func readCounts(path string) (Counts, error) {
	var c Counts
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// readStages returns the recorded stages in the order they started.
func readStages(dir string) ([]Counts, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var stages []Counts
	for _, p := range paths {
		c, err := readCounts(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		stages = append(stages, c)
	}
	sort.SliceStable(stages, func(i, j int) bool { return stages[i].Started.Before(stages[j].Started) })
	return stages, nil
}

// printTotal prints each stage, the total time (elapsed: the whole of make
// test, set-up included; 0 when unknown) and the closing tally, the last
// line of 'make test', and returns the exit status: non-zero when make
// failed or a stage did. A make failure outside every recorded stage (a
// set-up step, a stage that never started) counts as one failure, so that
// the tally never says "0 failed" for a red run.
func printTotal(w io.Writer, stages []Counts, makeStatus int, elapsed time.Duration) int {
	var sum Counts
	var staged float64
	failedStages := 0
	fmt.Fprintln(w, "==> make test: what each stage ran")
	for _, c := range stages {
		fmt.Fprintln(w, "   "+strings.TrimPrefix(c.Line(), "==> "))
		staged += c.Seconds
		sum.Passed += c.Passed
		sum.Failed += c.Failed
		sum.Skipped += c.Skipped
		if !c.OK() {
			failedStages++
			if c.Failed == 0 && c.Skipped == 0 {
				sum.Failed++ // broken, or ran nothing: one failure
			}
		}
	}
	if makeStatus != 0 && failedStages == 0 {
		fmt.Fprintf(w, "   make failed outside the stages above (exit status %d, see the output above): counted as 1 failed\n", makeStatus)
		sum.Failed++
	}
	if len(stages) == 0 {
		fmt.Fprintln(w, "   no stage recorded any count")
		if makeStatus == 0 {
			sum.Failed++
		}
	}
	if elapsed > 0 {
		fmt.Fprintf(w, "   total time: %s (the stages %s; the rest is set-up: packages, virtualenvs, binaries)\n",
			duration(elapsed.Seconds()), duration(staged))
	} else {
		fmt.Fprintf(w, "   total time of the stages: %s\n", duration(staged))
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", sum.Passed, sum.Failed, sum.Skipped)
	if sum.Failed > 0 || sum.Skipped > 0 || makeStatus != 0 {
		return 1
	}
	return 0
}
