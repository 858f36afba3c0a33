package modules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// fakeAdminClient is an in-memory adminClient: matrix_user_admin's decisions
// are tested here, Synapse's answers in the e2e suite.
type fakeAdminClient struct {
	users   map[string]*synapse.User
	getErr  error
	listErr error
	setErr  error
	sets    []string
}

func (f *fakeAdminClient) GetUser(_ context.Context, id string) (*synapse.User, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	return f.users[id], nil
}

func (f *fakeAdminClient) UsernameAvailable(_ context.Context, localpart string) (bool, error) {
	for id := range f.users {
		if strings.EqualFold(strings.TrimPrefix(strings.SplitN(id, ":", 2)[0], "@"), localpart) {
			return false, nil
		}
	}
	return true, nil
}

func (f *fakeAdminClient) ListUsers(context.Context, int) ([]synapse.User, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []synapse.User
	for _, u := range f.users {
		out = append(out, *u)
	}
	return out, nil
}

func (f *fakeAdminClient) SetAdmin(_ context.Context, id string, admin bool) error {
	if f.setErr != nil {
		return f.setErr
	}
	f.sets = append(f.sets, id)
	f.users[id].Admin = synapse.Flag(admin)
	return nil
}

func TestApplyAdmin(t *testing.T) {
	refused := &synapse.Error{Method: "PUT", Path: "/_synapse/admin/v1/users/x/admin", Status: 403, Errcode: "M_FORBIDDEN", Message: "refused"}
	noAnswer := &synapse.UnreachableError{Method: "PUT", URL: "http://x", Err: errors.New("connection reset by peer")}
	for name, tc := range map[string]struct {
		id      string
		want    bool
		in      Run
		setup   func(f *fakeAdminClient)
		msg     string
		changed bool
		failed  bool
		sets    int
		diff    bool
	}{
		"grant":                       {id: "@bob:test", want: true, msg: "@bob:test is now a server admin", changed: true, sets: 1},
		"grant in check mode":         {id: "@bob:test", want: true, in: Run{CheckMode: true, Diff: true}, msg: "@bob:test would be made a server admin", changed: true, diff: true},
		"already":                     {id: "@bob:test", want: false, msg: "@bob:test is already not a server admin"},
		"already an admin":            {id: "@root:test", want: true, msg: "@root:test is already a server admin"},
		"revoke":                      {id: "@root:test", want: false, msg: "@root:test is no longer a server admin", changed: true, sets: 1},
		"revoke in check mode":        {id: "@root:test", want: false, in: Run{CheckMode: true}, msg: "@root:test would no longer be a server admin", changed: true},
		"a legacy mixed-case account": {id: "@carol:test", want: true, msg: "@Carol:test is now a server admin", changed: true, sets: 1},
		"never demote oneself": {id: "@admin:test", want: false, failed: true,
			msg: "refusing to demote @admin:test: it is the admin this module authenticates as"},
		"no such user": {id: "@nobody:test", want: true, failed: true, msg: "user @nobody:test does not exist; matrix_user_admin never creates users"},
		"unreadable": {id: "@bob:test", want: true, failed: true, setup: func(f *fakeAdminClient) { f.getErr = refused },
			msg: "cannot read @bob:test: Synapse answered 403 M_FORBIDDEN"},
		"no answer": {id: "@bob:test", want: true, failed: true, changed: true, setup: func(f *fakeAdminClient) { f.setErr = noAnswer },
			msg: "cannot make @bob:test a server admin: Synapse is unreachable (PUT http://x): connection reset by peer (hint); the request may still have been applied (rerun to see)"},
		"refused": {id: "@bob:test", want: true, failed: true, setup: func(f *fakeAdminClient) { f.setErr = refused },
			msg: "cannot make @bob:test a server admin: Synapse answered 403 M_FORBIDDEN"},
		"revoke refused": {id: "@root:test", want: false, failed: true, setup: func(f *fakeAdminClient) { f.setErr = refused },
			msg: "cannot revoke server admin from @root:test: Synapse answered 403 M_FORBIDDEN"},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeAdminClient{users: map[string]*synapse.User{
				"@bob:test": {Name: "@bob:test"}, "@root:test": {Name: "@root:test", Admin: true},
				"@admin:test": {Name: "@admin:test", Admin: true}, "@Carol:test": {Name: "@Carol:test"},
			}}
			if tc.setup != nil {
				tc.setup(f)
			}
			explain := func(err error) error { return fmt.Errorf("%w (hint)", err) }
			res := applyAdmin(context.Background(), f, adminTarget{id: tc.id, want: tc.want, me: "@admin:test", explain: explain}, tc.in)
			assert.True(t, strings.HasPrefix(res.Msg, tc.msg), "%q", res.Msg)
			assert.Equal(t, tc.changed, res.Changed, "changed")
			assert.Equal(t, tc.failed, res.Failed, "failed")
			assert.Len(t, f.sets, tc.sets, "writes")
			if tc.failed && !strings.Contains(tc.msg, "may still") {
				assert.NotContains(t, res.Msg, "may still", "a refusal is no change")
			}
			assert.Equal(t, tc.diff, res.Diff != nil, "diff")
			if name == "refused" {
				assert.Equal(t, false, res.Fields["admin"], "a failed grant reports the flag as it still is")
			}
		})
	}
}

// An interrupted run sends no admin change, and reports none.
func TestApplyAdminInterrupted(t *testing.T) {
	f := &fakeAdminClient{users: map[string]*synapse.User{"@bob:test": {Name: "@bob:test"}}}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupted by SIGTERM"))
	res := applyAdmin(ctx, f, adminTarget{id: "@bob:test", want: true, me: "@admin:test", explain: func(err error) error { return err }}, Run{})
	assert.True(t, res.Failed)
	assert.False(t, res.Changed)
	assert.Empty(t, f.sets)
	assert.Equal(t, "cannot make @bob:test a server admin: not sent, the run was interrupted (interrupted by SIGTERM)", res.Msg)
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// runModule runs the binary's entry point on args and decodes its result.
func runModule(t *testing.T, args map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(args)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "args")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	var out bytes.Buffer
	Main(path, &out)
	var res map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	return res
}

// Everything the modules refuse before their first request, and what a
// server that cannot be reached ends in. A run that reaches Synapse is the
// e2e suite's.
func TestModulesRefuseBeforeAnyRequest(t *testing.T) {
	down := closedPort(t)
	for name, tc := range map[string]struct {
		args map[string]any
		msg  string
	}{
		"admin: shared secret": {map[string]any{"_mxadmin_module": "matrix_user_admin", "user": "bob", "admin": true, "registration_shared_secret": "s", "service_account": ""},
			"matrix_user_admin needs admin_token, or admin_user with admin_password"},
		"admin: another server": {map[string]any{"_mxadmin_module": "matrix_user_admin", "user": "@bob:elsewhere", "admin": true, "admin_token": "t", "server_name": "test"},
			"@bob:elsewhere is on another server; server_name is test"},
		"admin: a bad user": {map[string]any{"_mxadmin_module": "matrix_user_admin", "user": "bob smith", "admin": true, "admin_token": "t"},
			"option user: \"bob smith\": a localpart may only contain"},
		"admin: an ID too long": {map[string]any{"_mxadmin_module": "matrix_user_admin", "user": strings.Repeat("b", 250), "admin": true, "admin_token": "t", "server_name": "test.example"},
			"option user: the user ID"},
		"admin: no credentials": {map[string]any{"_mxadmin_module": "matrix_user_admin", "user": "bob", "admin": true},
			"admin_token"},
		"admin: unreachable": {map[string]any{"_mxadmin_module": "matrix_user_admin", "user": "bob", "admin": true, "admin_token": "t", "homeserver_url": down, "retries": 0},
			"checking the homeserver at " + down},
		"info: shared secret, service admin off": {map[string]any{"_mxadmin_module": "matrix_user_info", "registration_shared_secret": "s", "service_account": ""},
			"matrix_user_info needs admin_token, or admin_user with admin_password"},
		"info: an unknown filter": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "inactive": "90d"},
			"inactive"},
		"info: a duration that does not parse": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "inactive_for": "3 months"},
			"option inactive_for: \"3 months\" is neither a duration"},
		"info: minutes or months": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "inactive_for": "6m"},
			"option inactive_for: \"6m\" is neither a duration (a whole number of hours, days or weeks"},
		"info: a date in the future": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "inactive_for": "2999-01-01"},
			"option inactive_for: 2999-01-01 is in the future"},
		"info: no time at all": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "inactive_for": "0d"},
			"option inactive_for: \"0d\" is no time at all"},
		"info: an empty user_types": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "user_types": []any{}},
			"option user_types is empty"},
		"info: a bad user type": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "user_types": []any{"bot", "a b"}},
			"option user_types[1]: a user type is a word"},
		"info: a bad user": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "users": []any{"ok", "bob smith"}},
			"option users[1]: \"bob smith\": a localpart may only contain"},
		"info: another server": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "server_name": "test", "users": []any{"@bob:elsewhere"}},
			"@bob:elsewhere is on another server; server_name is test"},
		"info: concurrency out of range": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "concurrency": 0},
			"concurrency"},
		"info: user_types under MAS": {map[string]any{"_mxadmin_module": "matrix_user_info", "homeserver_url": down, "mas_url": down, "mas_client_id": "01JABCDEFGHJKMNPQRSTVWXYZ0", "mas_client_secret": "s", "user_types": []any{"bot"}},
			"option user_types cannot be used on a homeserver that delegates authentication to MAS: MAS holds no user type"},
		"info: details under MAS": {map[string]any{"_mxadmin_module": "matrix_user_info", "homeserver_url": down, "mas_url": down, "mas_client_id": "01JABCDEFGHJKMNPQRSTVWXYZ0", "mas_client_secret": "s", "details": true},
			"option details cannot be true on a homeserver that delegates authentication to MAS"},
		"info: unreachable": {map[string]any{"_mxadmin_module": "matrix_user_info", "admin_token": "t", "homeserver_url": down, "retries": 0},
			"; check homeserver_url"},
		"user: unreachable": {map[string]any{"_mxadmin_module": "matrix_user", "user": "bob", "admin_token": "t", "homeserver_url": down, "retries": 0},
			"; check homeserver_url"},
		"user: exclusive without users": {map[string]any{"_mxadmin_module": "matrix_user", "user": "bob", "exclusive": true, "admin_token": "t"},
			"option exclusive needs users"},
		"user: exclusive with an empty list": {map[string]any{"_mxadmin_module": "matrix_user", "users": []any{}, "exclusive": true, "admin_token": "t"},
			"would deactivate every local account"},
		"user: exclusive with the shared secret": {map[string]any{"_mxadmin_module": "matrix_user", "users": []any{map[string]any{"user": "a"}}, "exclusive": true, "registration_shared_secret": "s", "service_account": ""},
			"option exclusive needs admin_token or admin_user/admin_password"},
		"user: a bad protect pattern": {map[string]any{"_mxadmin_module": "matrix_user", "user": "bob", "protect": []any{"["}, "admin_token": "t"},
			"protect"},
		"user: another server": {map[string]any{"_mxadmin_module": "matrix_user", "user": "@bob:elsewhere", "server_name": "test", "admin_token": "t"},
			"@bob:elsewhere is on another server; server_name is test"},
		"user: an ID too long": {map[string]any{"_mxadmin_module": "matrix_user", "user": strings.Repeat("b", 250), "server_name": "test.example", "admin_token": "t"},
			"option user: the user ID"},
		"user: absent with the shared secret": {map[string]any{"_mxadmin_module": "matrix_user", "user": "bob", "state": "absent", "registration_shared_secret": "s", "service_account": ""},
			"state=absent needs admin_token or admin_user/admin_password"},
		"user: threepids with the shared secret": {map[string]any{"_mxadmin_module": "matrix_user", "user": "bob", "password": "pw", "threepids": []any{}, "registration_shared_secret": "s", "service_account": ""},
			"threepids"},
	} {
		t.Run(name, func(t *testing.T) {
			res := runModule(t, tc.args)
			assert.Equal(t, true, res["failed"], res)
			assert.Contains(t, res["msg"], tc.msg)
		})
	}
}

func TestInterruptible(t *testing.T) {
	ctx, stop := interruptible(context.Background(), nil)
	defer stop()
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the run")
	}
	assert.EqualError(t, context.Cause(ctx), "interrupted by SIGTERM")
	assert.Equal(t, "SIGINT", signalName(os.Interrupt))
	assert.Equal(t, "SIGHUP", signalName(syscall.SIGHUP))

	// Stopped: the context ends without a cause of its own.
	ctx, stop = interruptible(context.Background(), nil)
	stop()
	assert.ErrorIs(t, context.Cause(ctx), context.Canceled)
}

// Every result counts the retries of its run; -vvv adds a line per retry.
func TestResultsCountRetries(t *testing.T) {
	down := closedPort(t)
	args := map[string]any{"_mxadmin_module": "matrix_user", "user": "bob", "admin_token": "t", "homeserver_url": down, "retries": 1}
	// Each of the first requests (the MAS probes, sent together) is
	// retried once before the run gives up.
	res := runModule(t, args)
	counts := res["retries"].(map[string]any)
	assert.Positive(t, counts["total"])
	assert.Equal(t, counts["total"], counts["connection"], "refused connections")
	assert.Equal(t, 0.0, counts["429"])
	assert.NotContains(t, res, "retry_log", "the detail only at -vvv")

	args["_ansible_verbosity"] = 3
	res = runModule(t, args)
	lines, _ := res["retry_log"].([]any)
	assert.Len(t, lines, int(res["retries"].(map[string]any)["total"].(float64)), "a line per retry")
	for _, l := range lines {
		assert.Regexp(t, `^GET /_(matrix|synapse)/\S+: no answer, waited \d`, l)
	}

	// A run refused before any request says so too.
	res = runModule(t, map[string]any{"_mxadmin_module": "matrix_user"})
	assert.Equal(t, map[string]any{"total": 0.0, "429": 0.0, "connection": 0.0}, res["retries"])
}
