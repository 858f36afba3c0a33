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
	// TypeRaw takes the value as it is (a module checks it itself).
	TypeRaw Type = "raw"
)

// Option describes one module option the way an Ansible argument_spec does.
// The modules' docs-only .py files document the same fields; a test compares
// the two so that they cannot drift apart.
//
// Its JSON form (the binary's --spec output) uses argument_spec's keys.
type Option struct {
	Name     string   `json:"name"`
	Type     Type     `json:"type"`
	Elements Type     `json:"elements,omitempty"` // element type of a list
	Required bool     `json:"required"`
	Default  any      `json:"default"`
	Choices  []string `json:"choices,omitempty"`
	NoLog    bool     `json:"no_log"`
	Aliases  []string `json:"aliases,omitempty"`
	// Min and Max bound an int option when Max is not 0; the message of a
	// value outside them states the range.
	Min int64 `json:"min,omitempty"`
	Max int64 `json:"max,omitempty"`
	// Options are the sub-options of a dict, or of each dict element of a list.
	Options []Option `json:"options,omitempty"`
	// ElementName names the sub-option whose value names each element of
	// a list of dicts in messages: users[2] (ex-staff), not users[2].
	ElementName string `json:"element_name,omitempty"`
}

// Spec is the argument spec of one module.
type Spec struct {
	// Module is the name shown in messages, e.g. "mxadmin.synapse.matrix_user".
	Module            string     `json:"module"`
	Options           []Option   `json:"options"`
	MutuallyExclusive [][]string `json:"mutually_exclusive,omitempty"`
	RequiredOneOf     [][]string `json:"required_one_of,omitempty"`
	RequiredTogether  [][]string `json:"required_together,omitempty"`
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
