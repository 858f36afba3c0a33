package main

import (
	"strings"
	"testing"
)

// A run of some parts replaces their sections of the results file and
// keeps every other section, in the file's order.
func TestMergeReportReplacesOnlyFreshSections(t *testing.T) {
	old := "# Benchmarks\n\nold date\n\n## Machine\n\nold machine\n\n## Results\n\nold results\n\n## Over SSH\n\nold ssh\n\n## Notes by hand\n\nkept\n"
	fresh := map[string]string{}
	addSections(fresh, "# Benchmarks\n\nnew date\n\n## Machine\n\nnew machine\n")
	addSections(fresh, "## Many homeservers\n\nnew hosts\n")
	got := mergeReport(old, fresh)
	want := "# Benchmarks\n\nnew date\n\n## Machine\n\nnew machine\n\n## Results\n\nold results\n\n## Many homeservers\n\nnew hosts\n\n## Over SSH\n\nold ssh\n\n## Notes by hand\n\nkept\n"
	if got != want {
		t.Fatalf("merged:\n%s\nwant:\n%s", got, want)
	}
	// Without an old file, only what ran.
	if got := mergeReport("", fresh); strings.Contains(got, "Results") || !strings.Contains(got, "new hosts") {
		t.Fatalf("merged into nothing:\n%s", got)
	}
}

// The play recap check refuses a run that changed or failed something,
// and one that covered fewer hosts than the inventory has.
func TestRecapUnchanged(t *testing.T) {
	line := func(host, changed, failed string) string {
		return host + " : ok=2 changed=" + changed + " unreachable=0 failed=" + failed + " skipped=2 rescued=0 ignored=0 \n"
	}
	if err := recapUnchanged([]byte("PLAY RECAP\n"+line("a", "0", "0")+line("b", "0", "0")), 2); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"changed":       line("a", "1", "0"),
		"failed":        line("a", "0", "1"),
		"changed=10":    line("a", "10", "0"),
		"too few hosts": "",
	} {
		if err := recapUnchanged([]byte("PLAY RECAP\n"+out), 1); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
