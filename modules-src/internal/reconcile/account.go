package reconcile

import (
	"maps"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Account is a user as a backend reports it, or as a plan predicts it: its
// state and the value of each field that was read (a field not read, such
// as threepids from the bulk list, has no value rather than a wrong one).
type Account struct {
	ID          string
	Deactivated bool
	Erased      bool
	// values are the fields' values by field name, canonical (as Declare
	// makes declared ones), so that they compare with declared values.
	values map[string]any
}

// AccountOf is the account a user answer of Synapse reports.
func AccountOf(u *synapse.User) *Account {
	if u == nil {
		return nil
	}
	a := &Account{ID: u.Name, Deactivated: bool(u.Deactivated), Erased: bool(u.Erased), values: map[string]any{}}
	for _, f := range fields {
		if f.Synapse.FromUser == nil {
			continue
		}
		if v, ok := f.Synapse.FromUser(u); ok {
			a.values[f.Name] = v
		}
	}
	return a
}

// newAccount is what a new account looks like before the rest of its
// declaration is set: every field at its Zero, and the display name
// Synapse gives a new user (its localpart).
func newAccount(id, localpart string) *Account {
	a := &Account{ID: id, values: map[string]any{}}
	for _, f := range fields {
		if f.Zero != nil {
			a.values[f.Name] = f.Zero
		}
	}
	a.values["displayname"] = localpart
	return a
}

// Value is the value of a field, and whether it is known (nothing is known
// of no account).
func (a *Account) Value(name string) (any, bool) {
	if a == nil {
		return nil, false
	}
	v, ok := a.values[name]
	return v, ok
}

// withZero is a with every field it does not report at its Zero: what a
// new account has, since nothing set those fields on it (and a server
// that does not report a field cannot set it).
func (a *Account) withZero() *Account {
	c := a.clone()
	for _, f := range fields {
		if _, ok := c.values[f.Name]; !ok && f.Zero != nil {
			c.set(f.Name, f.Zero)
		}
	}
	return c
}

// set gives a field a value.
func (a *Account) set(name string, v any) {
	if a.values == nil {
		a.values = map[string]any{}
	}
	a.values[name] = v
}

// forget drops what is known of a field.
func (a *Account) forget(name string) { delete(a.values, name) }

func (a *Account) clone() *Account {
	if a == nil {
		return nil
	}
	c := *a
	c.values = maps.Clone(a.values)
	return &c
}

// deactivate predicts what Synapse's deactivation does: it removes the
// password and the threepids, and erasing also removes the profile.
func (a *Account) deactivate(erase bool) {
	a.Deactivated = true
	a.set("threepids", []synapse.Threepid{})
	if erase {
		a.Erased = true
		a.set("displayname", "")
		a.set("avatar_url", "")
	}
}

// View is the account as the modules' results show it: its state, and
// each field whose value was read (or is predicted), never a secret.
func (a *Account) View() map[string]any {
	if a == nil {
		return nil
	}
	m := map[string]any{"name": a.ID, stateDeactivated: a.Deactivated, stateErased: a.Erased}
	for _, f := range fields {
		if v, ok := a.values[f.Name]; ok && !f.Secret {
			m[f.Name] = f.show(v)
		}
	}
	return m
}

// show is a field or state value of the account as a diff shows it.
func (a *Account) show(name string) any {
	switch name {
	case stateDeactivated:
		return a.Deactivated
	case stateErased:
		return a.Erased
	}
	f := mustField(name)
	if v, ok := a.values[name]; ok {
		return f.show(v)
	}
	return "(unknown)"
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
