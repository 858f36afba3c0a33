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
	assert.Panics(t, func() { pick(&synapse.User{}, []string{"colour"}) })
	assert.Equal(t, []string{"password", "admin", "locked"}, ordered([]string{"locked", "admin", "password"}))
}

// Every field a declaration can set is complete in the table, so the
// planner, the diff and the checks all see it.
func TestFieldsTableIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range fields {
		require.False(t, seen[f.name], "%s twice", f.name)
		seen[f.name] = true
		assert.Equal(t, f.maxChars > 0, f.text != nil, "%s: text and maxChars go together", f.name)
		if f.given == nil {
			assert.Nil(t, f.send, "%s: a field nobody declares is not sent", f.name)
			continue
		}
		assert.NotNil(t, f.send, "%s: no wire form", f.name)
		assert.True(t, f.show != nil || f.name == "password", "%s: not shown in the diff", f.name)
	}
	// A declaration with every field set manages every declarable field,
	// and each one changes an empty existing account.
	d := &Desired{State: StatePresent, Password: ptr("pw"), UpdatePassword: PasswordAlways, Admin: ptr(true),
		Displayname: ptr("B"), AvatarURL: ptr("mxc://x/y"), UserType: ptr("bot"), Locked: ptr(true),
		Threepids:   &[]synapse.Threepid{{Medium: "email", Address: "b@example.com"}},
		ExternalIDs: &[]synapse.ExternalID{{AuthProvider: "oidc", ExternalID: "b"}}}
	var declarable []string
	for _, f := range fields {
		if f.given != nil {
			declarable = append(declarable, f.name)
		}
	}
	assert.Equal(t, declarable, d.Declared())
	p := PlanUser(d, "@bob:test", &synapse.User{Name: "@bob:test", Detailed: true}, PasswordDifferent, canRead)
	require.NoError(t, p.Err)
	assert.Equal(t, declarable, p.Changes)
	for _, name := range declarable {
		assert.Contains(t, p.After, name)
	}
	assert.Equal(t, []string{"threepids", "external_ids", "avatar_url", "locked"}, d.Unsettable())
}
