package reconcile

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Field is the one declaration of a per-user field: everything the
// collection does with it follows from this entry of the fields table
// (see CONTRIBUTING.md, "Adding a per-user field"). The module's option and
// its decoding, Desired, the planner, the apply step, the result's user
// view, the diff, the length limit, the messages that list fields and the
// checks of the docs all read it; nothing else names the field.
type Field struct {
	// Name is the field's name: its option, its key in changes, the
	// diff and the user view.
	Name string
	// Option is how a task declares it (its type, sub-options, choices,
	// no_log); the modules make it an option of each user.
	Option Option
	// Declare checks and canonicalises a declared value, as the option's
	// type coercion gives it (a string, a bool, an int, a []any of
	// map[string]any, a map[string]any), into the value compared and sent;
	// nil keeps it as given. Its errors name the option (problem.Option).
	Declare func(v any) (any, error)
	// MaxChars is Synapse's length limit of a string field, in characters
	// (Python's len); 0 for none.
	MaxChars int
	// Zero is the value of an account nothing set the field on: a new
	// account, or any account of a server that has no such feature.
	Zero any
	// Show is how results and diffs show a value; nil shows it as it is.
	Show func(v any) any
	// Register puts a declared value into a shared-secret registration;
	// nil when a registration cannot set the field.
	Register func(v any, r *synapse.Registration)
	// SelfGuard refuses a value that would lock out the admin the module
	// authenticates as (id); nil when no value can.
	SelfGuard func(v any, id string) error
	// Secret: the value is never compared, shown or read back (the
	// password: the planner's password rules decide, the diff shows a
	// marker).
	Secret bool
	// Synapse is how the Synapse backend reads and writes the field. The
	// next backend (MAS) gets a wiring of its own; a field a backend has
	// no wiring for is refused there.
	Synapse SynapseWiring
}

// SynapseWiring is how Synapse's admin API reads and writes a field.
type SynapseWiring struct {
	// FromUser reads the field from an answer of the user API (the list,
	// or GET /_synapse/admin/v2/users/<id>); ok is false when the answer
	// does not carry it. nil for a field read with an endpoint of its own.
	FromUser func(u *synapse.User) (v any, ok bool)
	// Read reads the field with an endpoint of its own, one request per
	// account that declares it (with bounded concurrency).
	Read func(ctx context.Context, c Client, id string) (any, error)
	// Key is the field's key in the body of the modifying PUT
	// (PUT /_synapse/admin/v2/users/<id>), which the PUT after a create
	// carries too; "" for a field written with an endpoint of its own.
	Key string
	// Encode is how a value goes into the body; nil: as it is.
	Encode func(v any) any
	// Write sets a value with an endpoint of its own. Synapse needs the
	// account to exist first, so after a create it comes after the PUT
	// that completes the account.
	Write func(ctx context.Context, c Client, id string, v any) error
	// Support finds out, once per run that declares the field, whether this
	// Synapse can manage it, when not every supported release can. It
	// returns nil when it can; else a refusal of a declared value, which
	// is nil for a value that holds anyway (no account of such a server
	// has the feature, so each has the field's Zero). nil: every release
	// can.
	Support func(q SupportQuery) (refuse func(e problem.Entry, v any) error, err error)
}

// SupportQuery is what a field's Support may use: the user answers read
// so far, the client, and the admin the module acts as.
type SupportQuery struct {
	Ctx     context.Context
	Client  Client
	Me      string
	Seen    []*synapse.User
	Explain func(error) error
}

// Option is how a task declares a field, in an argument spec's terms
// (the modules turn it into the option of the module).
type Option struct {
	Name     string
	Type     string // str, bool, int, list, dict
	Elements string
	Required bool
	Choices  []string
	NoLog    bool
	// Min and Max bound an int when Max is not 0.
	Min, Max int64
	// Options are the sub-options of a dict, or of each dict of a list.
	Options []Option
}

// The state of an account, which the diff and changes report in the same
// order as the fields (they are no option: state and erase declare them).
const (
	stateDeactivated = "deactivated"
	stateErased      = "erased"
)

// reportOrder is the order of changes and of the diff: the fields in
// table order, with the state after admin (where Synapse applies it).
func reportOrder() []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.Name)
		if f.Name == "admin" {
			out = append(out, stateDeactivated, stateErased)
		}
	}
	return out
}

// Fields are the per-user fields, in report order.
func Fields() []*Field { return slices.Clone(fields) }

// FieldNamed is the table entry of name, or nil.
func FieldNamed(name string) *Field {
	for _, f := range fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// mustField is the table entry of a name the code itself writes. An
// unknown name is a programming error (a misspelt name would vanish from
// changes and the diff while its request is still sent), so it panics; the
// module's dispatch turns a panic into a failed result.
func mustField(name string) *Field {
	if f := FieldNamed(name); f != nil {
		return f
	}
	panic(fmt.Sprintf("reconcile: unknown user field %q", name))
}

// ordered puts field and state names into report order; it panics on a
// name it does not know rather than drop it.
func ordered(names []string) []string {
	order := reportOrder()
	for _, n := range names {
		if !slices.Contains(order, n) {
			panic(fmt.Sprintf("reconcile: unknown user field %q", n))
		}
	}
	out := make([]string, 0, len(names))
	for _, n := range order {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	return out
}

// registrableFields lists, in report order, the fields a shared-secret
// registration can set.
func registrableFields() []string {
	var out []string
	for _, f := range fields {
		if f.Register != nil {
			out = append(out, f.Name)
		}
	}
	return out
}

// equal compares a declared value with a current one (both canonical).
func equal(declared, current any) bool { return reflect.DeepEqual(declared, current) }

// body puts a value into the body of the modifying PUT.
func (f *Field) body(v any, b synapse.UserUpdate) {
	if f.Synapse.Encode != nil {
		v = f.Synapse.Encode(v)
	}
	b.Set(f.Synapse.Key, v)
}

// show is how a result shows a field's value.
func (f *Field) show(v any) any {
	if f.Show != nil {
		return f.Show(v)
	}
	return v
}
