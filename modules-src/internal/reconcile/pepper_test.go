package reconcile

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

const serverPepper = "the-servers-pepper"

// pepperServer is a fake Synapse with a pepper and five users whose stored
// password is "old-pw".
func pepperServer(t *testing.T) *fakeClient {
	f := newFake(account(me))
	f.pepper = serverPepper
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5"} {
		id := UserID(name, "test")
		f.users[id] = account(id)
		f.hashes[id] = f.hash("old-pw")
	}
	return f
}

func alwaysUsers(password string) []*Desired {
	var out []*Desired
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5"} {
		out = append(out, want(name, func(d *Desired) { d.set("password", password); d.UpdatePassword = PasswordAlways }))
	}
	return out
}

// A wrong or missing password_pepper makes every comparison differ. The
// first password set is read back: it does not match, the run fails naming
// password_pepper, and no other compared password is sent. One user's
// password (and sessions) per run, not every user's.
func TestWrongPepperCostsOneWrite(t *testing.T) {
	for _, pepper := range []string{"", "a-wrong-pepper"} {
		f := pepperServer(t)
		r := adminRunner(f)
		r.Pepper = pepper
		outcomes, _, err := r.Run(context.Background(), alwaysUsers("old-pw"))
		require.NoError(t, err)
		assert.Len(t, f.passwords, 1, "one password sent")
		sent := f.passwords[0]
		for _, o := range outcomes {
			require.Error(t, o.Err, o.Name())
			assert.Contains(t, o.Err.Error(), "password_pepper is not this Synapse's pepper")
			if o.UserID == sent {
				assert.Contains(t, o.Err.Error(), "its password was set, but it does not match the hash Synapse stored for it")
				assert.True(t, o.Changed())
			} else {
				assert.Contains(t, o.Err.Error(), "nothing was sent")
				assert.False(t, o.Changed())
			}
		}
		assert.Equal(t, 5+1, f.count("HASHES "), "the five compared, and the one read back")
	}
}

// With a create in the run, the create's password is the one read back: a
// wrong pepper then costs nobody's sessions.
func TestWrongPepperFoundByACreate(t *testing.T) {
	f := pepperServer(t)
	r := adminRunner(f)
	desired := append(alwaysUsers("old-pw"), want("fresh", func(d *Desired) { d.set("password", "fresh-pw") }))
	got, _ := runOne(t, r, desired...)
	assert.Equal(t, []string{"@fresh:test"}, f.passwords, "only the new account's password was sent")
	assert.ErrorContains(t, got["@fresh:test"].Err, "@fresh:test: its password was set, but it does not match")
	assert.True(t, got["@fresh:test"].Wrote, "the account was created")
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5"} {
		assert.ErrorContains(t, got[UserID(name, "test")].Err, "nothing was sent", name)
	}
}

// The right pepper: a matching comparison proves it, and nothing more is
// read; without one, the first password set is read back once.
func TestRightPepperCostsAtMostOneRead(t *testing.T) {
	f := pepperServer(t)
	r := adminRunner(f)
	r.Pepper = serverPepper
	got, _ := runOne(t, r, alwaysUsers("old-pw")...)
	for id, o := range got {
		assert.Equal(t, ActionUnchanged, o.Action, id)
	}
	assert.Equal(t, 5, f.count("HASHES "), "the comparisons only")
	assert.Empty(t, f.writes())

	f = pepperServer(t)
	r = adminRunner(f)
	r.Pepper = serverPepper
	desired := append(alwaysUsers("new-pw"), want("fresh", func(d *Desired) { d.set("password", "fresh-pw") }))
	got, _ = runOne(t, r, desired...)
	for id, o := range got {
		require.NoError(t, o.Err, id)
	}
	assert.Equal(t, 5+1, f.count("HASHES "), "the comparisons, and one read back")
	assert.Equal(t, "@fresh:test", f.passwords[0], "the create first, alone")
	assert.Len(t, f.passwords, 6)
}

// In a login run, the admin's own hash, when the bulk read brings it, proves
// the pepper without a read back. A mismatch proves nothing (a password
// provider may have logged the admin in).
func TestPepperProvenByTheAdminsPassword(t *testing.T) {
	f := newFake(account(me))
	f.pepper = serverPepper
	f.hashes[me] = f.hash("admin-pw")
	var desired []*Desired
	for i := range hashesPerUserLimit + 1 {
		id := fmt.Sprintf("@u%d:test", i)
		f.users[id] = account(id)
		f.hashes[id] = f.hash("old-pw")
		desired = append(desired, want(localpartOf(id), func(d *Desired) { d.set("password", "new-pw"); d.UpdatePassword = PasswordAlways }))
	}
	r := adminRunner(f)
	r.Pepper, r.AdminPassword = serverPepper, "admin-pw"
	got, _ := runOne(t, r, desired...)
	for id, o := range got {
		require.NoError(t, o.Err, id)
	}
	assert.Equal(t, 1, f.count("HASHES "), "one bulk read, no read back")

	f.calls, f.passwords = nil, nil
	r.AdminPassword = "not-what-the-admin-has"
	desired = desired[:1]
	desired[0].set("password", "newer-pw")
	got, _ = runOne(t, r, desired...)
	require.NoError(t, got["@u0:test"].Err)
	assert.Equal(t, 2, f.count("HASHES "), "compared, then read back")
}

// A password that fills bcrypt's 72 bytes matches under many peppers: its
// match proves nothing, and a decisive one is read back first.
func TestPepperDecides(t *testing.T) {
	assert.True(t, pepperDecides("short", "pepper"))
	assert.False(t, pepperDecides(strings.Repeat("p", 70), "pepper"))
	assert.False(t, pepperDecides(strings.Repeat("p", 72), ""))
	assert.True(t, pepperDecides(strings.Repeat("p", 71), ""))

	long := strings.Repeat("L", 80)
	plans := []*Plan{
		{Create: true, Action: ActionCreated, Update: synapse.UserUpdate{"password": long}},
		{Action: ActionUpdated, Current: AccountOf(account("@a:test")), Update: synapse.UserUpdate{"password": "short"}},
		{Create: true, Action: ActionCreated, Update: synapse.UserUpdate{"password": "short"}},
	}
	assert.Equal(t, 2, pickProbe(plans, make([]bool, 3), ""), "a decisive create first")
	assert.Equal(t, 1, pickProbe(plans, []bool{false, false, true}, ""), "then a decisive update")
	assert.Equal(t, 0, pickProbe(plans, []bool{false, true, true}, ""))
	assert.Equal(t, -1, pickProbe(plans, []bool{true, true, true}, ""))

	// Only long passwords set: checked once, and left at that.
	f := newFake(account(me))
	r := adminRunner(f)
	got, _ := runOne(t, r, want("a", func(d *Desired) { d.set("password", long) }), want("b", func(d *Desired) { d.set("password", long) }))
	for id, o := range got {
		require.NoError(t, o.Err, id)
	}
	assert.Equal(t, 1, f.count("HASHES "))
}

// Where Synapse serves no hashes, nothing can be checked: no read back is
// tried more than once, and nothing fails for it.
func TestPepperWithoutHashes(t *testing.T) {
	f := newFake(account(me))
	f.hashErr = synapse.ErrHashesUnavailable
	got, _ := runOne(t, adminRunner(f), want("a", func(d *Desired) { d.set("password", "pw") }), want("b", func(d *Desired) { d.set("password", "pw") }))
	for id, o := range got {
		require.NoError(t, o.Err, id)
	}
	assert.Equal(t, 1, f.count("HASHES "))
}

// A Synapse that sets no password (password login or its local database
// off) refuses the first one with a 403: the other passwords are kept back,
// and no other account is created without its password.
func TestPasswordsRefusedByTheServer(t *testing.T) {
	f := newFake(account(me), account("@old:test"))
	f.hashes["@old:test"] = f.hash("pw-before")
	forbidden := &synapse.Error{Method: "PUT", Path: "/_synapse/admin/v2/users/x", Status: 403, Errcode: synapse.ErrcodeForbidden, Message: "Password change disabled"}
	f.putErr = map[string]error{"@a:test": forbidden, "@b:test": forbidden, "@old:test": forbidden}
	r := adminRunner(f)
	r.Explain = func(err error) error { return fmt.Errorf("%w; the token is not an admin's", err) }
	got, _ := runOne(t, r,
		want("a", func(d *Desired) { d.set("password", "pw-a") }),
		want("b", func(d *Desired) { d.set("password", "pw-b") }),
		want("old", func(d *Desired) { d.set("password", "pw-old"); d.UpdatePassword = PasswordAlways }),
		want("c", nil),
	)
	a := got["@a:test"]
	assert.ErrorContains(t, a.Err, "created @a:test, but could not set password")
	assert.ErrorContains(t, a.Err, "password_config.enabled, password_config.localdb_enabled")
	assert.NotContains(t, a.Err.Error(), "not an admin's", "the token's explanation would mislead")
	assert.ErrorContains(t, got["@b:test"].Err, "@b:test: it was not created (it would have been left without its password): Synapse refused to set the password of @a:test")
	assert.False(t, got["@b:test"].Changed())
	assert.ErrorContains(t, got["@old:test"].Err, "its password was not sent")
	assert.Equal(t, ActionCreated, got["@c:test"].Action, "without a password, nothing is held")
	assert.Equal(t, []string{"CREATE @a:test", "CREATE @c:test", "PUT @a:test"}, f.writes())
}
