package e2e

import (
	"encoding/json"
	"os/exec"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// specOption is one option as the module binary describes it (--spec): the
// keys of an Ansible argument_spec.
type specOption struct {
	Name     string       `json:"name"`
	Type     string       `json:"type"`
	Elements string       `json:"elements"`
	Required bool         `json:"required"`
	Default  any          `json:"default"`
	Choices  []string     `json:"choices"`
	NoLog    bool         `json:"no_log"`
	Aliases  []string     `json:"aliases"`
	Options  []specOption `json:"options"`
}

// moduleSpec is one module's argument spec as the binary describes it.
type moduleSpec struct {
	Module  string       `json:"module"`
	Options []specOption `json:"options"`
}

// option is the option of that name, or fails the test.
func (s moduleSpec) option(t *testing.T, name string) specOption {
	t.Helper()
	for _, o := range s.Options {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("%s has no option %s", s.Module, name)
	return specOption{}
}

var specs struct {
	once sync.Once
	out  struct {
		Modules map[string]moduleSpec `json:"modules"`
		Fields  []string              `json:"fields"`
	}
	err error
}

// moduleSpecs are the argument specs of every module the binary serves, read
// once from `mxadmin-synapse --spec`: the tests see the binary as Ansible
// does, from outside, and import none of its packages.
func moduleSpecs(t *testing.T) map[string]moduleSpec {
	t.Helper()
	specs.once.Do(func() {
		out, err := exec.Command(binary, "--spec").Output()
		if err != nil {
			specs.err = err
			return
		}
		specs.err = json.Unmarshal(out, &specs.out)
	})
	require.NoError(t, specs.err, "mxadmin-synapse --spec")
	require.NotEmpty(t, specs.out.Modules, "mxadmin-synapse --spec lists the modules")
	return specs.out.Modules
}

// userFields are the per-user fields of the fields table, in report order,
// as the binary lists them (--spec).
func userFields(t *testing.T) []string {
	t.Helper()
	moduleSpecs(t)
	require.NotEmpty(t, specs.out.Fields, "mxadmin-synapse --spec lists the fields")
	return specs.out.Fields
}

// moduleNames are the modules the binary serves, sorted.
func moduleNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for name := range moduleSpecs(t) {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
