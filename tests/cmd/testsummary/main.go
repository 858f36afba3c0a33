// Command testsummary counts what each stage of 'make test' ran, so that the
// run ends with one plain line CI can read: "N passed, N failed, N skipped".
//
//	testsummary go -stage NAME [-keep-going] -- go test -json ARGS...
//	    runs go test, prints each top-level test as it finishes (failed and
//	    skipped ones with their whole output), counts every test and subtest;
//	    a skipped test or a stage that ran no test fails the stage
//	testsummary run -stage NAME [-keep-going] -- COMMAND...
//	    any other command: its output as is, counted as one check, unless it
//	    writes counts of its own to the file named by $TESTSUMMARY_COUNTS
//	testsummary end -stage NAME
//	    prints the stage's line (what its commands ran, added up) and exits
//	    non-zero when the stage failed
//	testsummary sanity -log FILE -junit DIR
//	    counts an ansible-test sanity run (tests/run-sanity.sh) from its
//	    console log and --junit results; fails when a sanity test was skipped
//	testsummary total -status N [-started UNIX-SECONDS]
//	    prints every stage's counts, the total time and the closing tally line
//
// Each stage's counts go to build/test-counts/STAGE.json. Calls sharing a
// stage name within one make run ($TESTSUMMARY_RUN) add up, so a target may
// run several commands as one stage: each command prints one line of its
// own ("  -> passed in 3s"), and 'end' the stage's line, once. With
// -keep-going a command's failure is recorded and its exit status is 0, so
// that make goes on with the stage's other commands; 'end' fails the stage.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	code := 0
	switch os.Args[1] {
	case "go", "run":
		code, err = stageCommand(os.Args[1], os.Args[2:])
	case "end":
		code, err = endCommand(os.Args[2:])
	case "sanity":
		code, err = sanityCommand(os.Args[2:])
	case "total":
		code, err = totalCommand(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		if code == 0 {
			code = 2
		}
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testsummary go|run -stage NAME [-keep-going] -- COMMAND... | end -stage NAME | sanity -log FILE -junit DIR | total -status N [-started UNIX-SECONDS]")
	os.Exit(2)
}

func stageCommand(mode string, args []string) (int, error) {
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	stage := fs.String("stage", "", "the stage's name (its counts file is DIR/NAME.json)")
	dir := fs.String("dir", defaultDir, "where the stages' counts are kept")
	keepGoing := fs.Bool("keep-going", false, "exit 0 once the result is recorded, failed or not: 'testsummary end' reports the stage")
	_ = fs.Parse(args)
	if *stage == "" || fs.NArg() == 0 {
		usage()
	}
	fmt.Printf("$ %s\n", shellJoin(fs.Args()))
	var c Counts
	var err error
	if mode == "go" {
		c, err = runGoTest(fs.Args(), os.Stdout)
	} else {
		c, err = runCommand(fs.Args())
	}
	if err != nil {
		return 1, err
	}
	c.Stage = *stage
	if _, err := record(*dir, c); err != nil {
		return 1, err
	}
	fmt.Println(c.CommandLine())
	if !c.OK() && !*keepGoing {
		return 1, nil
	}
	return 0, nil
}

// endCommand prints a stage's line once, after its last command, and fails
// when the stage did (or when none of its commands recorded anything in
// this make run).
func endCommand(args []string) (int, error) {
	fs := flag.NewFlagSet("end", flag.ExitOnError)
	stage := fs.String("stage", "", "the stage's name")
	dir := fs.String("dir", defaultDir, "where the stages' counts are kept")
	_ = fs.Parse(args)
	if *stage == "" || fs.NArg() != 0 {
		usage()
	}
	c, err := readCounts(stageFile(*dir, *stage))
	if err != nil || c.RunID != os.Getenv(runEnv) {
		// Nothing of this run: the stage's first command never got to run.
		c = Counts{Stage: *stage, Unit: "check"}
	}
	fmt.Println(c.Line())
	if !c.OK() {
		return 1, nil
	}
	return 0, nil
}

func sanityCommand(args []string) (int, error) {
	fs := flag.NewFlagSet("sanity", flag.ExitOnError)
	logPath := fs.String("log", "", "ansible-test's console output")
	junit := fs.String("junit", "", "ansible-test's tests/output/junit directory")
	_ = fs.Parse(args)
	if *logPath == "" || *junit == "" {
		usage()
	}
	c, err := countSanity(*logPath, *junit)
	if err != nil {
		return 1, err
	}
	for _, n := range c.Notes {
		fmt.Println(n)
	}
	if path := os.Getenv(countsEnv); path != "" {
		if err := writeCounts(path, c); err != nil {
			return 1, err
		}
	}
	if !c.OK() {
		fmt.Printf("ansible-test sanity: %d failed, %d skipped (a skipped sanity test fails the run: install what it needs)\n", c.Failed, c.Skipped)
		return 1, nil
	}
	return 0, nil
}

func totalCommand(args []string) (int, error) {
	fs := flag.NewFlagSet("total", flag.ExitOnError)
	dir := fs.String("dir", defaultDir, "where the stages' counts are kept")
	status := fs.Int("status", 0, "make's exit status for the stages")
	started := fs.Int64("started", 0, "when make test started (Unix seconds), for the total time")
	_ = fs.Parse(args)
	stages, err := readStages(*dir)
	if err != nil {
		return 1, err
	}
	var elapsed time.Duration
	if *started > 0 {
		elapsed = time.Since(time.Unix(*started, 0))
	}
	return printTotal(os.Stdout, stages, *status, elapsed), nil
}

var plainArg = regexp.MustCompile(`^[A-Za-z0-9_./=:@%+,-]+$`)

// shellJoin shows a command as it could be typed.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if plainArg.MatchString(a) {
			quoted[i] = a
		} else {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}
