package modules

import (
	"fmt"
)

// RoleKey is the internal argument in which a role that wraps a module
// describes its run: the role variable behind each option, so that messages
// speak in what the role's user sets (matrix_users_admin_token, not
// admin_token: see words.go), and whether the declaration is the
// register-user extra vars.
const RoleKey = "_mxadmin_role"

// Role is what RoleKey carries: how a role that wraps the module describes
// its run. The zero Role is a module used directly.
type Role struct {
	// vars maps option names to the names the user knows them by.
	vars map[string]string
	// Seed: the declaration is the one user of the role's register-user
	// extra vars (username=... password=... admin=...), a request to apply
	// now (reconcile.Runner.Seed).
	Seed bool
	// Reactivate is the register-user extra var that allows the one user,
	// when deactivated, to be reactivated (seed runs only).
	Reactivate bool
	// Problem is what the role found wrong with its own variables (the
	// register-user extra vars, the drift gate outside check mode), which
	// fails the run before anything else; Note is what the role says about
	// the run (register-user mode), a warning; FailOnDrift asks for the
	// drift gate's message in a check run (drift_msg, see driftGate). The
	// role passes them here rather than run a task of its own for each:
	// every task costs Ansible a pass over the host's variables, which with
	// the users in a vars_files file means parsing it again.
	Problem, Note string
	FailOnDrift   bool
}

// takeRoleContext removes RoleKey from the raw args and decodes it.
func takeRoleContext(raw map[string]any) (Role, error) {
	var rc Role
	v, ok := raw[RoleKey]
	delete(raw, RoleKey)
	if !ok || v == nil {
		return rc, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return rc, fmt.Errorf("internal argument %s: expected a dict with vars and seed", RoleKey)
	}
	if vars, ok := m["vars"].(map[string]any); ok {
		rc.vars = map[string]string{}
		for k, val := range vars {
			if name, ok := val.(string); ok {
				rc.vars[k] = name
			}
		}
	}
	rc.Seed, _ = m["seed"].(bool)
	rc.Reactivate, _ = m["reactivate"].(bool)
	rc.Problem, _ = m["problem"].(string)
	rc.Note, _ = m["note"].(string)
	rc.FailOnDrift, _ = m["fail_on_drift"].(bool)
	return rc, nil
}
