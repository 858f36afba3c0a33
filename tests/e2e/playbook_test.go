package e2e

import (
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
