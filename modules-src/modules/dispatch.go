// Package modules holds the collection's Ansible modules: their argument
// specs, how their options become a reconcile run, and how the outcome
// becomes the module result. One binary serves every module (it keeps the
// collection small: one binary per platform instead of one per module and
// platform); the action plugin names the module in ModuleKey.
package modules

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mxadmin/synapse/modules-src/ansible"
)

// ModuleKey is the argument in which the action plugin names the module to
// run. Ansible's own _ansible_module_name names the binary, not the module.
const ModuleKey = "_mxadmin_module"

// Version is the collection version, set at build time.
var Version = "dev"

// Module is one Ansible module served by the binary.
type Module struct {
	Name string
	Spec func() ansible.Spec
	// Run does the work. It gets validated options and must return a result
	// for every outcome, failures included; it may not write to stdout.
	Run func(ctx context.Context, p *ansible.Params, in ansible.Internal) ansible.Result
}

var registry = map[string]Module{}

func register(m Module) { registry[m.Name] = m }

// Lookup returns a module by name (for tests and docs checks).
func Lookup(name string) (Module, bool) {
	m, ok := registry[name]
	return m, ok
}

// Names lists the modules the binary serves.
func Names() []string {
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Main runs the module named in the args file at argsPath and prints its one
// JSON result to stdout. It returns the process exit code (Ansible reads the
// JSON, not the code, but a non-zero code helps people running the binary
// by hand). Nothing but the result is ever written: no logs, no stderr.
func Main(argsPath string, stdout io.Writer) int {
	var secrets []string
	result := func() (res ansible.Result) {
		defer func() {
			if r := recover(); r != nil {
				res = ansible.Fail(fmt.Sprintf("internal error in the module (please report it): %v", r))
			}
		}()
		raw, err := ansible.ReadArgsFile(argsPath)
		if err != nil {
			return ansible.Fail(err.Error())
		}
		name, _ := raw[ModuleKey].(string)
		delete(raw, ModuleKey)
		role, err := takeRoleContext(raw)
		if err != nil {
			return ansible.Fail(err.Error())
		}
		defer func() { res = role.name(res) }()
		m, ok := registry[name]
		if !ok {
			return ansible.Fail(fmt.Sprintf("this binary serves the modules %s of mxadmin.synapse and is started by their action plugins, which name the module in %s; got %q", strings.Join(Names(), ", "), ModuleKey, name))
		}
		spec := m.Spec()
		secrets = ansible.SecretValues(spec, raw)
		params, internal, err := ansible.Validate(spec, raw)
		if err != nil {
			return ansible.Fail(err.Error())
		}
		return m.Run(withRole(context.Background(), role), params, internal)
	}()
	if err := ansible.Write(stdout, result, secrets); err != nil {
		return 2
	}
	if result.Failed {
		return 1
	}
	return 0
}
