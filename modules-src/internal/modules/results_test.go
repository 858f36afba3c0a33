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
	res := batchResult(outcomes, Run{CheckMode: true, Diff: true}, false)
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
	res = batchResult(nil, Run{}, false)
	assert.Equal(t, "no users declared", res.Msg)
	assert.False(t, res.Changed)
}

// By default an unchanged user without a warning is only counted: the users
// list carries what changed, failed, could not be verified or has a warning,
// in the declared order; report_unchanged lists everyone.
func TestBatchResultLeavesOutUnchangedUsers(t *testing.T) {
	var outcomes []*reconcile.Outcome
	for i := range 1000 {
		outcomes = append(outcomes, &reconcile.Outcome{UserID: fmt.Sprintf("@u%d:test", i), Entry: problem.Entry{List: true, Index: i, Name: fmt.Sprint("u", i)},
			Action: reconcile.ActionUnchanged})
	}
	outcomes[10].Action, outcomes[10].Changes = reconcile.ActionUpdated, []string{"admin"}
	outcomes[20].Warnings = []*problem.Message{problem.Errorf(problem.Note, "u20: a warning")}
	outcomes[30].Action = reconcile.ActionUnverified
	outcomes[40].Action, outcomes[40].Err = reconcile.ActionFailed, errors.New("u40 failed")
	outcomes = append(outcomes, &reconcile.Outcome{UserID: "@gone:test", Undeclared: true, Action: reconcile.ActionDeactivated, Changes: []string{"deactivated"}})

	res := batchResult(outcomes, Run{}, false)
	assert.Equal(t, "1 updated, 1 deactivated, 997 unchanged, 1 unverified, 1 failed. Failed: users[40] (u40): u40 failed", res.Msg)
	assert.Equal(t, 997, res.Fields["summary"].(map[string]int)["unchanged"], "unchanged users are counted")
	var got []string
	for _, u := range res.Fields["users"].([]map[string]any) {
		got = append(got, u["user"].(string)+" "+u["action"].(string))
	}
	assert.Equal(t, []string{"@u10:test updated", "@u20:test unchanged", "@u30:test unverified", "@u40:test failed", "@gone:test deactivated"}, got)

	res = batchResult(outcomes[:5], Run{}, false)
	assert.Equal(t, []map[string]any{}, res.Fields["users"], "a no-op lists nobody")

	res = batchResult(outcomes, Run{}, true)
	require.Len(t, res.Fields["users"], len(outcomes), "report_unchanged lists every user")
	assert.Equal(t, "unchanged", res.Fields["users"].([]map[string]any)[0]["action"])
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
	res := batchResult(outcomes, Run{}, false)
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
	res := batchResult(outcomes, Run{}, false)
	users := res.Fields["users"].([]map[string]any)
	assert.Equal(t, "users[3] (d) exists, and could not be checked", users[4]["error"], "a user named by its entry is not named twice")
	assert.Equal(t, "users[0] (a): password is required when only registration_shared_secret is given", users[0]["error"])
	assert.Equal(t, "users[1] (@b:elsewhere): @b:elsewhere is on another server", users[1]["error"])
	assert.Equal(t, "cannot deactivate @c:test: refused", users[2]["error"])
	assert.Contains(t, res.Msg, "Failed: users[0] (a): password is required")
	assert.True(t, res.Changed, "a write that may have been applied is a change")
	res = batchResult(outcomes[:3], Run{}, false)
	assert.False(t, res.Changed, "refused writes are no change")
}

func TestShortJSON(t *testing.T) {
	assert.Equal(t, "null", shortJSON(nil))
	assert.Equal(t, `"<b>"`, shortJSON("<b>"), "no HTML escaping")
	assert.Equal(t, "[]", shortJSON([]string{}))
	assert.Contains(t, shortJSON(make(chan int)), "0x", "what JSON cannot encode is printed with fmt")
}

// The role's drift gate (matrix_users_fail_on_drift): a check run fails when
// a user differs, naming per user what, or when a user could not be read,
// naming the variables that make them readable; a run that failed already
// keeps its own message, and a server as declared passes.
func TestDriftGate(t *testing.T) {
	rc, err := takeRoleContext(map[string]any{RoleKey: map[string]any{"fail_on_drift": true,
		"vars": map[string]any{"users": "matrix_users_list", "admin_token": "matrix_users_admin_token", "admin_user": "matrix_users_admin_user",
			"admin_password": "matrix_users_admin_password", "registration_shared_secret": "matrix_users_registration_shared_secret"}}})
	require.NoError(t, err)
	require.True(t, rc.FailOnDrift)
	in := Run{CheckMode: true, Role: rc}
	words := rc.Words()
	entry := func(i int, name string) problem.Entry { return problem.Entry{List: true, Index: i, Name: name} }
	same := &reconcile.Outcome{UserID: "@a:test", Entry: entry(0, "a"), Action: reconcile.ActionUnchanged}
	changed := &reconcile.Outcome{UserID: "@b:test", Entry: entry(1, "b"), Action: reconcile.ActionUpdated, Changes: []string{"admin"},
		Before: map[string]any{"admin": true}, After: map[string]any{"admin": false}}
	unread := &reconcile.Outcome{Entry: entry(2, "c"), Action: reconcile.ActionUnverified}

	res := batchResult([]*reconcile.Outcome{same}, in, false)
	driftGate(&res, []*reconcile.Outcome{same}, words)
	assert.Equal(t, "", res.Fields["drift_msg"], "no drift passes")

	all := []*reconcile.Outcome{same, changed, unread}
	res = batchResult(all, in, false)
	driftGate(&res, all, words)
	assert.False(t, res.Failed, "the role's gate task fails with the message")
	assert.Equal(t, "Synapse differs from the declared users (1 would be updated, 1 unchanged, 1 unverified): @b:test: admin true→false. "+
		"Could not verify 1 declared user(s): matrix_users_list[2] (c). With only matrix_users_registration_shared_secret nothing can be read "+
		"until the service admin (service_account) exists, which the first run without check mode creates; or "+
		"set matrix_users_admin_token or matrix_users_admin_user/matrix_users_admin_password to check them.", res.Fields["drift_msg"])

	res = batchResult([]*reconcile.Outcome{unread}, in, false)
	driftGate(&res, []*reconcile.Outcome{unread}, words)
	assert.Contains(t, res.Fields["drift_msg"], "Could not verify 1 declared user(s) (1 unverified): matrix_users_list[2] (c).")
	assert.NotContains(t, res.Fields["drift_msg"], "differs")

	failed := append(all, &reconcile.Outcome{UserID: "@d:test", Entry: entry(3, "d"), Action: reconcile.ActionFailed, Err: errors.New("refused")})
	res = batchResult(failed, in, false)
	driftGate(&res, failed, words)
	assert.Contains(t, res.Msg, "Failed: matrix_users_list[3] (d): refused", "a failed run says why it failed")
	assert.NotContains(t, res.Fields, "drift_msg")
}

// The role's own checks and note travel in _mxadmin_role: a problem fails
// the run before the options are even validated (nothing is sent), a note
// is the result's first warning.
func TestRoleProblemAndNote(t *testing.T) {
	res := runModule(t, map[string]any{"_mxadmin_module": "matrix_user", "homeserver_url": closedPort(t), "users": "not a list",
		RoleKey: map[string]any{"problem": "admin: must be yes or no (also true/false, 1/0), not \"<yes|no>\""}})
	assert.Equal(t, true, res["failed"])
	assert.Equal(t, "admin: must be yes or no (also true/false, 1/0), not \"<yes|no>\"", res["msg"])

	// A secret that holds the role's words (the docs' placeholder as a
	// password) does not shred the message that names it.
	res = runModule(t, map[string]any{"_mxadmin_module": "matrix_user", "homeserver_url": closedPort(t),
		"users": []any{map[string]any{"user": "alice", "password": "<your-password>"}},
		RoleKey: map[string]any{"problem": "password: give a password (not empty, not the placeholder of the docs), or leave password out",
			"vars": map[string]any{"users": "", "password": "password", "user": "username"}, "seed": true}})
	assert.Equal(t, "password: give a password (not empty, not the placeholder of the docs), or leave password out", res["msg"])

	res = runModule(t, map[string]any{"_mxadmin_module": "matrix_user", "homeserver_url": closedPort(t), "admin_token": "t", "users": []any{},
		RoleKey: map[string]any{"note": "Register-user mode: only alice is handled"}})
	assert.Equal(t, true, res["failed"], "the server is down")
	assert.Equal(t, "Register-user mode: only alice is handled", res["warnings"].([]any)[0])
}
