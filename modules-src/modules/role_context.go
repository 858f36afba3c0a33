package modules

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/mxadmin/synapse/modules-src/ansible"
)

// RoleKey is the internal argument in which a role that wraps a module
// describes its run: the role variable behind each option, so that messages
// speak in what the role's user sets (matrix_users_admin_token, not
// admin_token), and whether the declaration is the register-user extra vars.
const RoleKey = "_mxadmin_role"

// roleContext is what RoleKey carries.
type roleContext struct {
	// vars maps option names to the names the user knows them by.
	vars map[string]string
	seed bool
}

// takeRoleContext removes RoleKey from the raw args and decodes it.
func takeRoleContext(raw map[string]any) (roleContext, error) {
	var rc roleContext
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
	rc.seed, _ = m["seed"].(bool)
	return rc, nil
}

type roleCtxKey struct{}

func withRole(ctx context.Context, rc roleContext) context.Context {
	return context.WithValue(ctx, roleCtxKey{}, rc)
}

func roleFrom(ctx context.Context) roleContext {
	rc, _ := ctx.Value(roleCtxKey{}).(roleContext)
	return rc
}

// usersRefRe matches how a batch refers to an entry: users[3] (alice).
var usersRefRe = regexp.MustCompile(`\busers\[(\d+)\] \(([^)]*)\)`)

// name rewrites the option names in a result's messages into the role's
// variable names. It is the one place that does so: every package keeps
// writing option names, which is right for the modules used directly.
// "option X" is rewritten for every mapped X; a bare X only when it has an
// underscore, since one-word options (users, exclusive) are also words.
func (rc roleContext) name(res ansible.Result) ansible.Result {
	if len(rc.vars) == 0 {
		return res
	}
	res.Msg = rc.nameText(res.Msg)
	for i := range res.Warnings {
		res.Warnings[i] = rc.nameText(res.Warnings[i])
	}
	if users, ok := res.Fields[optUsers].([]map[string]any); ok {
		for _, u := range users {
			if name, ok := u["user"].(string); ok {
				u["user"] = rc.nameText(name) // a reference when the ID is not known
			}
			if e, ok := u["error"].(string); ok {
				u["error"] = rc.nameText(e)
			}
			if ws, ok := u["warnings"].([]string); ok {
				named := make([]string, len(ws))
				for i, w := range ws {
					named[i] = rc.nameText(w)
				}
				u["warnings"] = named
			}
		}
	}
	return res
}

func (rc roleContext) nameText(s string) string {
	if s == "" {
		return s
	}
	if list, ok := rc.vars[optUsers]; ok {
		s = usersRefRe.ReplaceAllStringFunc(s, func(m string) string {
			sub := usersRefRe.FindStringSubmatch(m)
			if list == "" {
				return sub[2] // one user: its name says it all
			}
			return fmt.Sprintf("%s[%s] (%s)", list, sub[1], sub[2])
		})
	}
	// One pass over the text, longest names first, so that a name put in
	// is never rewritten again and admin_password is not read as admin.
	opts := make([]string, 0, len(rc.vars))
	for o, v := range rc.vars {
		if v != "" && o != optUsers {
			opts = append(opts, regexp.QuoteMeta(o))
		}
	}
	if len(opts) == 0 {
		return s
	}
	sort.Slice(opts, func(i, j int) bool { return len(opts[i]) > len(opts[j]) })
	re := regexp.MustCompile(`\b(option )?(` + strings.Join(opts, "|") + `)\b`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sub := re.FindStringSubmatch(m)
		if sub[1] == "" && !strings.Contains(sub[2], "_") {
			return m
		}
		return rc.vars[sub[2]]
	})
}
