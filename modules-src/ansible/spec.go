package ansible

// The argument spec of a module, as Ansible's argument_spec declares it,
// and what Validate gives back.

import (
	"strings"
)

// Type is an Ansible option type, named as in argument_spec and DOCUMENTATION.
type Type string

// The option types this package coerces values to.
const (
	TypeStr  Type = "str"
	TypeBool Type = "bool"
	TypeInt  Type = "int"
	TypeList Type = "list"
	TypeDict Type = "dict"
	TypePath Type = "path"
)

// Option describes one module option the way an Ansible argument_spec does.
// The modules' docs-only .py files document the same fields; a test compares
// the two so that they cannot drift apart.
type Option struct {
	Name     string
	Type     Type
	Elements Type // element type of a list
	Required bool
	Default  any
	Choices  []string
	NoLog    bool
	Aliases  []string
	// Min and Max bound an int option when Max is not 0; the message of a
	// value outside them states the range.
	Min, Max int64
	// Options are the sub-options of a dict, or of each dict element of a list.
	Options []Option
	// ElementName names the sub-option whose value names each element of
	// a list of dicts in messages: users[2] (ex-staff), not users[2].
	ElementName string
}

// Spec is the argument spec of one module.
type Spec struct {
	// Module is the name shown in messages, e.g. "mxadmin.synapse.matrix_user".
	Module            string
	Options           []Option
	MutuallyExclusive [][]string
	RequiredOneOf     [][]string
	RequiredTogether  [][]string
}

// Internal holds the _ansible_* keys a module acts on. Every other
// _ansible_* key is ignored, as new ansible-core releases add more of them.
type Internal struct {
	CheckMode bool
	Diff      bool
	Verbosity int
}

// ValidationError lists every problem found in the arguments, so that a user
// fixes them all in one go instead of one per run.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }
