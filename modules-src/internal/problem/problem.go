// Package problem is how the packages below modules report what went
// wrong, or what the user should know, without knowing the user's words.
//
// A Message has a Code (what kind of problem), the Entry of the declaration
// it concerns (users[2] (bob)), and a text whose references to options,
// option names and entries are arguments of their own types (Option, Name,
// Entry) rather than written into it. Whoever knows how the user calls
// them renders it with a Naming: a module used directly says
// "option exclusive" and "users[2] (bob)", the role says
// "matrix_users_exclusive" and "matrix_users_list[2] (bob)". Nothing is
// rewritten afterwards, so nothing can be rewritten wrongly (a user ID
// @admin_token:example.com is not an option, a secret is never split).
package problem

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Code says what kind of problem a Message is, for code that acts on it
// and for tests; the text says it to people.
type Code string

// The codes.
const (
	// Invalid: the declaration or an option is refused before any
	// request.
	Invalid Code = "invalid"
	// Credentials: the credentials given cannot do what is declared (only
	// the shared secret), or are not valid.
	Credentials Code = "credentials"
	// OtherServer: a user ID of another homeserver, or a server_name that
	// is not this homeserver's.
	OtherServer Code = "other_server"
	// IDTooLong: a user ID over Synapse's 255 bytes.
	IDTooLong Code = "id_too_long"
	// SelfGuard: the change would lock out the admin the module acts as.
	SelfGuard Code = "self_guard"
	// Unsupported: this Synapse cannot do what is declared (too old).
	Unsupported Code = "unsupported"
	// Server: Synapse refused or failed a request, or could not be read.
	Server Code = "server"
	// Unverified: what is declared could neither be applied nor checked.
	Unverified Code = "unverified"
	// Password: a password could not be compared, or password_pepper is
	// wrong.
	Password Code = "password"
	// Threshold: exclusive mode's safety threshold refuses the run.
	Threshold Code = "threshold"
	// Unresolved: which account an entry names cannot be established.
	Unresolved Code = "unresolved"
	// Interrupted: the run ended (a signal, the controller gone) before a
	// write was sent.
	Interrupted Code = "interrupted"
	// Note: a warning, or what a result says about a change.
	Note Code = "note"
)

// Option refers to an option in a sentence: "option exclusive" for a
// module used directly, "matrix_users_exclusive" in a role run.
type Option string

// Name is an option's bare name, as in "give admin_token or
// admin_user/admin_password": "matrix_users_admin_token" in a role run.
type Name string

// Entry is an entry of the declaration: the i-th of the users list, or the
// one user of the single form. The zero Entry is none.
type Entry struct {
	// List is true for an entry of the users list, whose Index it is.
	List  bool
	Index int
	// Name is the user as written (alice, @alice:example.com).
	Name string
}

// IsZero reports whether e is no entry.
func (e Entry) IsZero() bool { return !e.List && e.Name == "" }

// Naming renders the references of a Message in the user's words.
type Naming interface {
	// Option is how a sentence refers to an option.
	Option(name string) string
	// Name is an option's bare name.
	Name(name string) string
	// Entry names an entry of the declaration.
	Entry(e Entry) string
}

// Module is the Naming of a module used directly: its own option names.
var Module Naming = moduleNaming{}

type moduleNaming struct{}

func (moduleNaming) Option(name string) string { return "option " + name }
func (moduleNaming) Name(name string) string   { return name }
func (moduleNaming) Entry(e Entry) string {
	if !e.List {
		return e.Name
	}
	if e.Name == "" {
		return fmt.Sprintf("users[%d]", e.Index)
	}
	return fmt.Sprintf("users[%d] (%s)", e.Index, e.Name)
}

// Renderer is an error (of another package) whose text refers to options:
// it renders itself with a Naming.
type Renderer interface {
	Render(n Naming) string
}

// Message is a problem, or a warning, whose text is rendered with a Naming.
type Message struct {
	Code Code
	// Entry is the entry the message concerns; rendered, it leads the text
	// ("users[2] (bob): ...").
	Entry Entry
	// Options are the options the text refers to, in order.
	Options []string
	format  string
	args    []any
}

// Errorf makes a Message. format is fmt's; an argument of type Option, Name
// or Entry is rendered with the Naming, an error argument is rendered in
// the same way when it is a Message or a Renderer (and is what Unwrap
// returns), anything else as fmt does.
func Errorf(code Code, format string, args ...any) *Message {
	m := &Message{Code: code, format: format, args: args}
	for _, a := range args {
		switch x := a.(type) {
		case Option:
			m.Options = append(m.Options, string(x))
		case Name:
			m.Options = append(m.Options, string(x))
		case *Message:
			m.Options = append(m.Options, x.Options...)
		}
	}
	m.Options = slices.Compact(m.Options)
	return m
}

// About is m concerning the entry e (a copy: m is not changed).
func (m *Message) About(e Entry) *Message {
	c := *m
	c.Entry = e
	return &c
}

// Render is the text in the words of n, led by its entry.
func (m *Message) Render(n Naming) string {
	text := m.RenderText(n)
	if m.Entry.IsZero() {
		return text
	}
	return n.Entry(m.Entry) + ": " + text
}

// RenderText is the text without its entry.
func (m *Message) RenderText(n Naming) string {
	args := make([]any, len(m.args))
	for i, a := range m.args {
		args[i] = renderArg(a, n)
	}
	return fmt.Sprintf(m.format, args...)
}

func renderArg(a any, n Naming) any {
	switch x := a.(type) {
	case Option:
		return n.Option(string(x))
	case Name:
		return n.Name(string(x))
	case Entry:
		return n.Entry(x)
	case *Message:
		// A message inside another speaks of the same entry, which the
		// outer one names.
		return x.RenderText(n)
	case Renderer:
		return x.Render(n)
	case error:
		return Render(x, n)
	}
	return a
}

// Error is the text in a module's own words (tests, logs).
func (m *Message) Error() string { return m.Render(Module) }

// Unwrap returns the errors among the arguments, for errors.Is and As.
func (m *Message) Unwrap() []error {
	var out []error
	for _, a := range m.args {
		if err, ok := a.(error); ok {
			out = append(out, err)
		}
	}
	return out
}

// Render is err's text in the words of n: a Message or a Renderer anywhere
// in the chain of fmt.Errorf wrappings is rendered; other errors are their
// text.
func Render(err error, n Naming) string {
	if err == nil {
		return ""
	}
	switch x := err.(type) {
	case *Message:
		return x.Render(n)
	case Renderer:
		return x.Render(n)
	}
	// An fmt.Errorf("...: %w", inner) whose inner part renders: render it
	// in place (its text is the tail of the outer one).
	var inner error
	if u, ok := err.(interface{ Unwrap() error }); ok {
		inner = u.Unwrap()
	}
	text := err.Error()
	if inner != nil {
		if plain := inner.Error(); strings.HasSuffix(text, plain) {
			if _, ok := renders(inner); ok {
				return strings.TrimSuffix(text, plain) + Render(inner, n)
			}
		}
	}
	return text
}

// renders reports whether err, or an error it wraps, renders itself.
func renders(err error) (error, bool) {
	var m *Message
	if errors.As(err, &m) {
		return m, true
	}
	var r Renderer
	if errors.As(err, &r) {
		return err, true
	}
	return nil, false
}

// Join joins names as a sentence does: "a", "a and b", "a, b and c".
func Join(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// AdminCredentials is "admin_token or admin_user/admin_password", the
// credentials that can read and change users, in the user's words.
type AdminCredentials struct{}

// Render names the options.
func (AdminCredentials) Render(n Naming) string {
	return n.Name("admin_token") + " or " + n.Name("admin_user") + "/" + n.Name("admin_password")
}
