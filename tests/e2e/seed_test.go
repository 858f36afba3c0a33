package e2e

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The role's register-user mode (the extra vars of the old register-user
// command) against a real Synapse: entered only from the command line, its
// values passed to the module as they were given, and never a silent choice
// between it and matrix_users_list.

// scratchPlays lays out a playbook directory of its own (an inventory with
// synapse_host, and the files given) for a test that needs variables from
// places the shared tests/playbooks has none of: host_vars, group_vars,
// another role.
func scratchPlays(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["inventory/hosts.yml"] = "all:\n  hosts:\n    synapse_host:\n      ansible_connection: local\n"
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// fatalLine is the last "fatal:" line of a run.
func fatalLine(out string) string {
	var fatal string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "fatal:") {
			fatal = line
		}
	}
	return fatal
}

const seedNote = "Register-user mode (username given with --extra-vars)"

// TestRoleSeedModeOnlyFromTheCommandLine is the trial of issue 18, item 1: a
// variable named username (and one named password) that another role, the
// inventory or a set_fact defines is not the register-user extra var. The
// role keeps matrix_users_list, as declared, and creates no account from
// them; only username given with --extra-vars enters register-user mode, and
// then only the password given there is used.
func TestRoleSeedModeOnlyFromTheCommandLine(t *testing.T) {
	f := newFixture(t)
	const strayPassword = "app-db-password-123"
	recordSecrets(strayPassword)
	play := func(pre string) string {
		return "---\n- name: An application and the Matrix users\n  hosts: synapse_host\n  gather_facts: false\n" + pre +
			"  roles:\n    - unrelated_app\n    - mxadmin.synapse.matrix_users\n"
	}
	app := "---\n- name: Configure the application\n  ansible.builtin.debug:\n    msg: the application runs as {{ username }}\n  tags: [always]\n"
	for _, tc := range []struct {
		name  string
		files func(stray string) map[string]string
		args  []string
	}{
		{"another role's defaults", func(stray string) map[string]string {
			return map[string]string{"roles/unrelated_app/defaults/main.yml": "username: " + stray + "\npassword: " + strayPassword + "\n"}
		}, nil},
		{"another role's defaults, with the register-user tag", func(stray string) map[string]string {
			return map[string]string{"roles/unrelated_app/defaults/main.yml": "username: " + stray + "\npassword: " + strayPassword + "\n"}
		}, []string{"--tags=register-user"}},
		{"a host var", func(stray string) map[string]string {
			return map[string]string{"inventory/host_vars/synapse_host.yml": "username: " + stray + "\npassword: " + strayPassword + "\nadmin: true\n"}
		}, nil},
		{"a group var", func(stray string) map[string]string {
			return map[string]string{"inventory/group_vars/all.yml": "username: " + stray + "\npassword: " + strayPassword + "\n"}
		}, []string{"--tags=register-user"}},
		{"a set_fact", func(stray string) map[string]string {
			return map[string]string{"set_fact.yml": "  pre_tasks:\n    - name: Facts of the application\n      ansible.builtin.set_fact:\n        username: " + stray +
				"\n        password: " + strayPassword + "\n      tags: [always]\n"}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stray, listed := uniqueUser("appsvc"), uniqueUser("listed")
			files := tc.files(stray)
			pre := files["set_fact.yml"]
			delete(files, "set_fact.yml")
			files["site.yml"] = play(pre)
			files["roles/unrelated_app/tasks/main.yml"] = app
			if _, ok := files["roles/unrelated_app/defaults/main.yml"]; !ok {
				files["roles/unrelated_app/defaults/main.yml"] = "---\n{}\n"
			}
			dir := scratchPlays(t, files)
			vars := f.roleVars(map[string]any{"matrix_users_list": []any{map[string]any{"username": listed, "password": "listed-pass-1"}}})
			f.proxy.Reset()
			pb := ansiblePlaybookIn(t, dir, testCollection(t), append([]string{"-i", "inventory/hosts.yml", "site.yml", "-e", extraVars(t, vars)}, tc.args...)...)
			require.Equal(t, 0, pb.Exit, pb.Output)
			assert.Contains(t, pb.Output, "the application runs as "+stray, "the stray variable is there")
			assert.NotContains(t, pb.Output, seedNote)
			assert.Nil(t, f.read(t, stray), "no account from a variable that is not the register-user extra var")
			require.NotNil(t, f.read(t, listed), "matrix_users_list is kept")
			_, err := f.srv.Login(listed, "listed-pass-1")
			require.NoError(t, err)
		})
	}

	// The same play with username and password on the command line: that
	// user only, with the password of the command line, never the one
	// another role defines; without password there, none at all.
	stray, seed, bare, listed := uniqueUser("appsvc"), uniqueUser("seedcli"), uniqueUser("seedbare"), uniqueUser("listed")
	dir := scratchPlays(t, map[string]string{
		"site.yml":                              play(""),
		"roles/unrelated_app/tasks/main.yml":    app,
		"roles/unrelated_app/defaults/main.yml": "username: " + stray + "\npassword: " + strayPassword + "\n",
	})
	vars := f.roleVars(map[string]any{"matrix_users_list": []any{map[string]any{"username": listed}, map[string]any{"username": "x", "bad": 1}},
		"matrix_users_exclusive": true})
	run := func(extra string) Playbook {
		f.proxy.Reset()
		return ansiblePlaybookIn(t, dir, testCollection(t), "-i", "inventory/hosts.yml", "site.yml", "-e", extraVars(t, vars), "--extra-vars", extra, "--tags=register-user")
	}
	pb := run("username=" + seed + " password=seed-cli-pass-1")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, oneLine(pb.Output), seedNote+": only "+seed+" is handled in this run; matrix_users_list (2 entries) and matrix_users_exclusive are not applied.")
	_, err := f.srv.Login(seed, "seed-cli-pass-1")
	require.NoError(t, err, "the password of the command line")
	assert.Nil(t, f.read(t, listed), "the list is not applied")
	assert.Nil(t, f.read(t, stray))

	pb = run("username=" + bare)
	require.Equal(t, 0, pb.Exit, pb.Output)
	require.NotNil(t, f.read(t, bare))
	_, err = f.srv.Login(bare, strayPassword)
	assert.Error(t, err, "the password another role defines is not the register-user extra var")
}

// TestRoleSeedConflictsWithTheList: a register-user user that matrix_users_list
// declares differently fails before any request, naming both; the same values
// are no conflict.
func TestRoleSeedConflictsWithTheList(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("conflict")
	list := []any{
		map[string]any{"username": uniqueUser("other")},
		map[string]any{"username": strings.ToUpper(name[:1]) + name[1:], "admin": true, "password": "list-conflict-1"},
	}
	vars := f.roleVars(map[string]any{"matrix_users_list": list})
	for extra, want := range map[string]string{
		"username=@" + name + ":test.local admin=no":                 "username=@" + name + ":test.local (--extra-vars) is also matrix_users_list[1] (" + list[1].(map[string]any)["username"].(string) + "), which declares it differently: admin=false here and admin: true there. Give the same values in both",
		"username=" + name + " password=seed-conflict-2":             "which declares it differently: the password differs.",
		"username=" + name + " admin=false password=seed-conflict-2": "admin=false here and admin: true there; the password differs.",
	} {
		pb := f.runRole(t, vars, "--extra-vars", extra, "--tags=register-user")
		assert.NotEqual(t, 0, pb.Exit, pb.Output)
		fatal := fatalLine(pb.Output)
		assert.Contains(t, fatal, want, extra)
		assert.NotContains(t, pb.Output, "list-conflict-1")
		assert.Empty(t, f.proxy.Requests(), "refused before any request")
	}

	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": []any{map[string]any{"username": name, "state": "absent"}}}),
		"--extra-vars", "username="+name+" password=seed-conflict-3", "--tags=register-user")
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, fatalLine(pb.Output), "is also matrix_users_list[0] ("+name+"), which declares it differently: it is state: absent there")
	assert.Empty(t, f.proxy.Requests())

	pb = f.runRole(t, vars, "--extra-vars", "username="+name+" admin=yes password=list-conflict-1", "--tags=register-user")
	require.Equal(t, 0, pb.Exit, "the same values are no conflict:\n%s", pb.Output)
	assert.Equal(t, true, f.read(t, name)["admin"])
}

// TestRoleSeedValuesAsGiven (issue 18, item 2): the register-user extra vars
// reach the module as they were given. A null is not given (no account
// whose password is "None", no @none); a boolean or a list is refused by
// name (no @true, no password "['a', 'b']"); an empty password is refused;
// a number is its text, with a warning.
func TestRoleSeedValuesAsGiven(t *testing.T) {
	f := newFixture(t)
	seedFile := func(yaml string) string {
		p := filepath.Join(t.TempDir(), "seed.yml")
		require.NoError(t, os.WriteFile(p, []byte(yaml), 0o600))
		return "@" + p
	}

	recordSecrets("seed-typed-1")
	// password: left empty in a vars file is null.
	name := uniqueUser("seednull")
	pb := f.runRole(t, f.roleVars(nil), "-e", seedFile("username: "+name+"\npassword:\nadmin: no\n"), "--tags=register-user")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, oneLine(pb.Output), "password is null, which counts as not given: no password is set.")
	require.NotNil(t, f.read(t, name))
	_, err := f.srv.Login(name, "None")
	assert.Error(t, err, "no password None")

	for yaml, want := range map[string]string{
		"username:\npassword: seed-typed-1\n":                      "username: null is not a user name (a null counts as not given); give username=<user>",
		"username: true\npassword: seed-typed-1\n":                 "username: expected a string, got the boolean true (YAML reads unquoted yes/no, true/false and on/off as booleans); quote the value",
		"username: off\npassword: seed-typed-1\n":                  "username: expected a string, got the boolean false",
		"username: seedlist\npassword: [a, b]\n":                   "password: expected a string, got a list; quote the whole value if it is meant as text",
		"username: seedlist\npassword: {a: 1}\n":                   "password: expected a string, got a dict",
		"username: seedlist\npassword: ''\n":                       "password: give a password (not empty, not the placeholder of the docs), or leave password out",
		"username: seedlist\npassword: seed-typed-1\nadmin: [1]\n": "admin: must be yes or no (also true/false, 1/0), not [1]",
		"username: [a]\n":                                          "username: expected a string, got a list",
		"username: seedlist\nadmin: 2\n":                           "admin: must be yes or no (also true/false, 1/0), not 2",
	} {
		pb := f.runRole(t, f.roleVars(nil), "-e", seedFile(yaml), "--tags=register-user")
		assert.NotEqual(t, 0, pb.Exit, yaml)
		fatal := fatalLine(pb.Output)
		assert.Contains(t, fatal, want, "%s\n%s", yaml, pb.Output)
		assert.NotContains(t, fatal, "users[0]", "the one user's options are named as the extra vars")
		assert.Empty(t, f.proxy.Requests(), "%s: refused before any request", yaml)
	}
	for _, never := range []string{"none", "true", "false", "seedlist"} {
		assert.Nil(t, f.read(t, never), "@%s", never)
	}

	// A number password is its digits, said with a warning that does not
	// show it.
	name = uniqueUser("seednum")
	recordSecrets("20260917")
	pb = f.runRole(t, f.roleVars(nil), "-e", seedFile("username: "+name+"\npassword: 20260917\n"), "--tags=register-user")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, oneLine(pb.Output), "password: a number (type int) was converted to a string; if this does not look like what you expect, quote the entire value")
	_, err = f.srv.Login(name, "20260917")
	require.NoError(t, err)
}

// TestRoleListEntriesTypedWrong: the same rules for matrix_users_list entries,
// from a YAML vars file as people write them (an unquoted off or yes is a
// boolean), and a mistyped key: one line naming the entry, the key and the
// closest valid one, instead of the argument validation's dump of the spec.
func TestRoleListEntriesTypedWrong(t *testing.T) {
	f := newFixture(t)
	for yaml, want := range map[string]string{
		"- username: alice\n- username: bob\n- username: ex-staff\n  display_name: Former Staff\n": "matrix_users_list[2] (ex-staff): unsupported parameter display_name (did you mean displayname?). Supported parameters include: ",
		"- username: alice\n  Password: x-list-1\n":                                                "matrix_users_list[0] (alice): unsupported parameter Password (did you mean password?)",
		"- username: carol\n  initial_password: x-list-2\n":                                        "matrix_users_list[0] (carol): unsupported parameter initial_password (did you mean password?)",
		"- username: off\n":                      "option matrix_users_list[0].username: expected a string, got the boolean false (YAML reads unquoted yes/no, true/false and on/off as booleans); quote the value",
		"- username: dave\n  password: [a, b]\n": "option matrix_users_list[0] (dave).password: expected a string, got a list",
		"- username: erin\n  displayname: yes\n": "option matrix_users_list[0] (erin).displayname: expected a string, got the boolean true",
		"- username: frank\n  admin: maybe\n":    `option matrix_users_list[0] (frank).admin: \"maybe\" is not a valid boolean`,
		"- password: x-list-3\n":                 "matrix_users_list[0]: missing required username",
		"- username: gina\n  state: gone\n":      `option matrix_users_list[0] (gina).state: value must be one of present, absent, got \"gone\"`,
	} {
		p := filepath.Join(t.TempDir(), "users.yml")
		require.NoError(t, os.WriteFile(p, []byte("matrix_users_list:\n"+indent(yaml)), 0o600))
		recordSecrets("x-list-1", "x-list-2", "x-list-3")
		pb := f.runRole(t, f.roleVars(nil), "-e", "@"+p)
		assert.NotEqual(t, 0, pb.Exit, yaml)
		fatal := fatalLine(pb.Output)
		assert.Contains(t, fatal, want, "%s\n%s", yaml, pb.Output)
		assert.Less(t, len(fatal), 700, "one line: %s", fatal)
		assert.NotContains(t, pb.Output, "argument_spec_data", "not the argument validation's dump")
		assert.Empty(t, f.proxy.Requests(), "refused before any request")
	}

	// A number is taken as its text, with a warning naming the entry.
	name := uniqueUser("listnum")
	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": []any{map[string]any{"username": name, "displayname": 2026}}}))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, oneLine(pb.Output), `matrix_users_list[0] (`+name+`).displayname: the value 2026 (type int) was converted to "2026" (type string)`)
	assert.Equal(t, "2026", f.read(t, name)["displayname"])
}

func indent(yaml string) string {
	lines := strings.Split(strings.TrimRight(yaml, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestRoleSeedReactivatesOnlyWhenAsked (issue 18, item 5): the old
// register-user command failed on a deactivated account; the seed path does
// too, naming reactivate, unless reactivate=yes is given. A declared list
// reactivates a present user as it always did.
func TestRoleSeedReactivatesOnlyWhenAsked(t *testing.T) {
	f := newFixture(t)
	name := f.plainUser(t, "reactivate")
	status, _, err := f.srv.Do(http.MethodPost, "/_synapse/admin/v1/deactivate/"+url.PathEscape(f.srv.UserID(name)), f.token, map[string]any{"erase": false})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	for _, args := range [][]string{{}, {"--check"}, {"-e", "update_password=always"}} {
		pb := f.runRole(t, f.roleVars(nil), append([]string{"--extra-vars", "username=" + name + " password=seed-back-1", "--tags=register-user"}, args...)...)
		assert.NotEqual(t, 0, pb.Exit, "%v:\n%s", args, pb.Output)
		assert.Contains(t, oneLine(pb.Output), f.srv.UserID(name)+" is deactivated, and the register-user extra vars reactivate an account only when asked: add reactivate=yes")
		f.requireNoWrites(t)
		assert.Equal(t, true, f.read(t, name)["deactivated"])
	}
	pb := f.runRole(t, f.roleVars(nil), "--extra-vars", "username="+name+" password=seed-back-1 reactivate=maybe", "--tags=register-user")
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, fatalLine(pb.Output), `reactivate: must be yes or no (also true/false, 1/0), not \"maybe\"`)
	assert.Empty(t, f.proxy.Requests())

	pb = f.runRole(t, f.roleVars(nil), "--extra-vars", "username="+name+" password=seed-back-1 reactivate=yes", "--tags=register-user")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb))
	assert.Equal(t, false, f.read(t, name)["deactivated"])
	_, err = f.srv.Login(name, "seed-back-1")
	require.NoError(t, err, "reactivated with the password given")

	// reactivate=yes on an active account changes nothing.
	pb = f.runRole(t, f.roleVars(nil), "--extra-vars", "username="+name+" password=seed-back-1 reactivate=yes", "--tags=register-user")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changedOf(t, pb))
	f.requireNoWrites(t)

	// A declared list keeps its meaning: state present reactivates.
	status, _, err = f.srv.Do(http.MethodPost, "/_synapse/admin/v1/deactivate/"+url.PathEscape(f.srv.UserID(name)), f.token, map[string]any{"erase": false})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	pb = f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": []any{map[string]any{"username": name, "password": "list-back-2"}}}))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, false, f.read(t, name)["deactivated"])
}

// TestRoleDriftGateRefusesARealRun (issue 18, item 6): the drift gate on a run
// without --check would apply what it was meant to report; it fails before
// any request instead, naming the variable and --check.
func TestRoleDriftGateRefusesARealRun(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("gatereal")
	list := []any{map[string]any{"username": name, "password": "gate-real-1"}}
	for _, args := range [][]string{
		{"-e", "matrix_users_fail_on_drift=true"},
		{"-e", "matrix_users_fail_on_drift=yes", "--tags=register-user"},
		{"-e", "matrix_users_fail_on_drift=true", "--extra-vars", "username=" + name + " password=gate-real-1", "--tags=register-user"},
	} {
		pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list}), args...)
		assert.NotEqual(t, 0, pb.Exit, "%v:\n%s", args, pb.Output)
		assert.Contains(t, fatalLine(pb.Output), "matrix_users_fail_on_drift=true gates a check run: add --check (a run without it would apply the changes it is meant to report); nothing was sent")
		assert.Empty(t, f.proxy.Requests(), "refused before any request")
		assert.Nil(t, f.read(t, name), "nothing was applied")
	}
	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list, "matrix_users_fail_on_drift": true}), "--check")
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, pb.Output, "Synapse differs from the declared users", "with --check the gate does its job")
	f.requireNoWrites(t)
}
