package reconcile

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// A name outside the fields table must not vanish from changes or the diff
// while its request is still sent: ordered and pick refuse it loudly.
func TestUnknownFieldNameIsNotDropped(t *testing.T) {
	assert.PanicsWithValue(t, `reconcile: unknown user field "dispalyname"`, func() { ordered([]string{"admin", "dispalyname"}) })
	assert.Panics(t, func() { pick(&Account{}, []string{"colour"}) })
	assert.Equal(t, []string{"password", "admin", "deactivated", "locked"}, ordered([]string{"locked", "deactivated", "admin", "password"}))
}

// Every field of the table is complete: declared by an option, read and
// written by the Synapse backend (a key of the modify body, or an endpoint
// of its own, then read by one too), shown unless secret.
func TestFieldsTableIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range fields {
		require.False(t, seen[f.Name], "%s twice", f.Name)
		seen[f.Name] = true
		assert.NotEmpty(t, f.Option.Type, "%s: no option type", f.Name)
		w := f.Synapse
		assert.True(t, (w.Key != "") != (w.Write != nil), "%s: a key of the modify body or an endpoint of its own, one of them", f.Name)
		if !f.Secret {
			assert.True(t, (w.FromUser != nil) != (w.Read != nil), "%s: read from the user's answer or an endpoint of its own, one of them", f.Name)
			assert.NotNil(t, f.Zero, "%s: the value of a new account", f.Name)
		}
		if f.MaxChars > 0 {
			assert.Equal(t, "str", f.Option.Type, "%s: a length limit is a string's", f.Name)
		}
	}
	assert.Equal(t, []string{"password", "displayname", "admin", "user_type"}, registrableFields())
}

// A declaration with every field set manages every field, and each one
// changes an empty existing account.
func TestEveryFieldChangesAnAccount(t *testing.T) {
	d := with(&Desired{State: StatePresent, UpdatePassword: PasswordAlways}, "password", "pw", "admin", true,
		"displayname", "B", "avatar_url", "mxc://x/y", "user_type", "bot", "locked", true,
		"threepids", []synapse.Threepid{{Medium: "email", Address: "b@example.com"}},
		"external_ids", []synapse.ExternalID{{AuthProvider: "oidc", ExternalID: "b"}})
	var all []string
	for _, f := range fields {
		all = append(all, f.Name)
		if _, ok := d.Value(f.Name); !ok {
			d.set(f.Name, nonZero(f))
		}
	}
	assert.Equal(t, all, d.Declared())
	p := PlanUser(d, "@bob:test", newAccount("@bob:test", "b"), PasswordDifferent, canRead)
	require.NoError(t, p.Err)
	assert.Equal(t, all, p.Changes)
	for _, name := range all {
		if !mustField(name).Secret {
			assert.Contains(t, p.After, name)
		}
	}
	assert.NotEmpty(t, d.Unsettable())
}

// nonZero is a value of f that a new account does not have.
func nonZero(f *Field) any {
	switch f.Zero.(type) {
	case bool:
		return true
	case string:
		return "x"
	case override:
		return override{set: true}
	}
	panic("no non-zero value for " + f.Name)
}
