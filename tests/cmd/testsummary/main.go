// Command testsummary counts what each stage of 'make test' ran, so that the
// run ends with one plain line CI can read: "N passed, N failed, N skipped".
//
//	testsummary go -stage NAME -- go test -json ARGS...
//	    runs go test, prints each top-level test as it finishes (failed and
//	    skipped ones with their whole output), counts every test and subtest;
//	    a skipped test or a stage that ran no test fails the stage
//	testsummary run -stage NAME -- COMMAND...
//	    any other command: its output as is, counted as one check, unless it
//	    writes counts of its own to the file named by $TESTSUMMARY_COUNTS
//	testsummary sanity -log FILE -junit DIR
//	    counts an ansible-test sanity run (tests/run-sanity.sh) from its
//	    console log and --junit results; fails when a sanity test was skipped
//	testsummary total -status N
//	    prints every stage's counts and the closing tally line
//
// Each stage's counts go to build/test-counts/STAGE.json. Calls sharing a
// stage name within one make run ($TESTSUMMARY_RUN) add up, so a target may
// run several commands as one stage.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
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
	fmt.Fprintln(os.Stderr, "usage: testsummary go|run -stage NAME -- COMMAND... | sanity -log FILE -junit DIR | total -status N")
	os.Exit(2)
}

func stageCommand(mode string, args []string) (int, error) {
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	stage := fs.String("stage", "", "the stage's name (its counts file is DIR/NAME.json)")
	dir := fs.String("dir", defaultDir, "where the stages' counts are kept")
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
	total, err := record(*dir, c)
	if err != nil {
		return 1, err
	}
	fmt.Println(total.Line())
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
	_ = fs.Parse(args)
	stages, err := readStages(*dir)
	if err != nil {
		return 1, err
	}
	return printTotal(os.Stdout, stages, *status), nil
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
