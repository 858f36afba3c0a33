package ansible

import (
	"fmt"
	"strings"
)

// Step is one step of the path to an option in the arguments: an option
// (users, password), or an element of a list option (users[2], labelled
// by the value that names it: users[2] (bob)).
type Step struct {
	Option string
	// Elem: the step is the element Index of the list option Option.
	Elem  bool
	Index int
	Label string
}

// Path is where an option is in the arguments: password, or
// users[2] (bob).password.
type Path []Step

// With is the path extended by step (p is not changed).
func (p Path) With(step Step) Path {
	return append(append(Path{}, p...), step)
}

// String is the path as messages of a module used directly write it.
func (p Path) String() string {
	parts := make([]string, len(p))
	for i, s := range p {
		parts[i] = s.String()
	}
	return strings.Join(parts, ".")
}

// String is the step as written in a path.
func (s Step) String() string {
	if !s.Elem {
		return s.Option
	}
	if s.Label == "" {
		return fmt.Sprintf("%s[%d]", s.Option, s.Index)
	}
	return fmt.Sprintf("%s[%d] (%s)", s.Option, s.Index, s.Label)
}

// Naming says how validation messages name options: as the module does
// ("option users[2] (bob).password"), or as a role that wraps it does
// ("option matrix_users_list[2] (bob).password").
type Naming interface {
	// OptionPath refers to the option at p in a sentence.
	OptionPath(p Path) string
	// ElementPath names the list element at p (its last step).
	ElementPath(p Path) string
	// Name is a top-level option's bare name.
	Name(name string) string
}

// ModuleNaming names options as the module's own spec does.
var ModuleNaming Naming = moduleNaming{}

type moduleNaming struct{}

func (moduleNaming) OptionPath(p Path) string  { return "option " + p.String() }
func (moduleNaming) ElementPath(p Path) string { return p.String() }
func (moduleNaming) Name(name string) string   { return name }
