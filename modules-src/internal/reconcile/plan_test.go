package reconcile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

func ptr[T any](v T) *T { return &v }

func TestParseUserRef(t *testing.T) {
	for in, want := range map[string][2]string{
		"john":               {"john", ""},
		"John":               {"john", ""},
		"@John:Example.COM":  {"john", "example.com"},
		"@j.o_h=n-/+:srv:84": {"j.o_h=n-/+", "srv:84"},
		"_bridge_bot":        {"_bridge_bot", ""},
	} {
		lp, srv, err := ParseUserRef(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, [2]string{lp, srv}, in)
	}
	for in, want := range map[string]string{
		"":              "localpart is empty",
		"john smith":    `found ' '`,
		"jo:hn":         "may not contain ':'",
		"12345":         "all digits",
		"@john":         "not a user ID",
		"@:example.com": "localpart is empty",
		"jöhn":          `found 'ö'`,
		"@" + strings.Repeat("a", 250) + ":example.com": "Synapse allows at most 255",
	} {
		_, _, err := ParseUserRef(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func TestCanonicalThreepids(t *testing.T) {
	out, err := CanonicalThreepids([]synapse.Threepid{
		{Medium: "msisdn", Address: " 4415550100 "},
		{Medium: "email", Address: " Straße@Example.COM "},
		{Medium: "email", Address: "STRASSE@example.com"},
	})
	require.NoError(t, err)
	assert.Equal(t, []synapse.Threepid{
		{Medium: "email", Address: "strasse@example.com"},
		{Medium: "msisdn", Address: "4415550100"},
	}, out, "case-folded like Synapse's canonicalise_email, deduplicated, sorted")
	_, err = CanonicalThreepids([]synapse.Threepid{{Medium: "email", Address: "not-an-email"}})
	assert.ErrorContains(t, err, "not an email address")
}

func TestDesiredValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		d    Desired
		want string
	}{
		"empty password":  {*with(&Desired{State: StatePresent}, "password", ""), "password may not be empty"},
		"always no pw":    {Desired{State: StatePresent, UpdatePassword: PasswordAlways}, "needs a password"},
		"absent+password": {*with(&Desired{State: StateAbsent}, "password", "x"), "state=absent"},
		"absent+locked":   {*with(&Desired{State: StateAbsent}, "locked", true), "cannot also be locked"},
		"erase+present":   {Desired{State: StatePresent, Erase: true}, "erase applies only"},
	} {
		err := tc.d.Validate()
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
	assert.NoError(t, (&Desired{State: StateAbsent, Erase: true}).Validate())
}

// Declare checks each field on its own: Synapse's length limits (in
// characters), the form of an avatar, the threepids.
func TestDesiredDeclare(t *testing.T) {
	d := &Desired{Entry: problem.Entry{Name: "bob"}}
	assert.ErrorContains(t, d.Declare("password", strings.Repeat("é", 513)), "bob: option password: at most 512 characters")
	assert.NoError(t, d.Declare("password", strings.Repeat("é", 512)))
	assert.ErrorContains(t, d.Declare("displayname", strings.Repeat("x", 257)), "option displayname: at most 256")
	assert.ErrorContains(t, d.Declare("avatar_url", "https://x/y.png"), "option avatar_url: \"https://x/y.png\" is not an mxc:// URI")
	assert.ErrorContains(t, d.Declare("threepids", []any{map[string]any{"medium": "email", "address": "nope"}}), "option threepids[0]: \"nope\" is not an email address")
	require.NoError(t, d.Declare("threepids", []any{map[string]any{"medium": "email", "address": "B@X.org"}}))
	v, _ := d.Value("threepids")
	assert.Equal(t, []synapse.Threepid{{Medium: "email", Address: "b@x.org"}}, v)
	assert.ErrorContains(t, d.Declare("colour", "red"), "option colour is not a field of a user")
}

var canRead = Facts{Me: "@admin:test", CanRead: true}

func existing() *Account {
	return AccountOf(&synapse.User{Name: "@bob:test", Displayname: ptr("Bob"), Detailed: true,
		Threepids: []synapse.Threepid{{Medium: "email", Address: "bob@example.com"}}})
}

func TestPlanCreate(t *testing.T) {
	d := with(&Desired{Localpart: "bob", State: StatePresent}, "password", "pw", "admin", true, "locked", true, "user_type", "")
	p := PlanUser(d, "@bob:test", nil, PasswordNotChecked, canRead)
	require.NoError(t, p.Err)
	assert.Equal(t, ActionCreated, p.Action)
	assert.True(t, p.Create, "a create carries nothing: the rest follows once it created the account")
	require.NotNil(t, p.Update)
	assert.Equal(t, synapse.UserUpdate{"password": "pw", "logout_devices": false, "admin": true, "locked": true}, p.Update,
		"a new account has no session to log out; Synapse ignores locked in a create, the second PUT sets it; an empty user_type is what a new user has: not sent")
	name, _ := p.Predicted.Value("displayname")
	assert.Equal(t, "bob", name, "Synapse defaults the display name to the localpart")
	assert.Equal(t, map[string]any{}, p.Before)
	assert.Equal(t, passwordSet, p.After["password"])
}

func TestPlanAbsentCreatesDeactivated(t *testing.T) {
	d := &Desired{Localpart: "old", State: StateAbsent, Erase: true}
	p := PlanUser(d, "@old:test", nil, PasswordNotChecked, canRead)
	assert.Equal(t, ActionCreated, p.Action)
	assert.True(t, p.Deactivate)
	assert.True(t, p.Erase)
	assert.True(t, p.Create)
	assert.Nil(t, p.Update, "nothing but the create and the deactivation")
	assert.Equal(t, []string{"deactivated", "erased"}, p.Changes)
}

// The rest of a create is what the declaration sets on the account Synapse
// made: each declared field that differs from it, and the password.
func TestCreateRest(t *testing.T) {
	fresh := newAccount("@bob:test", "bob")
	rest, writes := CreateRest(with(&Desired{Localpart: "bob"}, "displayname", "bob", "admin", false, "locked", false, "user_type", ""), fresh)
	assert.Nil(t, rest, "a declaration of what a new account has anyway sends nothing more")
	assert.Empty(t, writes)
	rest, _ = CreateRest(with(&Desired{Localpart: "bob"}, "password", "pw", "displayname", "Bob"), fresh)
	require.NotNil(t, rest)
	assert.Equal(t, []string{"password", "displayname"}, bodyFields(rest))
	// A server whose default_user_type gave the new account a type.
	typed := newAccount("@bob:test", "bob")
	typed.set("user_type", "support")
	rest, _ = CreateRest(with(&Desired{Localpart: "bob"}, "user_type", ""), typed)
	require.NotNil(t, rest)
	assert.Equal(t, synapse.UserUpdate{"user_type": nil}, rest, "cleared to what was declared (null)")
}

func TestPlanModifyOnlyDifferences(t *testing.T) {
	d := with(&Desired{Localpart: "bob", State: StatePresent}, "displayname", "Bob", "admin", true, "threepids", []synapse.Threepid{{Medium: "email", Address: "bob@example.com"}})
	p := PlanUser(d, "@bob:test", existing(), PasswordNotChecked, canRead)
	assert.Equal(t, ActionUpdated, p.Action)
	assert.Equal(t, []string{"admin"}, p.Changes)
	assert.Equal(t, synapse.UserUpdate{"admin": true}, p.Update)

	d.set("admin", false)
	p = PlanUser(d, "@bob:test", existing(), PasswordNotChecked, canRead)
	assert.Equal(t, ActionUnchanged, p.Action)
	assert.Nil(t, p.Update)
	assert.Nil(t, p.Before, "no diff for an unchanged user")
}

func TestPlanEmptyStringMatchesNull(t *testing.T) {
	cur := existing()
	cur.set("displayname", "")
	d := with(&Desired{Localpart: "bob", State: StatePresent}, "displayname", "", "avatar_url", "", "user_type", "")
	assert.Equal(t, ActionUnchanged, PlanUser(d, "@bob:test", cur, PasswordNotChecked, canRead).Action)
}

func TestPlanPassword(t *testing.T) {
	d := with(&Desired{Localpart: "bob", State: StatePresent, UpdatePassword: PasswordAlways, LogoutDevices: false}, "password", "pw")
	assert.Equal(t, ActionUnchanged, PlanUser(d, "@bob:test", existing(), PasswordSame, canRead).Action)
	p := PlanUser(d, "@bob:test", existing(), PasswordDifferent, canRead)
	assert.Equal(t, []string{"password"}, p.Changes)
	assert.Equal(t, false, p.Update["logout_devices"])
	p = PlanUser(d, "@bob:test", existing(), PasswordUnreadable, canRead)
	assert.True(t, p.PasswordUnverified)
	d.UpdatePassword = PasswordOnCreate
	assert.Equal(t, ActionUnchanged, PlanUser(d, "@bob:test", existing(), PasswordNotChecked, canRead).Action)
}

func TestPlanReactivate(t *testing.T) {
	cur := existing()
	cur.Deactivated = true
	d := with(&Desired{Localpart: "bob", State: StatePresent}, "password", "pw")
	p := PlanUser(d, "@bob:test", cur, PasswordNotChecked, canRead)
	assert.Equal(t, ActionReactivated, p.Action)
	assert.Equal(t, []string{"password", "deactivated"}, p.Changes, "a reactivated account gets the declared password even with on_create")
	assert.Equal(t, false, p.Update["deactivated"])

	p = PlanUser(&Desired{Localpart: "bob", State: StatePresent}, "@bob:test", cur, PasswordNotChecked, canRead)
	assert.Equal(t, ActionReactivated, p.Action)
	assert.NotEmpty(t, p.Warnings, "warns that the account has no password")
}

func TestPlanDeactivate(t *testing.T) {
	d := &Desired{Localpart: "bob", State: StateAbsent}
	p := PlanUser(d, "@bob:test", existing(), PasswordNotChecked, canRead)
	assert.Equal(t, ActionDeactivated, p.Action)
	threepids, _ := p.Predicted.Value("threepids")
	assert.Empty(t, threepids, "deactivation removes threepids")

	cur := existing()
	cur.Deactivated = true
	assert.Equal(t, ActionUnchanged, PlanUser(d, "@bob:test", cur, PasswordNotChecked, canRead).Action)
	d.Erase = true
	p = PlanUser(d, "@bob:test", cur, PasswordNotChecked, canRead)
	assert.Equal(t, ActionUpdated, p.Action)
	assert.Equal(t, []string{"erased"}, p.Changes)
}

func TestPlanRefusesToLockOutTheAdmin(t *testing.T) {
	me := AccountOf(&synapse.User{Name: "@admin:test", Admin: true, Detailed: true})
	for _, d := range []*Desired{with(&Desired{Localpart: "admin", State: StatePresent}, "admin", false), with(&Desired{Localpart: "admin", State: StatePresent}, "locked", true), {Localpart: "admin", State: StateAbsent}} {
		p := PlanUser(d, "@admin:test", me, PasswordNotChecked, canRead)
		require.Error(t, p.Err)
		assert.Contains(t, p.Err.Error(), "authenticates as")
	}
}

func TestPlanRegister(t *testing.T) {
	secretOnly := Facts{CanRead: false}
	d := with(&Desired{Localpart: "bob", State: StatePresent}, "password", "pw", "admin", true, "user_type", "bot")
	p := PlanUser(d, "@bob:test", nil, PasswordNotChecked, secretOnly)
	require.NotNil(t, p.Register)
	assert.True(t, p.Register.Admin)
	assert.Equal(t, "bot", p.Register.UserType)

	// What a registration cannot set is refused, not created without it.
	d.set("avatar_url", "mxc://x/y")
	d.set("locked", true)
	assert.Equal(t, []string{"avatar_url", "locked"}, d.Unsettable())
	p = PlanUser(d, "@bob:test", nil, PasswordNotChecked, secretOnly)
	assert.Nil(t, p.Register)
	assert.ErrorContains(t, p.Err, "avatar_url and locked cannot be set with only registration_shared_secret")
	p = PlanUser(&Desired{Localpart: "bob", State: StatePresent}, "@bob:test", nil, PasswordNotChecked, secretOnly)
	assert.ErrorContains(t, p.Err, "password is required")
}

func TestPlanPasswordNotes(t *testing.T) {
	cur := AccountOf(&synapse.User{Name: "@bob:test", Detailed: true})
	d := with(&Desired{Localpart: "bob", State: StatePresent, UpdatePassword: PasswordAlways, LogoutDevices: true}, "password", "pw")
	p := PlanUser(d, "@bob:test", cur, PasswordDifferent, canRead)
	assert.Equal(t, "logs the user out of their other sessions", p.PasswordNote)
	assert.Equal(t, "******** (changed): logs the user out of their other sessions", p.After["password"])
	d.LogoutDevices = false
	p = PlanUser(d, "@bob:test", cur, PasswordDifferent, canRead)
	assert.Contains(t, p.PasswordNote, "keeps the user's other sessions logged in")
	assert.False(t, p.PasswordKept)

	d.UpdatePassword = PasswordOnCreate
	p = PlanUser(d, "@bob:test", cur, PasswordNotChecked, canRead)
	assert.Equal(t, ActionUnchanged, p.Action)
	assert.True(t, p.PasswordKept, "an on_create password of an existing user is kept")
	assert.Empty(t, p.PasswordNote)
}

func TestPasswordMatchesAsSynapse(t *testing.T) {
	// A hash made with Python bcrypt as Synapse makes it, for "password123" with
	// pepper "pep": bcrypt.hashpw(b"password123pep", bcrypt.gensalt(4)).
	const hash = "$2b$04$/nNmwGO.U52BPsWN9NJ7oedFYDA4P9umBW7Q7FQHedp/HILUu9LzG"
	assert.True(t, synapse.PasswordMatches(hash, "password123", "pep"))
	assert.True(t, synapse.PasswordMatches(hash, "ｐａｓｓｗｏｒｄ１２３", "pep"), "NFKC")
	assert.False(t, synapse.PasswordMatches(hash, "password123", ""))
	assert.False(t, synapse.PasswordMatches("", "password123", "pep"))
}
