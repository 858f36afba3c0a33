package reconcile

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// The fields with endpoints of their own (ratelimit, shadow_banned,
// suspended): read before they are written, only for the users that
// declare them; written after the PUT, and after a create; a partial
// failure says what was applied and what was not sent.

func limit(perSecond, burst int64) override {
	return override{set: true, limit: synapse.Ratelimit{MessagesPerSecond: perSecond, BurstCount: burst}}
}

func TestOwnFieldsAreReadOnlyWhereDeclared(t *testing.T) {
	f := newFake(account("@bot:test"), account("@alice:test"), account("@carol:test"), account(me))
	f.ratelimits = map[string]*synapse.Ratelimit{"@bot:test": {}}
	r := adminRunner(f)
	got, _ := runOne(t, r,
		want("bot", func(d *Desired) { d.set("ratelimit", limit(0, 0)) }),
		want("alice", func(d *Desired) { d.set("shadow_banned", false) }),
		want("carol", nil))
	assert.Equal(t, ActionUnchanged, got["@bot:test"].Action, "the override is read, and it is the declared one")
	assert.Equal(t, ActionUnchanged, got["@alice:test"].Action, "the list says who is shadow-banned")
	assert.Equal(t, 1, f.count("GET ratelimit"), "one read, for the one user that declares it")
	assert.Equal(t, 0, f.count("GET @"), "no user's own answer: the list carries shadow_banned")
	assert.Empty(t, f.writes())
}

func TestOwnFieldsAfterThePut(t *testing.T) {
	f := newFake(account("@bob:test"), account(me))
	r := adminRunner(f)
	got, _ := runOne(t, r, want("bob", func(d *Desired) {
		d.set("displayname", "Bob")
		d.set("ratelimit", limit(5, 10))
		d.set("shadow_banned", true)
		d.set("suspended", true)
	}))
	o := got["@bob:test"]
	require.NoError(t, o.Err)
	assert.Equal(t, []string{"displayname", "ratelimit", "shadow_banned", "suspended"}, o.Changes)
	assert.Equal(t, []string{"PUT @bob:test", "RATELIMIT @bob:test", "SHADOWBAN @bob:test true", "SUSPEND @bob:test true"}, writesInOrder(f))
	view := o.User.View()
	assert.Equal(t, map[string]any{"messages_per_second": int64(5), "burst_count": int64(10)}, view["ratelimit"])
	assert.Equal(t, true, view["shadow_banned"])
	assert.Equal(t, true, view["suspended"])

	// Removing the override and lifting the ban and the suspension.
	f.calls = nil
	got, _ = runOne(t, r, want("bob", func(d *Desired) {
		d.set("ratelimit", override{})
		d.set("shadow_banned", false)
		d.set("suspended", false)
	}))
	require.NoError(t, got["@bob:test"].Err)
	assert.Equal(t, []string{"UNRATELIMIT @bob:test", "SHADOWBAN @bob:test false", "SUSPEND @bob:test false"}, writesInOrder(f))
	assert.Equal(t, map[string]any{"ratelimit": map[string]any{"messages_per_second": int64(5), "burst_count": int64(10)}, "shadow_banned": true, "suspended": true, "deactivated": false},
		got["@bob:test"].Before)
	assert.Equal(t, map[string]any{"ratelimit": nil, "shadow_banned": false, "suspended": false, "deactivated": false}, got["@bob:test"].After)
}

func TestOwnFieldsAfterACreate(t *testing.T) {
	f := newFake(account(me))
	got, _ := runOne(t, adminRunner(f), want("bot", func(d *Desired) {
		d.set("password", "pw")
		d.set("ratelimit", limit(0, 0))
	}))
	require.NoError(t, got["@bot:test"].Err)
	assert.Equal(t, []string{"CREATE @bot:test", "PUT @bot:test", "RATELIMIT @bot:test"}, writesInOrder(f),
		"Synapse needs the account to exist first")
	assert.Equal(t, 0, f.count("GET ratelimit"), "a new account has no override to read")
}

func TestOwnFieldsInCheckMode(t *testing.T) {
	f := newFake(account("@bob:test"), account(me))
	r := adminRunner(f)
	r.CheckMode = true
	got, _ := runOne(t, r, want("bob", func(d *Desired) { d.set("suspended", true) }))
	o := got["@bob:test"]
	assert.Equal(t, ActionUpdated, o.Action)
	assert.Equal(t, []string{"suspended"}, o.Changes)
	assert.Equal(t, true, o.After["suspended"])
	assert.Empty(t, f.writes())
	assert.Equal(t, 1, f.count("GET @bob:test"), "the list does not say who is suspended: the user's own answer does")
}

// A failure midway names what was applied before it and what was not sent.
func TestOwnFieldsPartialFailure(t *testing.T) {
	f := newFake(account("@bob:test"), account(me))
	f.ownErr = map[string]error{"@bob:test": synapseErr(500, "M_UNKNOWN")}
	got, _ := runOne(t, adminRunner(f), want("bob", func(d *Desired) {
		d.set("displayname", "Bob")
		d.set("ratelimit", limit(0, 0))
		d.set("suspended", true)
	}))
	o := got["@bob:test"]
	require.Error(t, o.Err)
	assert.Contains(t, o.Err.Error(), "cannot update @bob:test (ratelimit): Synapse answered 500")
	assert.Contains(t, o.Err.Error(), "the request may still have been applied (rerun to see); already applied: displayname; not sent: suspended")
	assert.True(t, o.Wrote)
	assert.Equal(t, "Bob", o.User.View()["displayname"], "the user as it is: the PUT was applied")

	f = newFake(account(me))
	f.ownErr = map[string]error{"@bot:test": synapseErr(403, "M_FORBIDDEN")}
	got, _ = runOne(t, adminRunner(f), want("bot", func(d *Desired) {
		d.set("shadow_banned", true)
		d.set("suspended", true)
	}))
	assert.ErrorContains(t, got["@bot:test"].Err, "created @bot:test, but could not set shadow_banned: Synapse answered 403 M_FORBIDDEN")
	assert.ErrorContains(t, got["@bot:test"].Err, "not sent: suspended")
}

// A Synapse without the suspend endpoint refuses suspended: true before any
// write; suspended: false is what each of its accounts is.
func TestSuspendedWhereTheServerCannotSuspend(t *testing.T) {
	f := newFake(account("@bob:test"), account("@carol:test"), account(me))
	f.noSuspend = true
	got, _ := runOne(t, adminRunner(f),
		want("bob", func(d *Desired) { d.set("suspended", true); d.set("displayname", "Bob") }),
		want("carol", func(d *Desired) { d.set("suspended", false) }))
	assert.ErrorContains(t, got["@bob:test"].Err, "suspended: this Synapse cannot suspend users (PUT /_synapse/admin/v1/suspend/<user_id> needs Synapse 1.122 or later), so bob was left alone")
	assert.Equal(t, ActionUnchanged, got["@carol:test"].Action)
	assert.Empty(t, f.writes(), "nothing sent for bob, not even his display name")
	assert.Equal(t, 1, f.count("GET suspend"), "asked once per run")

	// A Synapse that has the endpoint but says of nobody whether they are
	// suspended (1.110 to 1.120 with the experimental flag): refused.
	refuse, err := suspensionSupport(SupportQuery{Ctx: context.Background(), Client: newFake(), Me: me,
		Seen: []*synapse.User{{Name: "@bob:test", Detailed: true}}, Explain: func(err error) error { return err }})
	require.NoError(t, err)
	require.NotNil(t, refuse)
	assert.ErrorContains(t, refuse(problem.Entry{Name: "bob"}, false), "does not say who is suspended")
}

func TestOwnFieldsNeverLockOutTheAdmin(t *testing.T) {
	for _, field := range []string{"suspended", "shadow_banned"} {
		f := newFake(account(me))
		got, _ := runOne(t, adminRunner(f), want("admin", func(d *Desired) { d.set(field, true) }))
		assert.ErrorContains(t, got[me].Err, "it is the admin this module authenticates as", field)
		assert.Empty(t, f.writes())
	}
}

// writesInOrder are the writes in the order they were sent.
func writesInOrder(f *fakeClient) []string {
	var out []string
	for _, c := range f.calls {
		if !isRead(c) {
			out = append(out, c)
		}
	}
	return out
}
