package e2e

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// roleVars are the role's connection vars for the fixture, plus extra.
func (f *fixture) roleVars(extra map[string]any) map[string]any {
	v := map[string]any{"matrix_users_homeserver_url": f.proxy.URL, "matrix_users_admin_token": f.token, "matrix_users_retries": 0}
	for k, val := range extra {
		v[k] = val
	}
	return v
}

// runRole applies the role with vars (from a file) and more arguments.
func (f *fixture) runRole(t *testing.T, vars map[string]any, args ...string) Playbook {
	t.Helper()
	f.proxy.Reset()
	return ansiblePlaybook(t, append([]string{"-i", "inventory/hosts.yml", "matrix_users_role.yml", "-e", extraVars(t, vars)}, args...)...)
}

func changedOf(t *testing.T, pb Playbook) int {
	t.Helper()
	_, changed, _ := pb.Recap(t, "synapse_host")
	return changed
}

func TestRoleSeedExtraVarsLikeRegisterUser(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("seed")
	seed := func(admin string, extra ...string) Playbook {
		args := append([]string{"--extra-vars", "username=" + name + " password=seed-pass-1 admin=" + admin, "--tags=register-user"}, extra...)
		return f.runRole(t, f.roleVars(nil), args...)
	}

	pb := seed("no")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb), "a new user is registered")
	u := f.read(t, name)
	require.NotNil(t, u)
	assert.Equal(t, false, u["admin"])
	_, err := f.srv.Login(name, "seed-pass-1")
	require.NoError(t, err)

	pb = seed("no")
	require.Equal(t, 0, pb.Exit, "an existing user is not an error:\n%s", pb.Output)
	assert.Equal(t, 0, changedOf(t, pb))
	f.requireNoWrites(t)

	pb = seed("yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb), "admin=yes promotes the existing user")
	assert.Equal(t, true, f.read(t, name)["admin"])
}

func TestRoleSeedWithSharedSecretOfAPlaybookInventory(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("seedsecret")
	// Only the variable a matrix-docker-ansible-deploy inventory already has.
	vars := map[string]any{"matrix_users_homeserver_url": f.proxy.URL, "matrix_users_service_account": "", "matrix_synapse_registration_shared_secret": f.srv.SharedSecret,
		"matrix_users_delegate_to": "localhost"}
	args := []string{"--extra-vars", "username=" + name + " password=seed-secret-1 admin=yes", "--tags=register-user"}

	pb := f.runRole(t, vars, args...)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb))
	assert.Equal(t, true, f.read(t, name)["admin"])

	// The user exists now: its admin flag can neither be read nor set with
	// the shared secret, so the run fails and says which variable fixes it.
	pb = f.runRole(t, vars, args...)
	require.NotEqual(t, 0, pb.Exit, "an existing user cannot be verified with the shared secret:\n%s", pb.Output)
	assert.Equal(t, 0, changedOf(t, pb))
	assert.Contains(t, pb.Output, name+" exists, and its password and admin could not be checked or set")
	assert.Contains(t, pb.Output, "give matrix_users_admin_token or matrix_users_admin_user/matrix_users_admin_password")
	assert.Contains(t, pb.Output, "Failed: "+name+" exists", "the one user is named by its name, not users[0]")
	assert.NotContains(t, fatalLine(pb.Output), "matrix_users_list", "the seed extra vars do not use the list")
	assert.Contains(t, oneLine(pb.Output), seedNote+": only "+name+" is handled in this run", "and the run says so")
	assert.NotRegexp(t, `give admin_token|\badmin_user/`, pb.Output, "role runs speak in role variables")
}

func TestRoleDeclarativeList(t *testing.T) {
	f := newFixture(t)
	admin, bot, gone := uniqueUser("listadmin"), uniqueUser("listbot"), uniqueUser("listgone")
	list := []any{
		map[string]any{"username": admin, "password": "list-admin-1", "admin": true, "displayname": "List Admin"},
		map[string]any{"username": bot, "user_type": "bot", "displayname": "Bot"},
		map[string]any{"username": gone, "state": "absent"},
	}
	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list}))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb), "one task reconciles the whole list")
	assert.Equal(t, true, f.read(t, admin)["admin"])
	assert.Equal(t, "bot", f.read(t, bot)["user_type"])
	assert.Equal(t, true, f.read(t, gone)["deactivated"])

	pb = f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list}))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changedOf(t, pb))
	f.requireNoWrites(t)

	list[1].(map[string]any)["displayname"] = "Notification Bot"
	pb = f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list}), "--diff")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb))
	assert.Len(t, f.proxy.Writes(), 1, "only the edited user is written")
	assert.Equal(t, "Notification Bot", f.read(t, bot)["displayname"])

	// Someone changes the admin's password behind Ansible's back; with
	// update_password: always the declared one comes back, once.
	status, _, err := f.srv.Do(http.MethodPut, "/_synapse/admin/v2/users/"+url.PathEscape(f.srv.UserID(admin)), f.token, map[string]any{"password": "changed-elsewhere"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	vars := f.roleVars(map[string]any{"matrix_users_list": list, "matrix_users_update_password": "always"})
	pb = f.runRole(t, vars)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changedOf(t, pb), "password drift is repaired")
	_, err = f.srv.Login(admin, "list-admin-1")
	require.NoError(t, err)
	pb = f.runRole(t, vars)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changedOf(t, pb), "and stays repaired: the same password is not re-sent")
	f.requireNoWrites(t)
}

func TestRoleCheckModeDriftGate(t *testing.T) {
	f := newFixture(t)
	keep, change, remove := uniqueUser("gatekeep"), uniqueUser("gatechange"), uniqueUser("gateremove")
	list := []any{
		map[string]any{"username": keep, "displayname": "Keep"},
		map[string]any{"username": change, "displayname": "Before"},
		map[string]any{"username": remove},
	}
	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list}))
	require.Equal(t, 0, pb.Exit, pb.Output)

	gate := f.roleVars(map[string]any{"matrix_users_list": list, "matrix_users_fail_on_drift": true})
	pb = f.runRole(t, gate, "--check", "--diff")
	assert.Equal(t, 0, pb.Exit, "no drift, the gate passes:\n%s", pb.Output)

	// The registered result counts the unchanged users; listing them is
	// matrix_users_report_unchanged's choice.
	pb = f.runRole(t, gate, "--check", "-v")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, `"unchanged": 3`)
	assert.NotContains(t, pb.Output, `"action": "unchanged"`)
	pb = f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list, "matrix_users_fail_on_drift": true, "matrix_users_report_unchanged": true}), "--check", "-v")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 3, strings.Count(pb.Output, `"action": "unchanged"`), pb.Output)

	created := uniqueUser("gatenew")
	drifted := []any{
		map[string]any{"username": keep, "displayname": "Keep"},
		map[string]any{"username": change, "displayname": "After"},
		map[string]any{"username": remove, "state": "absent"},
		map[string]any{"username": created, "password": "gate-new-1"},
	}
	gate["matrix_users_list"] = drifted
	pb = f.runRole(t, gate, "--check", "--diff")
	assert.NotEqual(t, 0, pb.Exit, "drift fails the check run")
	assert.Contains(t, pb.Output, "Synapse differs from the declared users")
	assert.Contains(t, pb.Output, "1 would be created, 1 would be updated, 1 would be deactivated, 1 unchanged")
	assert.Contains(t, pb.Output, f.srv.UserID(change)+`: displayname \"Before\"→\"After\"`, "the message says what differs, per user")
	assert.Contains(t, pb.Output, `+    "displayname": "After"`)
	assert.Contains(t, pb.Output, `+    "deactivated": true`)
	for _, u := range []string{change, remove, created} {
		assert.Contains(t, pb.Output, f.srv.UserID(u), "the failure names the drifted users")
	}
	f.requireNoWrites(t)
	assert.Nil(t, f.read(t, created), "check mode created nothing")

	// Without --diff too.
	pb = f.runRole(t, gate, "--check")
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, pb.Output, f.srv.UserID(change)+`: displayname \"Before\"→\"After\"`)
	assert.Contains(t, pb.Output, f.srv.UserID(remove)+": deactivated false→true")
	assert.Contains(t, pb.Output, f.srv.UserID(created)+": new user (password)")

	gate["matrix_users_fail_on_drift"] = false
	pb = f.runRole(t, gate, "--check")
	assert.Equal(t, 0, pb.Exit, "without the gate, a check run only reports:\n%s", pb.Output)
	assert.Equal(t, 1, changedOf(t, pb))

	// With only the shared secret nothing can be read: the gate fails
	// rather than pass a server it could not see.
	blind := map[string]any{"matrix_users_homeserver_url": f.proxy.URL, "matrix_users_service_account": "", "matrix_users_registration_shared_secret": f.srv.SharedSecret,
		"matrix_users_list": []any{map[string]any{"username": keep, "password": "gate-keep-1"}}, "matrix_users_fail_on_drift": true}
	pb = f.runRole(t, blind, "--check")
	assert.NotEqual(t, 0, pb.Exit, "an unverifiable server fails the gate:\n%s", pb.Output)
	assert.Contains(t, pb.Output, "1 unverified")
	assert.Regexp(t, `Could not verify 1 declared user\(s\) \(1 unverified\): matrix_users_list\[0\] \(`+keep+`\)`, pb.Output)
	assert.NotContains(t, pb.Output, "Synapse differs", "not verified is not different")
	assert.Contains(t, pb.Output, "set matrix_users_admin_token")
	f.requireNoWrites(t)
}

// The entries of matrix_users_list are checked by the module, before any
// request, in one line naming the entry (TestRoleListEntriesTypedWrong has
// more); what is not a list at all is refused by the role's argument spec.
func TestRoleRefusesBadInputBeforeAnyRequest(t *testing.T) {
	f := newFixture(t)
	for name, tc := range map[string]struct {
		list []any
		want string
	}{
		"missing username": {[]any{map[string]any{"password": "no-name-pass"}}, "matrix_users_list[0]: missing required username"},
		"wrong type":       {[]any{map[string]any{"username": "x1", "admin": "maybe"}}, `option matrix_users_list[0] (x1).admin: \"maybe\" is not a valid boolean`},
		"unknown state":    {[]any{map[string]any{"username": "x2", "state": "gone"}}, `option matrix_users_list[0] (x2).state: value must be one of present, absent, got \"gone\"`},
		"not a list":       {nil, "matrix_users_list"},
		"duplicates":       {[]any{map[string]any{"username": "John"}, map[string]any{"username": "@john:test.local"}}, "both declare the user john"},
		"bad localpart":    {[]any{map[string]any{"username": "john smith"}}, "a localpart may only contain"},
	} {
		t.Run(name, func(t *testing.T) {
			vars := f.roleVars(map[string]any{"matrix_users_list": tc.list})
			if tc.list == nil {
				vars["matrix_users_list"] = "alice"
			}
			pb := f.runRole(t, vars)
			assert.NotEqual(t, 0, pb.Exit)
			assert.Contains(t, pb.Output, tc.want)
			if tc.list != nil {
				assert.NotContains(t, pb.Output, "argument_spec_data", "one line from the module, not the spec's dump")
			}
			assert.Empty(t, f.proxy.Requests(), "refused before any request")
		})
	}
}

// The register-user extra vars typed wrong, as people do (the placeholders
// of matrix-docker-ansible-deploy's docs included), fail with one short line
// naming the variable and the accepted values, before any request: not with
// the role argument validation's dump of the whole spec (about 5 KB).
func TestRoleRefusesBadSeedVarsInOneLine(t *testing.T) {
	f := newFixture(t)
	for extra, want := range map[string]string{
		"username=alice password=seed-bad-1 admin=<yes|no>": `admin: must be yes or no (also true/false, 1/0), not \"<yes|no>\"`,
		"username=alice password=seed-bad-1 admin=maybe":    `admin: must be yes or no (also true/false, 1/0), not \"maybe\"`,
		"username= password=seed-bad-1 admin=no":            "username: give a user name (alice, or @alice:example.com), not an empty value",
		"username=<your-username> password=x admin=no":      `username: give a user name (alice, or @alice:example.com), not \"<your-username>\"`,
		"username=alice password=<your-password> admin=no":  "password: give a password (not empty, not the placeholder of the docs), or leave password out",
		"password=seed-bad-1 admin=no":                      "username: missing",
		"username=alice update_password=sometimes":          `update_password: must be always or on_create, not \"sometimes\"`,
	} {
		t.Run(extra, func(t *testing.T) {
			pb := f.runRole(t, f.roleVars(nil), "--extra-vars", extra, "--tags=register-user")
			assert.NotEqual(t, 0, pb.Exit)
			var fatal string
			for _, line := range strings.Split(pb.Output, "\n") {
				if strings.HasPrefix(line, "fatal:") {
					fatal = line
				}
			}
			assert.Contains(t, fatal, want, pb.Output)
			assert.Less(t, len(fatal), 300, "one short line: %s", fatal)
			assert.NotContains(t, pb.Output, "argument_spec_data")
			assert.Empty(t, f.proxy.Requests(), "refused before any request")
		})
	}
}

func TestRolePasswordsNeverShown(t *testing.T) {
	f := newFixture(t)
	passwords := []string{"never-shown-pass-1", "never-shown-pass-2"}
	list := []any{
		map[string]any{"username": uniqueUser("quiet"), "password": passwords[0], "update_password": "always"},
		map[string]any{"username": uniqueUser("quiet"), "password": passwords[1]},
	}
	vars := f.roleVars(map[string]any{"matrix_users_list": list, "matrix_users_password_pepper": ""})
	secrets := append([]string{f.token}, passwords...)
	for _, verbosity := range []string{"", "-v", "-vv", "-vvv", "-vvvv"} {
		for _, mode := range [][]string{{"--diff"}, {"--check", "--diff"}} {
			args := append([]string{}, mode...)
			if verbosity != "" {
				args = append(args, verbosity)
			}
			pb := f.runRole(t, vars, args...)
			require.Equal(t, 0, pb.Exit, pb.Output)
			for _, s := range secrets {
				assert.NotContains(t, pb.Output, s, "%s %v", verbosity, mode)
			}
		}
	}

	// The register-user command puts the password on the command line. Up to
	// -vvv nothing shows it; at -vvvv ansible-playbook itself echoes its
	// command line (extra_vars: ...), which no role or module can prevent,
	// and that is the only place it appears.
	name := uniqueUser("seedquiet")
	for _, verbosity := range []string{"-v", "-vv", "-vvv", "-vvvv"} {
		pb := f.runRole(t, f.roleVars(nil), "--extra-vars", "username="+name+" password=seed-cli-secret-9 admin=no", "--tags=register-user", "--diff", verbosity)
		require.Equal(t, 0, pb.Exit, pb.Output)
		for _, line := range strings.Split(pb.Output, "\n") {
			if strings.Contains(line, "seed-cli-secret-9") {
				assert.True(t, verbosity == "-vvvv" && strings.HasPrefix(line, "extra_vars: "), "%s: %q", verbosity, line)
			}
		}
	}
}

func TestInstalledCollectionTarball(t *testing.T) {
	f := newFixture(t)
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	venv := os.Getenv("MXADMIN_VENV")
	if venv == "" {
		venv = filepath.Join(root, ".venv")
	}
	dist := t.TempDir()
	build := exec.Command("make", "--no-print-directory", "-C", root, "collection", "DIST="+dist, "VENV="+venv)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "make collection:\n%s", out)
	tarballs, _ := filepath.Glob(filepath.Join(dist, "mxadmin-synapse-*.tar.gz"))
	require.Len(t, tarballs, 1)
	info, err := os.Stat(tarballs[0])
	require.NoError(t, err)
	assert.Less(t, info.Size(), int64(20<<20), "Galaxy refuses tarballs over 20 MB")
	t.Logf("collection tarball: %.1f MB", float64(info.Size())/(1<<20))

	members, err := exec.Command("tar", "-tzf", tarballs[0]).Output()
	require.NoError(t, err)
	for _, platform := range []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64"} {
		assert.Contains(t, string(members), "plugins/modules/__mxadmin_synapse_"+platform)
	}
	for _, unwanted := range []string{"modules-src/", ".go\n", "tests/e2e/", ".venv", "docs/dev/", "\nansible.cfg\n"} {
		assert.NotContains(t, string(members), unwanted)
	}
	// What a user copies ships with the collection: the docs pages, their
	// index and the demo's example.
	for _, doc := range []string{"docs/README.md", "docs/development.md", "docs/release.md",
		"docs/examples/demo/README.md", "docs/examples/demo/site.yml", "docs/examples/demo/inventory/hosts.yml",
		"docs/variables.md", "docs/role.md", "docs/examples/mdad/matrix-users.yml", "docs/examples/mdad/inventory/hosts",
		"docs/examples/mdad/inventory/host_vars/matrix.example.com/vars.yml", "docs/examples/ci/github-actions.yml",
		"docs/examples/ci/gitlab-ci.yml"} {
		assert.Contains(t, "\n"+string(members), "\n"+doc+"\n", "the tarball ships %s", doc)
	}

	installed := t.TempDir()
	galaxy, err := synapsetest.AnsibleBin("ansible-galaxy")
	require.NoError(t, err)
	install := exec.Command(galaxy, "collection", "install", tarballs[0], "-p", installed)
	install.Env = ansibleEnv(t, installed)
	out, err = install.CombinedOutput()
	require.NoError(t, err, "ansible-galaxy collection install:\n%s", out)

	// The collection's own playbook, from the installed copy, the way the
	// register-user command is run.
	name := uniqueUser("tarball")
	f.proxy.Reset()
	pb := ansiblePlaybookWith(t, installed, "-i", "inventory/hosts.yml", "mxadmin.synapse.users", "-e", "matrix_users_hosts=synapse_host",
		"-e", extraVars(t, f.roleVars(nil)), "--extra-vars", "username="+name+" password=tarball-pass-1 admin=no", "--tags=register-user", "-vvv")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "Using module file "+filepath.Join(installed, "ansible_collections", "mxadmin", "synapse", "plugins", "modules", "__mxadmin_synapse_"), "ran the installed binary")
	assert.Equal(t, 1, changedOf(t, pb))
	require.NotNil(t, f.read(t, name))

	doc := exec.Command(filepath.Join(filepath.Dir(galaxy), "ansible-doc"), "mxadmin.synapse.matrix_user")
	doc.Env = ansibleEnv(t, installed)
	out, err = doc.CombinedOutput()
	require.NoError(t, err, string(out))
	// The header names the module and where it was found, in a format that
	// differs between releases: "> MXADMIN.SYNAPSE.MATRIX_USER    (path)" in
	// ansible-core 2.16, "> MODULE mxadmin.synapse.matrix_user (path)" in 2.19.
	header, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	assert.Contains(t, strings.ToLower(header), "mxadmin.synapse.matrix_user", header)
	assert.Contains(t, header, "("+filepath.Join(installed, "ansible_collections", "mxadmin", "synapse", "plugins", "modules", "matrix_user.py")+")", header)
}

func TestRoleExclusive(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	for _, u := range []string{"keeper", "intruder", "svc-backup"} {
		_, err := srv.Register(u, "role-exclusive-"+u, false)
		require.NoError(t, err)
	}
	// The safety threshold reaches the module: 0 deactivates nobody.
	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": []any{map[string]any{"username": "keeper"}},
		"matrix_users_exclusive": true, "matrix_users_protect": []any{"svc-*"}, "matrix_users_max_deactivations": 0}), "--check")
	require.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "max_deactivations 0")
	f.requireNoWrites(t)

	vars := f.roleVars(map[string]any{"matrix_users_list": []any{map[string]any{"username": "keeper"}},
		"matrix_users_exclusive": true, "matrix_users_protect": []any{"svc-*"}})
	pb = f.runRole(t, vars, "--check", "--diff")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "--- before: @intruder:test.local")
	f.requireNoWrites(t)

	pb = f.runRole(t, vars)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, true, f.read(t, "intruder")["deactivated"])
	assert.Equal(t, false, f.read(t, "svc-backup")["deactivated"])
	assert.Equal(t, false, f.read(t, "admin")["deactivated"])

	// The register-user extra vars handle one user and never run exclusive.
	_, err := srv.Register("latecomer", "role-exclusive-late", false)
	require.NoError(t, err)
	pb = f.runRole(t, vars, "--extra-vars", "username=newbie password=role-exclusive-new admin=no", "--tags=register-user")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, false, f.read(t, "latecomer")["deactivated"])
	assert.Equal(t, false, f.read(t, "keeper")["deactivated"])
	assert.NotNil(t, f.read(t, "newbie"))
}

// TestRoleRunEndsWithOneLine: at default verbosity a run of the list ends
// with one line of counts, prints no line per user and no skipped task,
// and the recap shows the same four tasks whatever the list's length.
func TestRoleRunEndsWithOneLine(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	created, gone, same := uniqueUser("lineadd"), uniqueUser("linegone"), uniqueUser("linesame")
	for _, name := range []string{gone, same} {
		_, err := f.srv.Register(name, "line-pass-1", false)
		require.NoError(t, err)
	}
	list := []any{
		map[string]any{"username": created, "password": "line-pass-2"},
		map[string]any{"username": gone, "state": "absent"},
		map[string]any{"username": same},
	}
	pb := f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list}))
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, `"msg": "3 users: 1 created, 1 deactivated, 1 unchanged"`)
	assert.NotContains(t, pb.Output, "skipping")
	for _, name := range []string{created, gone, same} {
		assert.NotContains(t, pb.Output, name, "no line per user at default verbosity")
	}
	ok, changed, failed := pb.Recap(t, "synapse_host")
	// The role's argument validation, the report check's include, the
	// module (which also does the role's own checks), the tokens' include,
	// the line, the report's include (the includes are none.yml without
	// matrix_users_registration_tokens and matrix_users_report_path).
	assert.Equal(t, []int{6, 1, 0}, []int{ok, changed, failed}, "six tasks, none skipped:\n%s", pb.Output)
	assert.Regexp(t, `skipped=0\b`, pb.Output)

	pb = f.runRole(t, f.roleVars(map[string]any{"matrix_users_list": list}), "--check")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, `"msg": "3 users: 3 unchanged"`, "the rerun in check mode: nothing to do")
}

// TestRoleUnreachableNamesTheURLVariableUsed: a URL set in the inventory is
// what the unreachable message names, not the bind port it would
// otherwise be derived from (matrix-docker-ansible-deploy's).
func TestRoleUnreachableNamesTheURLVariableUsed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	vars := f.roleVars(map[string]any{"matrix_users_homeserver_url": "http://127.0.0.1:1",
		"matrix_synapse_container_client_api_host_bind_port": "127.0.0.1:8008",
		"matrix_users_list": []any{map[string]any{"username": uniqueUser("unreach")}}})
	pb := f.runRole(t, vars)
	require.NotEqual(t, 0, pb.Exit, pb.Output)
	line := oneLine(pb.Output)
	assert.Contains(t, line, "http://127.0.0.1:1: Synapse is unreachable")
	assert.Contains(t, line, "check matrix_users_homeserver_url")
	assert.NotContains(t, line, "matrix_synapse_container_client_api_host_bind_port")
	assert.Contains(t, pb.Output, `"connection": 0`, "matrix_users_retries=0: no retry counted")
}
