package e2e

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/ansible"
	"github.com/mxadmin/synapse/modules-src/modules"
	"github.com/mxadmin/synapse/tests/synapsetest"
)

// TestModuleDocsMatchArgumentSpec checks that what ansible-doc shows for each
// module (the docs-only .py file) is what the Go binary accepts: the same
// options, types, defaults, choices, aliases and sub-options. Ansible never
// sees the binary's spec, so this test is what keeps the docs honest.
func TestModuleDocsMatchArgumentSpec(t *testing.T) {
	for _, name := range modules.Names() {
		t.Run(name, func(t *testing.T) {
			fqcn := "mxadmin.synapse." + name
			doc := ansibleDoc(t, "-t", "module", fqcn)
			entry, ok := doc[fqcn].(map[string]any)
			require.True(t, ok, "ansible-doc knows %s", fqcn)
			options := entry["doc"].(map[string]any)["options"].(map[string]any)
			m, _ := modules.Lookup(name)
			compareOptions(t, fqcn, m.Spec().Options, options)
			assert.NotEmpty(t, entry["examples"], "EXAMPLES")
			assert.NotEmpty(t, entry["return"], "RETURN")
			attrs := entry["doc"].(map[string]any)["attributes"].(map[string]any)
			for _, a := range []string{"check_mode", "diff_mode"} {
				require.Contains(t, attrs, a)
			}
		})
	}
}

func compareOptions(t *testing.T, where string, spec []ansible.Option, docs map[string]any) {
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
		assert.Equal(t, string(o.Type), d["type"], "%s: type", path)
		assert.Equal(t, o.Required, d["required"] == true, "%s: required", path)
		assert.Equal(t, normDefault(o.Default), normDefault(d["default"]), "%s: default", path)
		assert.Equal(t, o.Choices, toStrings(d["choices"]), "%s: choices", path)
		assert.Equal(t, o.Aliases, toStrings(d["aliases"]), "%s: aliases", path)
		if o.Elements != "" || d["elements"] != nil {
			assert.Equal(t, string(o.Elements), d["elements"], "%s: elements", path)
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
	for _, n := range modules.Names() {
		want = append(want, "mxadmin.synapse."+n)
	}
	sort.Strings(listed)
	assert.Equal(t, want, listed, "ansible-doc -l output:\n%s", out)
	assert.NotContains(t, string(out), "WARNING")
}
