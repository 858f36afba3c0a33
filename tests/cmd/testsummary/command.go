package main

import (
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// runCommand runs a stage that is not go test. Its output passes through;
// it counts as one check unless it wrote counts of its own (ansible-test
// sanity does) to $TESTSUMMARY_COUNTS.
func runCommand(argv []string) (Counts, error) {
	start := time.Now()
	f, err := os.CreateTemp("", "testsummary-*.json")
	if err != nil {
		return Counts{}, err
	}
	countsPath := f.Name()
	f.Close()
	os.Remove(countsPath)
	defer os.Remove(countsPath)

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), countsEnv+"="+countsPath)
	runErr := cmd.Run()
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return Counts{}, runErr
	}

	c := Counts{Unit: "check", Run: 1, Passed: 1}
	if own, err := readCounts(countsPath); err == nil {
		c = own
	} else if !errors.Is(err, os.ErrNotExist) {
		return Counts{}, err
	}
	if runErr != nil && c.Failed == 0 && c.Skipped == 0 {
		if c.Run == 1 && c.Unit == "check" {
			c.Passed, c.Failed = 0, 1
		} else {
			c.Broken = true
		}
	}
	c.Started, c.Seconds = start, time.Since(start).Seconds()
	return c, nil
}

var (
	runningRe = regexp.MustCompile(`^Running sanity test "([^"]+)"`)
	// The warnings ansible-test prints when it skips a test that applies:
	// a program it needs is missing, a Python version, a virtualenv, libyaml.
	skipWarningRe = regexp.MustCompile(`^WARNING: (Required program "[^"]+" not found\.?|Skipping sanity test "([^"]+)".*)`)
)

// notApplicable is how ansible-test describes a test with no file of its
// kind in the collection (pslint without PowerShell). It says the same when
// a test is skipped for a missing program, so the console's warnings decide.
const notApplicable = "No tests applicable."

type junitCase struct {
	Name     string   `xml:"name,attr"`
	Skipped  *string  `xml:"skipped"`
	Failures []string `xml:"failure"`
	Errors   []string `xml:"error"`
}

type junitSuites struct {
	Suites []struct {
		Cases []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

// countSanity counts one ansible-test sanity run from its console log and
// the junit files it wrote with --junit. A sanity test is passed, failed,
// skipped (a program or a Python it needs is missing: the run fails), or
// not applicable (nothing of its kind in the collection: not counted as run).
func countSanity(logPath, junitDir string) (Counts, error) {
	c := Counts{Stage: "sanity", Unit: "check"}
	log, err := os.ReadFile(logPath)
	if err != nil {
		return c, err
	}
	skippedBy := map[string]string{} // test -> why ansible-test skipped it
	current := ""
	for _, l := range strings.Split(string(log), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "WARNING: Reviewing previous") {
			break // the warnings again, after the last test
		}
		if m := runningRe.FindStringSubmatch(l); m != nil {
			current = m[1]
			continue
		}
		if m := skipWarningRe.FindStringSubmatch(l); m != nil {
			test := current
			if m[2] != "" {
				test = m[2]
			}
			if test != "" {
				skippedBy[test] = m[1]
			}
		}
	}

	paths, err := filepath.Glob(filepath.Join(junitDir, "*.xml"))
	if err != nil {
		return c, err
	}
	if len(paths) == 0 {
		return c, fmt.Errorf("ansible-test wrote no results to %s (was it run with --junit?)", junitDir)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return c, err
		}
		var suites junitSuites
		if err := xml.Unmarshal(data, &suites); err != nil {
			return c, fmt.Errorf("%s: %w", p, err)
		}
		for _, s := range suites.Suites {
			for _, tc := range s.Cases {
				test := tc.Name
				if i := strings.Index(test, "-python-"); i > 0 {
					test = test[:i]
				}
				seen[test] = true
				switch why, warned := skippedBy[test]; {
				case len(tc.Failures) > 0 || len(tc.Errors) > 0:
					c.Run++
					c.Failed++
					c.Notes = append(c.Notes, fmt.Sprintf("FAIL  sanity test %s", tc.Name))
				case warned:
					c.Run++
					c.Skipped++
					c.Notes = append(c.Notes, fmt.Sprintf("SKIP  sanity test %s: %s", tc.Name, why))
				case tc.Skipped != nil && strings.TrimSpace(*tc.Skipped) == notApplicable:
					c.NotApplicable = append(c.NotApplicable, tc.Name)
				case tc.Skipped != nil:
					c.Run++
					c.Skipped++
					c.Notes = append(c.Notes, fmt.Sprintf("SKIP  sanity test %s: %s", tc.Name, strings.TrimSpace(*tc.Skipped)))
				default:
					c.Run++
					c.Passed++
				}
			}
		}
	}
	for test, why := range skippedBy {
		if !seen[test] {
			c.Run++
			c.Skipped++
			c.Notes = append(c.Notes, fmt.Sprintf("SKIP  sanity test %s: %s", test, why))
		}
	}
	sort.Strings(c.NotApplicable)
	sort.Strings(c.Notes)
	return c, nil
}
