package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlaybookMatrixUser(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("playbook")
	vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name,
		"test_password": "playbook-pass-1", "test_displayname": "Play Book", "test_admin": "no"}

	pb := ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_user.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	_, changed, _ := pb.Recap(t, "synapse_host")
	assert.Equal(t, 1, changed, "first run creates the user")
	assert.Equal(t, "Play Book", f.read(t, name)["displayname"])

	f.proxy.Reset()
	pb = ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_user.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	_, changed, _ = pb.Recap(t, "synapse_host")
	assert.Equal(t, 0, changed, "second run changes nothing")
	f.requireNoWrites(t)

	vars["test_displayname"] = "Renamed In Check"
	vars["test_admin"] = "yes"
	pb = ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_user.yml", "--check", "--diff", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	_, changed, _ = pb.Recap(t, "synapse_host")
	assert.Equal(t, 1, changed, "check mode predicts the change")
	assert.Contains(t, pb.Output, `-    "displayname": "Play Book"`)
	assert.Contains(t, pb.Output, `+    "displayname": "Renamed In Check"`)
	assert.Contains(t, pb.Output, `+    "admin": true`)
	f.requireNoWrites(t)
	assert.Equal(t, "Play Book", f.read(t, name)["displayname"], "check mode changed nothing")
	assert.NotContains(t, pb.Output, "playbook-pass-1")

	// The most verbose run shows module invocations and results in full:
	// still no password and no token.
	vars["test_password"] = "playbook-verbose-secret-2"
	pb = ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_user.yml", "-vvvv", "--diff", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "mxadmin_synapse_", "-vvvv shows the module being run")
	assert.NotContains(t, pb.Output, "playbook-verbose-secret-2")
	assert.NotContains(t, pb.Output, f.token)
}

// TestActionPluginPicksThePlatformBinary runs the module on hosts that say
// (through a stand-in uname on PATH) they are other platforms: one the
// collection has no binary for, and one whose binary is not installed.
func TestActionPluginPicksThePlatformBinary(t *testing.T) {
	f := newFixture(t)
	vars := map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": uniqueUser("platform"),
		"test_password": "platform-pass-1", "test_displayname": "P", "test_admin": "no"}
	for answer, want := range map[string]string{
		"SunOS sun4v":   "no binary for SunOS sun4v; the collection ships binaries for Linux and macOS on x86_64 and arm64",
		"Linux riscv64": "no binary for Linux riscv64",
		"Darwin arm64":  "the collection has no binary mxadmin.synapse.__mxadmin_synapse_darwin_arm64",
	} {
		bin := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(bin, "uname"), []byte("#!/bin/sh\necho '"+answer+"'\n"), 0o755))
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		f.proxy.Reset()
		pb := ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_user.yml", "-e", extraVars(t, vars))
		assert.NotEqual(t, 0, pb.Exit, answer)
		assert.Contains(t, pb.Output, want, answer)
		assert.Empty(t, f.proxy.Requests(), "%s: nothing was run", answer)
	}
}

func TestPlaybookAsync(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("async")
	pb := ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_user_async.yml",
		"-e", extraVars(t, map[string]any{"synapse_url": f.proxy.URL, "synapse_admin_token": f.token, "test_user": name}))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, "Async", f.read(t, name)["displayname"])
}
