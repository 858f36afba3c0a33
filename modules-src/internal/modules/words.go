package modules

import (
	"fmt"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Words is how a run's messages name options, list entries and option
// paths: the messages of the packages below (problem.Naming) and those of
// argument validation (ansible.Naming). A module used directly names its
// options; a run of the role names the role's variables. This is the one
// place that knows both, and messages are rendered with it before the
// result is written (and scrubbed): nothing rewrites them afterwards.
type Words interface {
	problem.Naming
	ansible.Naming
}

// moduleWords name what a module used directly is given: its options.
type moduleWords struct{}

func (moduleWords) Option(name string) string         { return problem.Module.Option(name) }
func (moduleWords) Name(name string) string           { return name }
func (moduleWords) Entry(e problem.Entry) string      { return problem.Module.Entry(e) }
func (moduleWords) OptionPath(p ansible.Path) string  { return ansible.ModuleNaming.OptionPath(p) }
func (moduleWords) ElementPath(p ansible.Path) string { return ansible.ModuleNaming.ElementPath(p) }

// roleWords name what the role's user sets: each option by the role
// variable behind it (vars), the entries of users as those of
// matrix_users_list. In register-user mode (the list's variable is "") the
// one user is named by its name and its options by the extra vars.
type roleWords struct {
	vars map[string]string
}

// Words are the words of the run's messages.
func (r Role) Words() Words {
	if len(r.vars) == 0 {
		return moduleWords{}
	}
	return roleWords{vars: r.vars}
}

// mapped is the role's name of an option, if it has one.
func (w roleWords) mapped(option string) (string, bool) {
	v, ok := w.vars[option]
	return v, ok && v != ""
}

// list is the role's variable of the users list; seed is true in
// register-user mode, where there is no list; ok is false when the role
// does not name the list at all.
func (w roleWords) list() (list string, seed, ok bool) {
	list, ok = w.vars[optUsers]
	return list, ok && list == "", ok
}

func (w roleWords) Option(name string) string {
	if v, ok := w.mapped(name); ok {
		return v
	}
	return "option " + name
}

func (w roleWords) Name(name string) string {
	if v, ok := w.mapped(name); ok {
		return v
	}
	return name
}

func (w roleWords) Entry(e problem.Entry) string {
	list, seed, ok := w.list()
	switch {
	case !e.List || !ok:
		return problem.Module.Entry(e)
	case seed && e.Name != "":
		return e.Name
	case seed:
		return w.Name(optUser)
	case e.Name == "":
		return fmt.Sprintf("%s[%d]", list, e.Index)
	}
	return fmt.Sprintf("%s[%d] (%s)", list, e.Index, e.Name)
}

// head names the first step of a path in the role's words, and says
// whether the role renamed it (then "option " is not written before it).
func (w roleWords) head(s ansible.Step) (string, bool) {
	if s.Elem && s.Option == optUsers {
		if _, _, ok := w.list(); ok {
			return w.Entry(problem.Entry{List: true, Index: s.Index, Name: s.Label}), false
		}
	}
	name, renamed := w.mapped(s.Option)
	if !renamed {
		return s.String(), false
	}
	if s.Elem {
		s.Option = name
		return s.String(), true
	}
	return name, true
}

func (w roleWords) OptionPath(p ansible.Path) string {
	if len(p) == 0 {
		return ""
	}
	if _, seed, _ := w.list(); seed && p[0].Elem && p[0].Option == optUsers {
		// The one user's options are extra vars of their own.
		if len(p) == 1 {
			return w.ElementPath(p)
		}
		return w.OptionPath(p[1:])
	}
	head, renamed := w.head(p[0])
	out := head
	if len(p) > 1 {
		out += "." + p[1:].String()
	}
	if renamed {
		return out
	}
	return "option " + out
}

func (w roleWords) ElementPath(p ansible.Path) string {
	if len(p) == 0 {
		return ""
	}
	if _, seed, _ := w.list(); seed && p[0].Elem && p[0].Option == optUsers && len(p) > 1 {
		return p[1:].String()
	}
	head, _ := w.head(p[0])
	if len(p) > 1 {
		head += "." + p[1:].String()
	}
	return head
}

// renderAll renders messages in the words w.
func renderAll(ms []*problem.Message, w Words) []string {
	if len(ms) == 0 {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Render(w)
	}
	return out
}

// publicWords are the names the role gives options: the result scrub
// leaves them alone where a piece of a secret lies inside one (a password
// holding "admin_password" does not shred matrix_users_admin_password),
// as it does the option names.
func (r Role) publicWords() []string {
	var out []string
	for _, v := range r.vars {
		out = append(out, v)
	}
	return out
}
