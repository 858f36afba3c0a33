package modules

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// RoleKey is the internal argument in which a role that wraps a module
// describes its run: the role variable behind each option, so that messages
// speak in what the role's user sets (matrix_users_admin_token, not
// admin_token), and whether the declaration is the register-user extra vars.
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
	return rc, nil
}

// usersRefRe matches how a batch refers to an entry: users[3] (alice), or
// users[3] when its name is not plain text, and the dot that follows when a
// sub-option of the entry is named (users[3] (alice).password).
var usersRefRe = regexp.MustCompile(`\busers\[(\d+)\](?: \(([^)]*)\))?(\.)?`)

// rename rewrites the option names in a written result's messages into the
// role's variable names. It is the one place that does so: every package
// keeps writing option names, which is right for the modules used directly.
// "option X" is rewritten for every mapped X; a bare X only when it has an
// underscore, since one-word options (users, exclusive) are also words. It
// runs on the JSON tree ansible.Write builds, after the secrets are masked.
func (rc Role) rename(out map[string]any) {
	if len(rc.vars) == 0 {
		return
	}
	text := rc.namer()
	renameStrings := func(v any) any {
		switch x := v.(type) {
		case string:
			return text(x)
		case []any:
			for i, el := range x {
				if s, ok := el.(string); ok {
					x[i] = text(s)
				}
			}
		}
		return v
	}
	for _, key := range []string{"msg", "warnings"} {
		if v, ok := out[key]; ok {
			out[key] = renameStrings(v)
		}
	}
	users, _ := out[optUsers].([]any)
	for _, el := range users {
		u, ok := el.(map[string]any)
		if !ok {
			continue
		}
		for _, key := range []string{"user", "error", "warnings"} { // user: a reference when the ID is not known
			if v, ok := u[key]; ok {
				u[key] = renameStrings(v)
			}
		}
	}
}

// namer builds the rewriting once, for every message of a result.
func (rc Role) namer() func(string) string {
	list, mapsUsers := rc.vars[optUsers]
	// One pass over the text, longest names first, so that a name put in
	// is never rewritten again and admin_password is not read as admin.
	opts := make([]string, 0, len(rc.vars))
	for o, v := range rc.vars {
		if v != "" && o != optUsers {
			opts = append(opts, regexp.QuoteMeta(o))
		}
	}
	sort.Slice(opts, func(i, j int) bool { return len(opts[i]) > len(opts[j]) })
	var re *regexp.Regexp
	if len(opts) > 0 {
		re = regexp.MustCompile(`\b(option )?(` + strings.Join(opts, "|") + `)\b`)
	}
	return func(s string) string {
		if s == "" {
			return s
		}
		if mapsUsers {
			s = usersRefRe.ReplaceAllStringFunc(s, func(m string) string {
				sub := usersRefRe.FindStringSubmatch(m)
				index, name, dot := sub[1], sub[2], sub[3]
				if list == "" {
					// One user, from the register-user extra vars:
					// its name says it all, and its options are
					// extra vars of their own (option password).
					switch {
					case dot != "":
						return ""
					case name != "":
						return name
					}
					return rc.vars[optUser]
				}
				if name == "" {
					return fmt.Sprintf("%s[%s]%s", list, index, dot)
				}
				return fmt.Sprintf("%s[%s] (%s)%s", list, index, name, dot)
			})
		}
		if re == nil {
			return s
		}
		var b strings.Builder
		last := 0
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			prefixed, name := m[3] > m[2], s[m[4]:m[5]]
			// A user ID (@admin_token:example.com) is a name, not an option.
			if (!prefixed && !strings.Contains(name, "_")) || (m[0] > 0 && s[m[0]-1] == '@') {
				continue
			}
			b.WriteString(s[last:m[0]])
			b.WriteString(rc.vars[name])
			last = m[1]
		}
		b.WriteString(s[last:])
		return b.String()
	}
}
