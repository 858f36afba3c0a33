// Package tokens reconciles declared registration tokens with a backend's:
// desired vs current → plan → apply, over the small Client interface, so
// that it is tested without HTTP and a backend other than Synapse (the
// Matrix Authentication Service, whose tokens have IDs and are revoked
// rather than deleted) plugs in by implementing Client.
//
// A registration token is a credential: whoever has it can create an
// account. Its value is therefore never written into a message or a diff by
// this package (labels name entries by their place and name), and every
// value read from the backend is handed to Runner.Secret so that the
// module's scrub masks it everywhere.
package tokens

import (
	"context"
	"fmt"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Token is a registration token as a backend reports it, or as a plan
// predicts it.
type Token struct {
	Value string
	// UsesAllowed nil is unlimited.
	UsesAllowed *int64
	// ExpiryTime is in milliseconds since the epoch; nil is never.
	ExpiryTime *int64
	// Pending and Completed are the backend's counts of sign-ups started
	// and finished with it: reported, never compared.
	Pending, Completed int64
}

// Change is what an update sets: only the fields marked are sent.
type Change struct {
	SetUses     bool
	UsesAllowed *int64
	SetExpiry   bool
	ExpiryTime  *int64
}

// Empty reports whether the change sets nothing.
func (c Change) Empty() bool { return !c.SetUses && !c.SetExpiry }

// Client is what reconciling tokens needs from a backend.
type Client interface {
	// List returns every token, valid or not.
	List(ctx context.Context) ([]Token, error)
	// Get reads one token; nil when it does not exist.
	Get(ctx context.Context, value string) (*Token, error)
	// Create makes a token that does not exist (never modifying one that
	// does). maybe: the answer was lost and the token exists now; whether
	// this request made it is unknown.
	Create(ctx context.Context, t Token) (created *Token, maybe bool, err error)
	// Update sets what the change marks.
	Update(ctx context.Context, value string, c Change) (*Token, error)
	// Delete removes a token; accounts made with it stay.
	Delete(ctx context.Context, value string) error
	// MayHaveApplied says whether a write that failed with err may still
	// have been applied.
	MayHaveApplied(err error) bool
}

// Desired is one declared token.
type Desired struct {
	// Index is the entry's place in the tokens list; -1 for the single form.
	Index int
	// Value is the token's value as declared (a secret); "" for one the
	// module generates, which Name identifies.
	Value string
	// Name identifies a generated token: its value is Name~<random>.
	Name string
	// Length is the length of a generated token's random part.
	Length      int
	Absent      bool
	UsesAllowed *int64
	ExpiryTime  *int64
}

// Generated reports whether the module makes the value.
func (d *Desired) Generated() bool { return d.Value == "" }

// Sep separates a generated token's name from its random part. The name
// may not hold it, so that a name finds exactly its own tokens.
const Sep = "~"

// ListOption and ValueOption are the options messages name: the tokens
// list, and the token value of the single form.
const (
	ListOption  = "tokens"
	ValueOption = "token"
	NameOption  = "name"
)

// Ref names a declared entry in messages without its value: tokens[2]
// (invite), tokens[0], or, in the single form, the name or "the token".
// It renders with the run's words (the role's variable in a role run).
type Ref struct{ d *Desired }

// RefOf is the reference to d.
func RefOf(d *Desired) Ref { return Ref{d} }

// Render implements problem.Renderer.
func (r Ref) Render(n problem.Naming) string {
	d := r.d
	switch {
	case d == nil:
		return "an undeclared token"
	case d.Index < 0 && d.Name != "":
		return fmt.Sprintf("the token named %s", d.Name)
	case d.Index < 0:
		return "the token of " + n.Option(ValueOption)
	case d.Name != "":
		return fmt.Sprintf("%s[%d] (%s)", n.Name(ListOption), d.Index, d.Name)
	}
	return fmt.Sprintf("%s[%d]", n.Name(ListOption), d.Index)
}

func (r Ref) String() string { return r.Render(problem.Module) }

// ISO renders milliseconds since the epoch as RFC 3339 in UTC (with the
// milliseconds when there are any), the second form the diff shows.
func ISO(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	if ms%1000 != 0 {
		return t.Format("2006-01-02T15:04:05.000Z07:00")
	}
	return t.Format(time.RFC3339)
}
