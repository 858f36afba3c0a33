package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"time"
)

// event is one line of 'go test -json' (cmd/test2json).
type event struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string // build-output, build-fail
	FailedBuild string
}

// runGoTest runs a 'go test -json' command and summarises its output on w.
func runGoTest(argv []string, w io.Writer) (Counts, error) {
	start := time.Now()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Counts{}, err
	}
	if err := cmd.Start(); err != nil {
		return Counts{}, err
	}
	c := summarise(stdout, w)
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return c, err
		}
		if c.Failed == 0 {
			// A build error, a bad flag, a crash outside any test.
			fmt.Fprintf(w, "FAIL  %s: %v outside any test\n", strings.Join(argv, " "), err)
			c.Broken = true
		}
	}
	c.Started, c.Seconds = start, time.Since(start).Seconds()
	return c, nil
}

// summarise reads a 'go test -json' stream and writes what a reader needs:
// each top-level test as it finishes (one line when it passes, its whole
// output when it fails or anything in it was skipped), package-level output
// (TestMain, build errors) as it comes, and every line that is not JSON. It
// counts every test and subtest.
func summarise(r io.Reader, w io.Writer) Counts {
	c := Counts{Unit: "test"}
	s := &streamer{w: w, output: map[string][]line{}, subtests: map[string]int{}, skippedIn: map[string]bool{},
		failedTests: map[string]int{}, running: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		text := sc.Text()
		var e event
		if !strings.HasPrefix(text, "{") || json.Unmarshal([]byte(text), &e) != nil || e.Action == "" {
			fmt.Fprintln(w, text)
			continue
		}
		s.handle(e, &c)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(w, "testsummary: reading go test's output:", err)
		c.Broken = true
	}
	return c
}

type line struct {
	test string
	text string
}

type streamer struct {
	w io.Writer
	// output of each package's tests, in order, keyed by package.
	output      map[string][]line
	subtests    map[string]int  // package + top-level test -> subtests finished
	skippedIn   map[string]bool // package + top-level test -> a subtest was skipped
	failedTests map[string]int  // package -> tests failed
	running     map[string]bool // package + test -> started, not finished
}

func topLevel(test string) string {
	top, _, _ := strings.Cut(test, "/")
	return top
}

func (s *streamer) handle(e event, c *Counts) {
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.w, e.Output)
	case "run":
		s.running[e.Package+" "+e.Test] = true
	case "output":
		if e.Test == "" {
			// Package-level: TestMain's output, "ok pkg 1.2s", panics.
			if t := strings.TrimSpace(e.Output); t != "PASS" && t != "FAIL" {
				fmt.Fprint(s.w, e.Output)
			}
			return
		}
		s.output[e.Package] = append(s.output[e.Package], line{e.Test, e.Output})
	case "pass", "fail", "skip":
		if e.Test == "" {
			s.packageDone(e, c)
			return
		}
		c.Run++
		delete(s.running, e.Package+" "+e.Test)
		key := e.Package + " " + topLevel(e.Test)
		switch e.Action {
		case "pass":
			c.Passed++
		case "fail":
			c.Failed++
			s.failedTests[e.Package]++
		case "skip":
			c.Skipped++
			s.skippedIn[key] = true
		}
		if topLevel(e.Test) != e.Test {
			s.subtests[key]++
			return
		}
		s.testDone(e, key)
	}
}

func (s *streamer) name(e event) string {
	return path.Base(e.Package) + "." + e.Test
}

// testDone prints a finished top-level test and forgets its output.
func (s *streamer) testDone(e event, key string) {
	detail := fmt.Sprintf("%.2fs", e.Elapsed)
	if n := s.subtests[key]; n > 0 {
		detail += fmt.Sprintf(", %d subtests", n)
	}
	var mine, rest []line
	for _, l := range s.output[e.Package] {
		if topLevel(l.test) == e.Test {
			mine = append(mine, l)
		} else {
			rest = append(rest, l)
		}
	}
	s.output[e.Package] = rest
	switch {
	case e.Action == "pass" && !s.skippedIn[key]:
		fmt.Fprintf(s.w, "ok    %s (%s)\n", s.name(e), detail)
		return
	case e.Action == "pass":
		fmt.Fprintf(s.w, "SKIP  %s (%s): a subtest was skipped\n", s.name(e), detail)
	case e.Action == "skip":
		fmt.Fprintf(s.w, "SKIP  %s (%s)\n", s.name(e), detail)
	default:
		fmt.Fprintf(s.w, "FAIL  %s (%s)\n", s.name(e), detail)
	}
	for _, l := range mine {
		t := strings.TrimSpace(l.text)
		if strings.HasPrefix(t, "=== RUN") || strings.HasPrefix(t, "=== PAUSE") || strings.HasPrefix(t, "=== CONT") || strings.HasPrefix(t, "=== NAME") {
			continue
		}
		fmt.Fprint(s.w, "      "+l.text)
	}
	delete(s.subtests, key)
	delete(s.skippedIn, key)
}

// packageDone handles a package's result: a failure with no failed test
// (build error, TestMain, a panic between tests) breaks the stage; the
// output of tests that never finished (a crash) is printed.
func (s *streamer) packageDone(e event, c *Counts) {
	if e.Action != "fail" {
		return
	}
	// Tests cut off by a timeout or a crash: failed.
	var unfinished []string
	for k := range s.running {
		if pkg, test, _ := strings.Cut(k, " "); pkg == e.Package {
			unfinished = append(unfinished, test)
			delete(s.running, k)
		}
	}
	sort.Strings(unfinished)
	for _, test := range unfinished {
		c.Run++
		c.Failed++
		s.failedTests[e.Package]++
		fmt.Fprintf(s.w, "FAIL  %s (did not finish)\n", s.name(event{Package: e.Package, Test: test}))
	}
	for _, l := range s.output[e.Package] {
		fmt.Fprint(s.w, "      "+l.text)
	}
	delete(s.output, e.Package)
	if s.failedTests[e.Package] == 0 {
		what := "outside any test"
		if e.FailedBuild != "" {
			what = "to build"
		}
		fmt.Fprintf(s.w, "FAIL  %s failed %s\n", e.Package, what)
		c.Broken = true
	}
}
