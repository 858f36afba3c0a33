package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// TestModuleDocsMatchArgumentSpec checks that what ansible-doc shows for each
// module (the docs-only .py file) is what the Go binary accepts: the same
// options, types, defaults, choices, aliases and sub-options. Ansible never
// sees the binary's spec, so this test is what keeps the docs honest.
func TestModuleDocsMatchArgumentSpec(t *testing.T) {
	for name, spec := range moduleSpecs(t) {
		t.Run(name, func(t *testing.T) {
			fqcn := "mxadmin.synapse." + name
			doc := ansibleDoc(t, "-t", "module", fqcn)
			entry, ok := doc[fqcn].(map[string]any)
			require.True(t, ok, "ansible-doc knows %s", fqcn)
			options := entry["doc"].(map[string]any)["options"].(map[string]any)
			compareOptions(t, fqcn, spec.Options, options)
			assert.NotEmpty(t, entry["examples"], "EXAMPLES")
			assert.NotEmpty(t, entry["return"], "RETURN")
			attrs := entry["doc"].(map[string]any)["attributes"].(map[string]any)
			for _, a := range []string{"check_mode", "diff_mode"} {
				require.Contains(t, attrs, a)
			}
		})
	}
}

// TestModuleDocsNameAuthorsWithAGitHubHandle: ansible-doc shows each author as written,
// and validate-modules wants "Name (@github-handle)"; "(!UNKNOWN)" is its
// marker for an author who cannot be traced, which the project is not.
func TestModuleDocsNameAuthorsWithAGitHubHandle(t *testing.T) {
	const want = "mxadmin.synapse contributors (@mxadmin)"
	for _, name := range moduleNames(t) {
		fqcn := "mxadmin.synapse." + name
		entry, ok := ansibleDoc(t, "-t", "module", fqcn)[fqcn].(map[string]any)
		require.True(t, ok, "ansible-doc knows %s", fqcn)
		assert.Equal(t, []string{want}, toStrings(entry["doc"].(map[string]any)["author"]), fqcn)
	}
	role := ansibleDoc(t, "-t", "role", "mxadmin.synapse.matrix_users")["mxadmin.synapse.matrix_users"].(map[string]any)
	main := role["entry_points"].(map[string]any)["main"].(map[string]any)
	assert.Equal(t, []string{want}, toStrings(main["author"]), "the role's argument spec")
}

func compareOptions(t *testing.T, where string, spec []specOption, docs map[string]any) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range spec {
		seen[o.Name] = true
		path := where + "." + o.Name
		raw, ok := docs[o.Name]
		if !assert.True(t, ok, "%s is accepted by the binary but not documented", path) {
			continue
		}
		d := raw.(map[string]any)
		assert.Equal(t, o.Type, d["type"], "%s: type", path)
		assert.Equal(t, o.Required, d["required"] == true, "%s: required", path)
		assert.Equal(t, normDefault(o.Default), normDefault(d["default"]), "%s: default", path)
		assert.Equal(t, o.Choices, toStrings(d["choices"]), "%s: choices", path)
		assert.Equal(t, o.Aliases, toStrings(d["aliases"]), "%s: aliases", path)
		if o.Elements != "" || d["elements"] != nil {
			assert.Equal(t, o.Elements, d["elements"], "%s: elements", path)
		}
		if len(o.Options) > 0 || d["suboptions"] != nil {
			sub, _ := d["suboptions"].(map[string]any)
			compareOptions(t, path, o.Options, sub)
		}
		assert.NotEmpty(t, d["description"], "%s: description", path)
	}
	for name := range docs {
		assert.True(t, seen[name], "%s.%s is documented but the binary does not accept it", where, name)
	}
}

func normDefault(v any) string {
	switch x := v.(type) {
	case nil:
		return "<none>"
	case float64:
		return fmt.Sprint(int(x))
	}
	return fmt.Sprint(v)
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = fmt.Sprint(x)
	}
	return out
}

// TestAnsibleDocListsTheModules checks that ansible-doc -l shows the modules
// and nothing else (the binaries must not show up as broken modules).
func TestAnsibleDocListsTheModules(t *testing.T) {
	bin, err := synapsetest.AnsibleBin("ansible-doc")
	if err != nil {
		synapsetest.Unavailable(t, err)
	}
	cmd := exec.Command(bin, "-t", "module", "-l", "mxadmin.synapse")
	cmd.Env = ansibleEnv(t, testCollection(t))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			listed = append(listed, f[0])
		}
	}
	var want []string
	for _, n := range moduleNames(t) {
		want = append(want, "mxadmin.synapse."+n)
	}
	sort.Strings(listed)
	assert.Equal(t, want, listed, "ansible-doc -l output:\n%s", out)
	assert.NotContains(t, string(out), "WARNING")
}

// TestRoleEntriesMatchTheModule checks that the role documents each
// matrix_users_list entry key as the module's per-user options (username being
// the module's alias of user), with the same types, required keys, secrets,
// choices and sub-options. The module, not the role's argument spec, checks
// the entries (one line naming the entry and the closest valid key, instead
// of the argument validation's dump of the whole spec), so the spec declares
// a list of dicts and documents the keys in its description, one line each:
// "C(key) (type[, required][, secret]) what it does".
func TestRoleEntriesMatchTheModule(t *testing.T) {
	doc := ansibleDoc(t, "-t", "role", "mxadmin.synapse.matrix_users")
	role := doc["mxadmin.synapse.matrix_users"].(map[string]any)["entry_points"].(map[string]any)["main"].(map[string]any)
	list := role["options"].(map[string]any)["matrix_users_list"].(map[string]any)
	assert.Equal(t, "list", list["type"])
	assert.Equal(t, "dict", list["elements"])
	assert.Nil(t, list["options"], "Ansible's argument validation does not check the entries: the module does")
	documented := roleEntryKeys(t, toStrings(list["description"]))

	users := moduleSpecs(t)["matrix_user"].option(t, "users")
	require.NotEmpty(t, users.Options)
	names := map[string]bool{}
	for _, o := range users.Options {
		name := o.Name
		if name == "user" {
			name = "username"
		}
		names[name] = true
		d, ok := documented[name]
		if !assert.True(t, ok, "the role does not document %s in matrix_users_list entries", name) {
			continue
		}
		kind := o.Type
		if o.Type == "list" && o.Elements == "dict" {
			kind = "list of dicts"
		}
		assert.True(t, strings.HasPrefix(d.kind, kind), "%s: documented as %q, the module takes a %s", name, d.kind, kind)
		assert.Equal(t, o.Required, strings.Contains(d.kind, "required"), "%s: required", name)
		assert.Equal(t, o.NoLog, strings.Contains(d.kind, "secret"), "%s: secret (no_log)", name)
		for _, c := range o.Choices {
			assert.Contains(t, d.line, "V("+c+")", "%s: choice %s", name, c)
		}
		for _, so := range o.Options {
			assert.Contains(t, d.kind, "C("+so.Name+")", "%s: sub-option %s", name, so.Name)
			for _, c := range so.Choices {
				assert.Contains(t, d.kind, "V("+c+")", "%s.%s: choice %s", name, so.Name, c)
			}
		}
	}
	for name := range documented {
		assert.True(t, names[name], "the role documents %s, which matrix_user does not take", name)
	}
}

type roleEntryKey struct{ kind, line string }

// roleEntryKeys reads the "C(key) (type...) text" lines of a description.
func roleEntryKeys(t *testing.T, description []string) map[string]roleEntryKey {
	t.Helper()
	keys := map[string]roleEntryKey{}
	for _, line := range description {
		rest, ok := strings.CutPrefix(line, "C(")
		if !ok {
			continue
		}
		name, rest, ok := strings.Cut(rest, ") (")
		require.True(t, ok, "entry key line %q: C(key) (type) text", line)
		depth, end := 1, -1
		for i, r := range rest {
			switch r {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				end = i
				break
			}
		}
		require.GreaterOrEqual(t, end, 0, "entry key line %q: unbalanced", line)
		require.NotContains(t, keys, name, "%s documented twice", name)
		keys[name] = roleEntryKey{kind: rest[:end], line: line}
	}
	require.NotEmpty(t, keys, "the description of matrix_users_list lists the entry keys")
	return keys
}

// TestEveryFieldIsDocumented: each per-user field of the fields table (the
// binary lists them) is documented wherever a user looks for it: the
// module's option and the sub-option of users (which the binary's spec
// generates from the table), the user view in RETURN (unless secret), the
// entry keys of the role's matrix_users_list, and docs/role.md's list of
// per-user options (the README links it).
func TestEveryFieldIsDocumented(t *testing.T) {
	const fqcn = "mxadmin.synapse.matrix_user"
	entry := ansibleDoc(t, "-t", "module", fqcn)[fqcn].(map[string]any)
	options := entry["doc"].(map[string]any)["options"].(map[string]any)
	users := options["users"].(map[string]any)["suboptions"].(map[string]any)
	var returned map[string]any
	switch r := entry["return"].(type) {
	case map[string]any:
		returned = r["user"].(map[string]any)["contains"].(map[string]any)
	}
	require.NotNil(t, returned, "RETURN documents the user view")
	role := ansibleDoc(t, "-t", "role", "mxadmin.synapse.matrix_users")["mxadmin.synapse.matrix_users"].(map[string]any)
	list := role["entry_points"].(map[string]any)["main"].(map[string]any)["options"].(map[string]any)["matrix_users_list"].(map[string]any)
	roleKeys := roleEntryKeys(t, toStrings(list["description"]))
	root, err := synapsetest.RepoRoot()
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "docs", "role.md"))
	require.NoError(t, err)
	secret := map[string]bool{}
	for _, o := range moduleSpecs(t)["matrix_user"].Options {
		secret[o.Name] = o.NoLog
	}
	for _, name := range userFields(t) {
		assert.Contains(t, options, name, "%s: the module documents the option", name)
		assert.Contains(t, users, name, "%s: the module documents it in users", name)
		if !secret[name] {
			assert.Contains(t, returned, name, "%s: RETURN documents it in the user view", name)
		}
		assert.Contains(t, roleKeys, name, "%s: the role documents it in matrix_users_list entries", name)
		assert.Contains(t, string(readme), "`"+name+"`", "%s: docs/role.md names it", name)
	}
}
