//go:build platforms

// The shipped binaries of the platforms this machine is not: make
// e2e-platforms builds them (make build), installs qemu-aarch64 and runs
// these tests with -tags platforms. The build tag keeps them out of plain
// 'go test ./tests/...', where qemu may be missing; with the tag nothing is
// skipped: a missing binary or a missing qemu fails.
package e2e

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// shippedBinary is plugins/modules/__mxadmin_synapse_<platform>, as make
// build leaves it (MXADMIN_PLATFORM_BINARIES names another directory).
func shippedBinary(t *testing.T, platform string) string {
	t.Helper()
	dir := os.Getenv("MXADMIN_PLATFORM_BINARIES")
	if dir == "" {
		root, err := synapsetest.RepoRoot()
		require.NoError(t, err)
		dir = filepath.Join(root, "plugins", "modules")
	}
	path := filepath.Join(dir, "__mxadmin_synapse_"+platform)
	_, err := os.Stat(path)
	require.NoError(t, err, "the %s binary is built by make build", platform)
	return path
}

// collectionVersion is galaxy.yml's version, which make build writes into
// every binary (modules.Version, via -ldflags -X).
func collectionVersion(t *testing.T) string {
	t.Helper()
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, "galaxy.yml"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^version:\s*(\S+)\s*$`).FindSubmatch(data)
	require.NotNil(t, m, "galaxy.yml has no version")
	return string(m[1])
}

// runModuleOn runs a module the way Ansible does (an args file as the one
// argument, one JSON object out, nothing on stderr), with command (a binary,
// or an emulator and a binary) instead of the native test binary.
func runModuleOn(t *testing.T, command []string, module string, args map[string]any) Run {
	t.Helper()
	full := map[string]any{"_mxadmin_module": module, "_ansible_check_mode": false, "_ansible_diff": true,
		"_ansible_verbosity": 0, "_ansible_version": "2.19.14", "_ansible_module_name": "mxadmin.synapse.__mxadmin_synapse_linux_arm64"}
	for k, v := range args {
		full[k] = v
	}
	data, err := json.Marshal(full)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), fmt.Sprintf("args-%d", argsCounter.Add(1)))
	require.NoError(t, os.WriteFile(path, data, 0o600))
	recordSecrets(secretsIn(args)...)

	cmd := exec.Command(command[0], append(command[1:], path)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := Run{Stdout: stdout.String(), Stderr: stderr.String()}
	recordOutput(r.Stdout + r.Stderr)
	if exitErr, ok := err.(*exec.ExitError); ok {
		r.Exit = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", command, err)
	}
	assert.Empty(t, r.Stderr, "the module wrote to stderr")
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	require.NoError(t, dec.Decode(&r.Result), "module output is not one JSON object:\n%s", r.Stdout)
	require.False(t, dec.More(), "module printed more than one JSON value:\n%s", r.Stdout)
	return r
}

// TestPlatformLinuxArm64UnderQemu runs the shipped linux/arm64 binary
// (Raspberry Pi and ARM VPS homeservers) under qemu-aarch64 against a real
// Synapse: a create, a rerun that writes nothing, bad input refused before
// any request; and every request it sent names galaxy.yml's version.
func TestPlatformLinuxArm64UnderQemu(t *testing.T) {
	bin := shippedBinary(t, "linux_arm64")
	ef, err := elf.Open(bin)
	require.NoError(t, err, "the linux/arm64 binary is an ELF file")
	assert.Equal(t, elf.EM_AARCH64, ef.Machine)
	ef.Close()
	qemu, err := exec.LookPath("qemu-aarch64")
	require.NoError(t, err, "qemu-aarch64 (Debian's qemu-user) runs the arm64 binary; make qemu installs it")
	command := []string{qemu, bin}

	f := newFixture(t)
	var mu sync.Mutex
	agents := map[string]int{}
	f.proxy.SetFault(func(_ http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		agents[r.UserAgent()]++
		return false // only watch
	})
	run := func(extra map[string]any) Run {
		t.Helper()
		f.proxy.Reset()
		return runModuleOn(t, command, "matrix_user", f.args(extra))
	}

	name := uniqueUser("arm")
	args := map[string]any{"user": name, "password": "arm64-pass-123", "displayname": "Arm Test", "admin": true}
	r := run(args)
	require.False(t, r.failed(), "create under qemu failed: %s", r.Stdout)
	assert.True(t, r.changed())
	assert.Equal(t, "created", r.str("action"))
	assert.Len(t, f.proxy.Writes(), 2, "a create is two PUTs: the account, then its password and fields")
	u := f.read(t, name)
	require.NotNil(t, u, "the user exists on the server")
	assert.Equal(t, "Arm Test", u["displayname"])
	assert.Equal(t, true, u["admin"])
	_, err = f.srv.Login(name, "arm64-pass-123")
	require.NoError(t, err, "the declared password logs in")

	r = run(args)
	require.False(t, r.failed(), "rerun under qemu failed: %s", r.Stdout)
	assert.False(t, r.changed())
	assert.Equal(t, "unchanged", r.str("action"))
	f.requireNoWrites(t)

	r = run(map[string]any{"user": "arm user", "password": "arm64-bad-123"})
	assert.True(t, r.failed(), "bad input accepted: %s", r.Stdout)
	assert.Contains(t, r.msg(), "option user")
	assert.Contains(t, r.msg(), "may only contain")
	assert.Empty(t, f.proxy.Requests(), "bad input is refused before any request")
	assert.NotEqual(t, 0, r.Exit, "a failure exits non-zero")

	mu.Lock()
	defer mu.Unlock()
	want := "mxadmin.synapse/" + collectionVersion(t)
	assert.Equal(t, []string{want}, keys(agents), "the User-Agent of every request names the version the binary was built with")
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPlatformDarwinBinaries checks the macOS binaries, which nothing here
// can run: Mach-O executables for the right CPU, built from the same module
// and dependencies as the linux/arm64 binary that the test above runs, and
// carrying galaxy.yml's version. -trimpath keeps -ldflags out of the build
// info, so the version is looked for in the file itself and compared with a
// build without it (the same build without -X): the version's bytes must
// occur more often in the shipped file than in that control.
func TestPlatformDarwinBinaries(t *testing.T) {
	version := collectionVersion(t)
	linux, err := buildinfo.ReadFile(shippedBinary(t, "linux_arm64"))
	require.NoError(t, err)
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)

	for _, tc := range []struct {
		arch string
		cpu  macho.Cpu
	}{{"amd64", macho.CpuAmd64}, {"arm64", macho.CpuArm64}} {
		t.Run(tc.arch, func(t *testing.T) {
			bin := shippedBinary(t, "darwin_"+tc.arch)
			mf, err := macho.Open(bin)
			require.NoError(t, err, "the darwin/%s binary is a (thin) Mach-O file", tc.arch)
			assert.Equal(t, tc.cpu, mf.Cpu, "CPU type")
			assert.Equal(t, macho.TypeExec, mf.Type, "an executable")
			mf.Close()

			info, err := buildinfo.ReadFile(bin)
			require.NoError(t, err)
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			assert.Equal(t, "darwin", settings["GOOS"])
			assert.Equal(t, tc.arch, settings["GOARCH"])
			assert.Equal(t, "0", settings["CGO_ENABLED"], "a static binary")
			assert.Equal(t, "true", settings["-trimpath"])
			assert.Equal(t, linux.GoVersion, info.GoVersion, "the same Go as the linux binary")
			assert.Equal(t, linux.Path, info.Path)
			assert.Equal(t, depList(linux), depList(info), "the same dependencies as the linux binary")

			control := filepath.Join(t.TempDir(), "control")
			build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", control, "./modules-src/cmd/mxadmin-synapse")
			build.Dir = root
			build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=darwin", "GOARCH="+tc.arch)
			out, err := build.CombinedOutput()
			require.NoError(t, err, "building the control binary: %s", out)
			shipped, err := os.ReadFile(bin)
			require.NoError(t, err)
			plain, err := os.ReadFile(control)
			require.NoError(t, err)
			n, base := bytes.Count(shipped, []byte(version)), bytes.Count(plain, []byte(version))
			t.Logf("%s occurs %d times in the shipped binary, %d times in the build without -X", version, n, base)
			assert.Greater(t, n, base, "the version %s (%d times in the shipped binary, %d times without -X) was not built in", version, n, base)
		})
	}
}

func depList(info *buildinfo.BuildInfo) []string {
	var out []string
	for _, d := range info.Deps {
		out = append(out, d.Path+"@"+d.Version+" "+d.Sum)
	}
	return out
}
