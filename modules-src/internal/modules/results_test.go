package modules

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

func ptr[T any](v T) *T { return &v }

func TestSingleResult(t *testing.T) {
	bob := reconcile.AccountOf(&synapse.User{Name: "@bob:test", Displayname: ptr("Bob")})
	for name, tc := range map[string]struct {
		o       reconcile.Outcome
		in      Run
		msg     string
		changed bool
		failed  bool
		diff    bool
	}{
		"created": {o: reconcile.Outcome{UserID: "@bob:test", Action: reconcile.ActionCreated, Changes: []string{"displayname"}, User: bob, Wrote: true},
			msg: "@bob:test created", changed: true},
		"would be created, with a diff": {o: reconcile.Outcome{UserID: "@bob:test", Action: reconcile.ActionCreated, Changes: []string{"displayname"},
			Before: map[string]any{}, After: map[string]any{"displayname": "Bob"}},
			in: Run{CheckMode: true, Diff: true}, msg: "@bob:test would be created", changed: true, diff: true},
		"updated, with the password note": {o: reconcile.Outcome{UserID: "@bob:test", Action: reconcile.ActionUpdated, Changes: []string{"password", "admin"},
			PasswordNote: "other sessions are logged out", Wrote: true},
			msg: "@bob:test updated: password (other sessions are logged out), admin", changed: true},
		"would be reactivated": {o: reconcile.Outcome{UserID: "@bob:test", Action: reconcile.ActionReactivated, Changes: []string{"deactivated"}},
			in: Run{CheckMode: true}, msg: "@bob:test would be reactivated: deactivated", changed: true},
		"deactivated": {o: reconcile.Outcome{UserID: "@bob:test", Action: reconcile.ActionDeactivated, Changes: []string{"deactivated"}, Wrote: true},
			msg: "@bob:test deactivated", changed: true},
		"unchanged": {o: reconcile.Outcome{UserID: "@bob:test", Action: reconcile.ActionUnchanged, User: bob},
			in: Run{Diff: true}, msg: "@bob:test is unchanged"},
		"unverified": {o: reconcile.Outcome{Entry: problem.Entry{Name: "bob"}, Action: reconcile.ActionUnverified},
			msg: "bob could not be verified (nothing can be read with only registration_shared_secret)"},
		"failed after a write": {o: reconcile.Outcome{UserID: "@bob:test", Action: reconcile.ActionFailed, Wrote: true, Err: errors.New("cannot update @bob:test")},
			msg: "cannot update @bob:test", changed: true, failed: true},
		"failed": {o: reconcile.Outcome{Entry: problem.Entry{Name: "bob"}, Action: reconcile.ActionFailed, Err: errors.New("bad")},
			msg: "bad", failed: true},
	} {
		t.Run(name, func(t *testing.T) {
			res := singleResult(&tc.o, tc.in)
			assert.Equal(t, tc.msg, res.Msg)
			assert.Equal(t, tc.changed, res.Changed, "changed")
			assert.Equal(t, tc.failed, res.Failed, "failed")
			assert.Equal(t, tc.diff, res.Diff != nil, "diff")
			assert.Equal(t, string(tc.o.Action), res.Fields["action"])
			assert.Equal(t, tc.o.Action == reconcile.ActionCreated, res.Fields["created"])
			assert.NotNil(t, res.Fields["changes"], "changes is a list, never null")
			if tc.o.User != nil {
				assert.Equal(t, "@bob:test", res.Fields["user"].(map[string]any)["name"])
			}
		})
	}
}

func TestBatchResult(t *testing.T) {
	outcomes := []*reconcile.Outcome{
		{UserID: "@a:test", Entry: problem.Entry{List: true, Index: 0, Name: "a"}, Action: reconcile.ActionCreated, Changes: []string{"displayname", "admin"},
			Before: map[string]any{}, After: map[string]any{"displayname": "A", "admin": true}, Wrote: true},
		{UserID: "@b:test", Entry: problem.Entry{List: true, Index: 1, Name: "b"}, Action: reconcile.ActionUpdated, Changes: []string{"displayname", "password"},
			Before: map[string]any{"displayname": "Old"}, After: map[string]any{"displayname": strings.Repeat("x", 100), "password": "********"}},
		{UserID: "@c:test", Entry: problem.Entry{List: true, Index: 2, Name: "c"}, Action: reconcile.ActionUnchanged, Warnings: []*problem.Message{problem.Errorf(problem.Note, "c: a warning")}},
		{Entry: problem.Entry{List: true, Index: 3, Name: "d"}, Action: reconcile.ActionUnverified},
		{UserID: "@e:test", Undeclared: true, Action: reconcile.ActionDeactivated, Changes: []string{"deactivated"},
			Before: map[string]any{"deactivated": false}, After: map[string]any{"deactivated": true}},
		{UserID: "@f:test", Entry: problem.Entry{List: true, Index: 4, Name: "f"}, Action: reconcile.ActionCreated, Changes: nil},
		{UserID: "@g:test", Entry: problem.Entry{List: true, Index: 5, Name: "g"}, Action: reconcile.ActionUpdated, Changes: []string{"locked"}, After: map[string]any{"locked": true}},
	}
	res := batchResult(outcomes, Run{CheckMode: true, Diff: true})
	assert.Equal(t, "2 would be created, 2 would be updated, 1 would be deactivated, 1 unchanged, 1 unverified", res.Msg)
	assert.False(t, res.Failed)
	assert.True(t, res.Changed)
	assert.Len(t, res.Diff, 5, "a diff per changed user")
	assert.Equal(t, []string{"users[2] (c): c: a warning"}, res.Warnings, "a per-user message names its entry")
	summary := res.Fields["summary"].(map[string]int)
	assert.Equal(t, map[string]int{"created": 2, "updated": 2, "reactivated": 0, "deactivated": 1, "unchanged": 1, "unverified": 1, "failed": 0}, summary)
	users := res.Fields["users"].([]map[string]any)
	require.Len(t, users, len(outcomes))
	assert.Equal(t, "new user (displayname \"A\", admin true)", users[0]["detail"])
	assert.Equal(t, "displayname \"Old\"→\""+strings.Repeat("x", 79)+"…, password", users[1]["detail"], "long values are cut")
	assert.Equal(t, "", users[2]["detail"])
	assert.Equal(t, "could not be verified", users[3]["detail"])
	assert.Equal(t, "users[3] (d)", users[3]["user"], "the reference when the ID is not known")
	assert.Equal(t, "deactivated false→true", users[4]["detail"])
	assert.Equal(t, "new user", users[5]["detail"])
	assert.Equal(t, "locked true", users[6]["detail"])

	// Nothing declared.
	res = batchResult(nil, Run{})
	assert.Equal(t, "no users declared", res.Msg)
	assert.False(t, res.Changed)
}

func TestBatchResultBoundsFailuresAndWarnings(t *testing.T) {
	var outcomes []*reconcile.Outcome
	for i := range 7 {
		outcomes = append(outcomes, &reconcile.Outcome{UserID: fmt.Sprintf("@f%d:test", i), Action: reconcile.ActionFailed,
			Err: fmt.Errorf("f%d failed", i), Wrote: i == 0})
	}
	for i := range 12 {
		outcomes = append(outcomes, &reconcile.Outcome{UserID: fmt.Sprintf("@w%d:test", i), Action: reconcile.ActionUnchanged,
			Warnings: []*problem.Message{problem.Errorf(problem.Note, "w%d", i)}})
	}
	res := batchResult(outcomes, Run{})
	assert.True(t, res.Failed)
	assert.True(t, res.Changed, "a failure after a write still reports changed")
	assert.Equal(t, "12 unchanged, 7 failed. Failed: f0 failed; f1 failed; f2 failed; f3 failed; f4 failed; and 2 more (see users)", res.Msg)
	require.Len(t, res.Warnings, maxUserWarnings+1)
	assert.Equal(t, "2 more warnings about single users are in the warnings of the users list", res.Warnings[maxUserWarnings])
	users := res.Fields["users"].([]map[string]any)
	assert.Equal(t, "f6 failed", users[6]["error"], "every failure is in the users list")
	assert.Equal(t, "failed", users[6]["detail"])
	assert.Equal(t, []string{"w11"}, users[18]["warnings"])
}

// Every per-user message of a list names its entry (users[2] (ex-staff),
// which role runs show as matrix_users_list[2] (ex-staff)); a message that
// already starts with it is left as it is, and exclusive mode's undeclared
// users, which have no entry, keep their own words. A refused write is no
// change; one whose answer was lost is.
func TestBatchMessagesNameTheirEntry(t *testing.T) {
	outcomes := []*reconcile.Outcome{
		{Entry: problem.Entry{List: true, Index: 0, Name: "a"}, UserID: "@a:test", Action: reconcile.ActionFailed, Err: errors.New("password is required when only registration_shared_secret is given")},
		{Entry: problem.Entry{List: true, Index: 1, Name: "@b:elsewhere"}, Action: reconcile.ActionFailed, Err: problem.Errorf(problem.OtherServer, "@b:elsewhere is on another server").About(problem.Entry{List: true, Index: 1, Name: "@b:elsewhere"})},
		{Undeclared: true, UserID: "@c:test", Action: reconcile.ActionFailed, Err: errors.New("cannot deactivate @c:test: refused")},
		{Entry: problem.Entry{List: true, Index: 2, Name: "ex-staff"}, UserID: "@ex-staff:test", Action: reconcile.ActionFailed, MaybeWrote: true,
			Err: errors.New("cannot update @ex-staff:test (displayname): no answer; the request may still have been applied (rerun to see)")},
	}
	unknown := problem.Entry{List: true, Index: 3, Name: "d"}
	outcomes = append(outcomes, &reconcile.Outcome{Entry: unknown, Action: reconcile.ActionFailed,
		Err: problem.Errorf(problem.Unverified, "%s exists, and could not be checked", reconcile.Who{Entry: unknown})})
	res := batchResult(outcomes, Run{})
	users := res.Fields["users"].([]map[string]any)
	assert.Equal(t, "users[3] (d) exists, and could not be checked", users[4]["error"], "a user named by its entry is not named twice")
	assert.Equal(t, "users[0] (a): password is required when only registration_shared_secret is given", users[0]["error"])
	assert.Equal(t, "users[1] (@b:elsewhere): @b:elsewhere is on another server", users[1]["error"])
	assert.Equal(t, "cannot deactivate @c:test: refused", users[2]["error"])
	assert.Contains(t, res.Msg, "Failed: users[0] (a): password is required")
	assert.True(t, res.Changed, "a write that may have been applied is a change")
	res = batchResult(outcomes[:3], Run{})
	assert.False(t, res.Changed, "refused writes are no change")
}

func TestShortJSON(t *testing.T) {
	assert.Equal(t, "null", shortJSON(nil))
	assert.Equal(t, `"<b>"`, shortJSON("<b>"), "no HTML escaping")
	assert.Equal(t, "[]", shortJSON([]string{}))
	assert.Contains(t, shortJSON(make(chan int)), "0x", "what JSON cannot encode is printed with fmt")
}
