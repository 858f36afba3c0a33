package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// readReport reads the run report's two files, adds them to the suite's
// secret scan, and checks that nothing else was left in the directory (a
// half-written temporary file).
func readReport(t *testing.T, base string) (string, map[string]any) {
	t.Helper()
	md, err := os.ReadFile(base + ".md")
	require.NoError(t, err)
	data, err := os.ReadFile(base + ".json")
	require.NoError(t, err)
	recordOutput(string(md))
	recordOutput(string(data))
	var js map[string]any
	require.NoError(t, json.Unmarshal(data, &js), string(data))
	entries, err := os.ReadDir(filepath.Dir(base))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{filepath.Base(base) + ".md", filepath.Base(base) + ".json"}, names)
	return string(md), js
}

// TestRoleReport: the run report of a run with changes, of a check run, of a
// drift-gate failure and of a failed run. On a Synapse of its own: the report
// reads the whole user list, which parallel tests would shift.
func TestRoleReport(t *testing.T) {
	t.Parallel()
	f := fixtureOn(t, synapsetest.New(t, synapsetest.Config{}))
	_, err := f.srv.Register("stranger", "stranger-pw-long-1", true)
	require.NoError(t, err)
	_, err = f.srv.Register("dormant", "dormant-pw-long-1", false)
	require.NoError(t, err)
	const secret = "report-secret-pw-1"
	recordSecrets(secret, "stranger-pw-long-1", "dormant-pw-long-1")
	// Inactive: never seen and made before this moment (the accounts the
	// run creates come after it).
	cutoff := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(cutoff) + 100*time.Millisecond)
	base := filepath.Join(t.TempDir(), "report")
	list := []any{
		map[string]any{"username": "alice", "password": secret, "displayname": "Alice"},
		map[string]any{"username": "boss", "admin": true, "password": secret},
		map[string]any{"username": "dormant"},
	}
	vars := f.roleVars(map[string]any{"matrix_users_list": list, "matrix_users_report_path": base + ".md",
		"matrix_users_report_inactive_after": cutoff.Format(time.RFC3339)})

	// A run with changes.
	pb := f.runRole(t, vars)
	require.Equal(t, 0, pb.Exit, pb.Output)
	md, js := readReport(t, base)
	assert.True(t, strings.HasPrefix(md, "**Changed** 2 account(s) (2 created, 1 unchanged)"), md)
	assert.Equal(t, "changed", js["status"])
	assert.Equal(t, false, js["check_mode"])
	changes := js["changes"].([]any)
	require.Len(t, changes, 2)
	first := changes[0].(map[string]any)
	assert.Equal(t, f.srv.UserID("alice"), first["user"])
	assert.Equal(t, "created", first["action"])
	assert.Contains(t, first["fields"], "password", "the field is named, its value never")
	assert.ElementsMatch(t, []any{f.srv.UserID("stranger"), f.adminID}, js["undeclared_admins"], "admins not declared as admin; boss is declared")
	inactive := map[string]bool{}
	for _, a := range js["inactive"].([]any) {
		inactive[a.(map[string]any)["user_id"].(string)] = true
	}
	assert.True(t, inactive[f.srv.UserID("dormant")], "never seen: %v", js["inactive"])
	assert.False(t, inactive[f.srv.UserID("alice")], "made by this run: not unused since the cutoff")
	assert.Equal(t, cutoff.Format(time.RFC3339), js["inactive_after"])
	assert.Contains(t, md, "| "+f.srv.UserID("alice")+" | yes | created |")
	assert.Contains(t, md, "### Admins the inventory does not declare as admin\n\n- "+f.adminID)
	assert.Contains(t, md, "| "+f.srv.UserID("dormant")+" | never |")
	assert.NotContains(t, md+string(mustMarshal(t, js)), secret)

	// A check run with drift, no gate: the report says what would change;
	// the run wrote nothing to Synapse.
	list[0] = map[string]any{"username": "alice", "displayname": "Alice Changed"}
	pb = f.runRole(t, vars, "--check")
	require.Equal(t, 0, pb.Exit, pb.Output)
	f.requireNoWrites(t)
	md, js = readReport(t, base)
	assert.True(t, strings.HasPrefix(md, "**Drift**: 1 account(s) differ from the declaration (1 would be updated, 2 unchanged)"), md)
	assert.Equal(t, "drift", js["status"])
	assert.Contains(t, md, `| would be updated | displayname "Alice"→"Alice Changed" |`)

	// The drift gate fails the check run: the report is written, saying so.
	vars["matrix_users_fail_on_drift"] = true
	pb = f.runRole(t, vars, "--check")
	require.NotEqual(t, 0, pb.Exit)
	md, js = readReport(t, base)
	assert.True(t, strings.HasPrefix(md, "**The run failed** (check mode): Synapse differs from the declared users"), md)
	assert.Equal(t, "failed", js["status"])
	assert.Len(t, js["changes"], 1)

	// Exclusive mode in a check run: the undeclared account it would
	// deactivate, and the one a protect pattern keeps.
	_, err = f.srv.Register("leaver", "leaver-pw-long-1", false)
	require.NoError(t, err)
	recordSecrets("leaver-pw-long-1")
	exclusive := f.roleVars(map[string]any{"matrix_users_list": list, "matrix_users_report_path": base,
		"matrix_users_exclusive": true, "matrix_users_protect": []any{"strang*"}})
	pb = f.runRole(t, exclusive, "--check")
	require.Equal(t, 0, pb.Exit, pb.Output)
	f.requireNoWrites(t)
	md, js = readReport(t, base)
	assert.Equal(t, []any{f.srv.UserID("leaver")}, js["undeclared_deactivated"])
	assert.Equal(t, []any{f.srv.UserID("stranger")}, js["undeclared_protected"])
	assert.Contains(t, md, "| "+f.srv.UserID("leaver")+" | would deactivate it |")
	assert.Contains(t, md, "| "+f.srv.UserID("stranger")+" | protects it (matrix_users_protect) |")
	assert.Contains(t, md, "| "+f.srv.UserID("leaver")+" | no | would be deactivated |")

	// A failed run (a token Synapse refuses): the report says so, and
	// that the accounts could not be read; the token is nowhere in it.
	bad := f.roleVars(map[string]any{"matrix_users_list": list, "matrix_users_report_path": base, "matrix_users_admin_token": "refused-token-0123456789"})
	recordSecrets("refused-token-0123456789")
	pb = f.runRole(t, bad)
	require.NotEqual(t, 0, pb.Exit)
	md, js = readReport(t, base)
	assert.True(t, strings.HasPrefix(md, "**The run failed**: "), md)
	assert.Contains(t, md, "Not in this report: ")
	assert.Equal(t, true, js["failed"])
	assert.Len(t, js["unread"], 2)
	assert.NotContains(t, md+string(mustMarshal(t, js)), "refused-token-0123456789")
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

// TestRoleReportPathRefusedBeforeAnyRequest: a report that could not be
// written fails the run before it sends anything.
func TestRoleReportPathRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	readOnly := filepath.Join(dir, "ro")
	require.NoError(t, os.Mkdir(readOnly, 0o500))
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for path, want := range map[string]string{
		filepath.Join(dir, "missing", "report"): "does not exist",
		filepath.Join(readOnly, "report"):       "is not writable",
		filepath.Join(file, "report"):           "is not a directory",
	} {
		if want == "is not writable" && os.Geteuid() == 0 {
			continue // root writes anywhere
		}
		pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": []any{map[string]any{"username": "x"}}, "matrix_users_report_path": path}))
		assert.NotEqual(t, 0, pb.Exit, path)
		assert.Contains(t, pb.Output, "matrix_users_report_path: "+filepath.Dir(path)+" (on the controller) "+want, pb.Output)
		assert.Empty(t, f.proxy.Requests(), "refused before any request")
	}
}
