package synapsetest

import (
	"strings"
	"testing"
)

// Without run-mas.sh the MAS harness fails, saying how to provide one; it
// has no way to skip.
func TestMASDirMissingSaysHowToProvide(t *testing.T) {
	t.Setenv(MASDirEnv, t.TempDir())
	_, err := MASDir()
	if err == nil {
		t.Fatal("MASDir found run-mas.sh in an empty directory")
	}
	if _, startErr := startMAS(MASConfig{}); startErr == nil || startErr.Error() != err.Error() {
		t.Fatalf("startMAS: %v, want the MASDir error %v", startErr, err)
	}
	for _, want := range []string{MASDirEnv, MASBinEnv, "run-mas.sh", "make e2e-mas"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}

// MAS reads every MAS_* variable as configuration: only MAS_BIN, which
// run-mas.sh reads, reaches it.
func TestMASEnvPassesOnlyMASBin(t *testing.T) {
	t.Setenv("MAS_HTTP_PUBLIC_BASE", "http://elsewhere/")
	t.Setenv(MASBinEnv, "/opt/mas-cli")
	var got []string
	for _, kv := range masEnv("WORK=/w") {
		if strings.HasPrefix(kv, "MAS_") || kv == "WORK=/w" {
			got = append(got, kv)
		}
	}
	if strings.Join(got, " ") != "MAS_BIN=/opt/mas-cli WORK=/w" {
		t.Fatalf("MAS_* variables passed on: %v", got)
	}
}
