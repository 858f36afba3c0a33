package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// Registration tokens are server-wide, so these tests use a Synapse of
// their own where sign-up needs a token (the shared one has registration
// off); exclusive mode, which deletes every undeclared token, gets one more.
const tokenSignupConfig = "enable_registration: true\nregistration_requires_token: true\n"

var tokenServer struct {
	once sync.Once
	srv  *synapsetest.Server
	err  error
}

// tokenFixture is a fixture on the token server (started on first use).
func tokenFixture(t *testing.T) *fixture {
	t.Helper()
	tokenServer.once.Do(func() {
		tokenServer.srv, tokenServer.err = synapsetest.Start(synapsetest.Config{Extra: tokenSignupConfig})
		if tokenServer.err == nil {
			synapsetest.Track(tokenServer.srv)
		}
	})
	if tokenServer.err != nil {
		synapsetest.Unavailable(t, tokenServer.err)
	}
	return fixtureOn(t, tokenServer.srv)
}

// runTokens runs matrix_registration_token, proxy counters reset first.
func (f *fixture) runTokens(t *testing.T, extra map[string]any) Run {
	t.Helper()
	f.proxy.Reset()
	return runModule(t, "matrix_registration_token", f.args(extra))
}

// serverToken reads a token straight from Synapse (nil when it does not
// exist).
func (f *fixture) serverToken(t *testing.T, value string) map[string]any {
	t.Helper()
	st, out, err := f.srv.Do(http.MethodGet, "/_synapse/admin/v1/registration_tokens/"+value, f.token, nil)
	require.NoError(t, err)
	if st == http.StatusNotFound {
		return nil
	}
	require.Equal(t, http.StatusOK, st, "%v", out)
	return out.(map[string]any)
}

// signUp creates an account through the client API's registration-token
// flow, as a person with an invitation does: POST /register answers 401
// with a session and the stages; the token stage is then completed with
// {type, token, session}, and the dummy stage after it. It returns whether
// the account was made, and the error of the stage that refused it.
func signUp(t *testing.T, srv *synapsetest.Server, localpart, token string) (bool, string) {
	t.Helper()
	const reg = "/_matrix/client/v3/register"
	body := map[string]any{"username": localpart, "password": "signup-pass-" + localpart}
	st, out, err := srv.Do(http.MethodPost, reg, "", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, st, "the first step asks for the stages: %v", out)
	session, _ := out.(map[string]any)["session"].(string)
	require.NotEmpty(t, session)
	assert.Contains(t, fmt.Sprint(out.(map[string]any)["flows"]), "m.login.registration_token")
	body["auth"] = map[string]any{"type": "m.login.registration_token", "token": token, "session": session}
	st, out, err = srv.Do(http.MethodPost, reg, "", body)
	require.NoError(t, err)
	if errcode, _ := out.(map[string]any)["errcode"].(string); errcode != "" {
		return false, errcode
	}
	if st == http.StatusUnauthorized {
		body["auth"] = map[string]any{"type": "m.login.dummy", "session": session}
		st, out, err = srv.Do(http.MethodPost, reg, "", body)
		require.NoError(t, err)
	}
	if st != http.StatusOK {
		errcode, _ := out.(map[string]any)["errcode"].(string)
		return false, errcode
	}
	assert.Equal(t, srv.UserID(localpart), out.(map[string]any)["user_id"])
	return true, ""
}

// tokens returns the result's tokens.
func (r Run) tokens() []map[string]any {
	var out []map[string]any
	list, _ := r.Result["tokens"].([]any)
	for _, el := range list {
		out = append(out, el.(map[string]any))
	}
	return out
}

func requestsTo(f *fixture, method string) int {
	n := 0
	for _, r := range f.proxy.Requests() {
		if r.Method == method && strings.Contains(r.Path, "/registration_tokens") {
			n++
		}
	}
	return n
}

// uniqueToken is a token value no other test uses, with the characters
// Synapse allows beyond letters and digits.
func uniqueToken(prefix string) string {
	return fmt.Sprintf("%s.Tk_%d-%s", prefix, userCounter.Add(1), strings.Repeat("x", 12))
}

// endOfNextMonth is an expiry a month or so ahead, in UTC, as a playbook
// would write it.
func endOfNextMonth() time.Time {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month()+2, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second)
}

// A declared token, end to end: created, a real account made with it,
// completed counted, a rerun unchanged, an update, check mode, deletion.
func TestRegistrationTokenLifecycle(t *testing.T) {
	t.Parallel()
	f := tokenFixture(t)
	value := uniqueToken("life")
	expiry := endOfNextMonth()
	decl := map[string]any{"token": value, "uses_allowed": 2, "expiry_time": expiry.Format(time.RFC3339)}

	r := f.runTokens(t, decl).mustSucceed(t)
	assert.True(t, r.changed())
	require.Len(t, r.tokens(), 1)
	tok := r.tokens()[0]
	assert.Equal(t, "created", tok["action"])
	assert.Equal(t, "********", tok["token"], "a declared value is a secret")
	assert.EqualValues(t, expiry.UnixMilli(), tok["expiry_time"])
	assert.Equal(t, expiry.Format(time.RFC3339), tok["expiry_time_iso"])
	assert.Equal(t, 1, requestsTo(f, http.MethodPost), "one create")
	on := f.serverToken(t, value)
	require.NotNil(t, on)
	assert.EqualValues(t, 2, on["uses_allowed"])
	assert.EqualValues(t, expiry.UnixMilli(), on["expiry_time"])
	diff := r.Result["diff"].([]any)[0].(map[string]any)
	assert.Equal(t, map[string]any{"state": "absent"}, diff["before"])
	assert.Equal(t, fmt.Sprintf("%d (%s)", expiry.UnixMilli(), expiry.Format(time.RFC3339)), diff["after"].(map[string]any)["expiry_time"], "both forms")

	// The same declaration with the expiry in epoch milliseconds: the same.
	r = f.runTokens(t, map[string]any{"token": value, "uses_allowed": 2, "expiry_time": expiry.UnixMilli()}).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)

	// A real sign-up with it: Synapse counts it, the module reports it,
	// and it is no difference.
	person := uniqueUser("invited")
	ok, errcode := signUp(t, f.srv, person, value)
	require.True(t, ok, "sign-up with the token: %s", errcode)
	assert.EqualValues(t, 1, f.serverToken(t, value)["completed"])
	r = f.runTokens(t, decl).mustSucceed(t)
	assert.False(t, r.changed(), "completed is server state, not a difference")
	f.requireNoWrites(t)
	assert.EqualValues(t, 1, r.tokens()[0]["completed"])
	assert.EqualValues(t, 0, r.tokens()[0]["pending"])

	// A sign-up with a token that does not exist is refused.
	ok, errcode = signUp(t, f.srv, uniqueUser("stranger"), uniqueToken("nope"))
	assert.False(t, ok)
	assert.Equal(t, "M_UNAUTHORIZED", errcode)

	// Check mode predicts an update and writes nothing.
	later := expiry.Add(24 * time.Hour)
	upd := map[string]any{"token": value, "uses_allowed": 5, "expiry_time": later.UnixMilli()}
	r = f.runTokens(t, withCheck(upd)).mustSucceed(t)
	assert.True(t, r.changed())
	f.requireNoWrites(t)
	assert.Equal(t, []any{"uses_allowed", "expiry_time"}, r.tokens()[0]["changes"])
	assert.EqualValues(t, 2, f.serverToken(t, value)["uses_allowed"], "the server is unchanged")

	r = f.runTokens(t, upd).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, "updated", r.tokens()[0]["action"])
	assert.Equal(t, 1, requestsTo(f, http.MethodPut), "one PUT, no create")
	assert.Equal(t, 0, requestsTo(f, http.MethodPost))
	on = f.serverToken(t, value)
	assert.EqualValues(t, 5, on["uses_allowed"])
	assert.EqualValues(t, later.UnixMilli(), on["expiry_time"])
	assert.EqualValues(t, 1, on["completed"], "an update keeps the count")

	// Unlimited and never: null.
	r = f.runTokens(t, map[string]any{"token": value, "uses_allowed": nil, "expiry_time": nil}).mustSucceed(t)
	assert.True(t, r.changed())
	on = f.serverToken(t, value)
	assert.Nil(t, on["uses_allowed"])
	assert.Nil(t, on["expiry_time"])

	// Deleted: sign-up refused, the account made with it stays.
	r = f.runTokens(t, withCheck(map[string]any{"token": value, "state": "absent"})).mustSucceed(t)
	assert.True(t, r.changed())
	f.requireNoWrites(t)
	r = f.runTokens(t, map[string]any{"token": value, "state": "absent"}).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Equal(t, "deleted", r.tokens()[0]["action"])
	assert.Nil(t, f.serverToken(t, value))
	ok, errcode = signUp(t, f.srv, uniqueUser("late"), value)
	assert.False(t, ok)
	assert.Equal(t, "M_UNAUTHORIZED", errcode)
	assert.NotNil(t, f.read(t, person), "deleting a token leaves the accounts made with it")
	r = f.runTokens(t, map[string]any{"token": value, "state": "absent"}).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)
}

func withCheck(args map[string]any) map[string]any {
	out := map[string]any{"_ansible_check_mode": true}
	for k, v := range args {
		out[k] = v
	}
	return out
}

// A token used up, or expired, is refused at sign-up; declared with a new
// count or expiry it is updated in place, not recreated.
func TestRegistrationTokenExhaustedAndExpired(t *testing.T) {
	t.Parallel()
	f := tokenFixture(t)
	once := uniqueToken("once")
	f.runTokens(t, map[string]any{"token": once, "uses_allowed": 1}).mustSucceed(t)
	ok, errcode := signUp(t, f.srv, uniqueUser("first"), once)
	require.True(t, ok, errcode)
	ok, errcode = signUp(t, f.srv, uniqueUser("second"), once)
	assert.False(t, ok, "a token with uses_allowed 1 makes one account")
	assert.Equal(t, "M_UNAUTHORIZED", errcode)
	r := f.runTokens(t, map[string]any{"token": once, "uses_allowed": 1}).mustSucceed(t)
	assert.False(t, r.changed(), "used up is still as declared")
	r = f.runTokens(t, map[string]any{"token": once, "uses_allowed": 2}).mustSucceed(t)
	assert.Equal(t, "updated", r.tokens()[0]["action"])
	assert.Equal(t, 0, requestsTo(f, http.MethodPost)+requestsTo(f, http.MethodDelete), "updated, not recreated")
	ok, errcode = signUp(t, f.srv, uniqueUser("third"), once)
	assert.True(t, ok, errcode)

	// Expiry: Synapse refuses to set one in the past, so the token is made
	// to expire in a few seconds.
	soon := uniqueToken("soon")
	expiry := time.Now().Add(3 * time.Second).UnixMilli()
	f.runTokens(t, map[string]any{"token": soon, "expiry_time": expiry}).mustSucceed(t)
	time.Sleep(time.Until(time.UnixMilli(expiry)) + 500*time.Millisecond)
	ok, errcode = signUp(t, f.srv, uniqueUser("tardy"), soon)
	assert.False(t, ok, "an expired token makes no account")
	assert.Equal(t, "M_UNAUTHORIZED", errcode)
	r = f.runTokens(t, map[string]any{"token": soon, "expiry_time": expiry}).mustSucceed(t)
	assert.False(t, r.changed(), "a rerun of the play after the expiry is green and unchanged")
	f.requireNoWrites(t)
	// A past expiry that would have to be sent is refused after the read,
	// before any write, naming the option.
	r = f.runTokens(t, map[string]any{"token": soon, "expiry_time": expiry - 60_000})
	require.True(t, r.failed())
	assert.Contains(t, r.msg(), "option expiry_time")
	assert.Contains(t, r.msg(), "in the past")
	f.requireNoWrites(t)
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	r = f.runTokens(t, map[string]any{"token": soon, "expiry_time": next.Format("2006-01-02T15:04:05+00:00")}).mustSucceed(t)
	assert.Equal(t, "updated", r.tokens()[0]["action"])
	assert.Equal(t, 1, requestsTo(f, http.MethodPut))
	ok, errcode = signUp(t, f.srv, uniqueUser("ontime"), soon)
	assert.True(t, ok, errcode)
}

// A token declared by name: the value is generated, returned to the run
// that made it and to no other, and a rerun finds it.
func TestRegistrationTokenGenerated(t *testing.T) {
	t.Parallel()
	f := tokenFixture(t)
	name := fmt.Sprintf("invite-%d", userCounter.Add(1))
	decl := map[string]any{"tokens": []any{map[string]any{"name": name, "uses_allowed": 1, "length": 20}}}

	r := f.runTokens(t, withCheck(decl)).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Nil(t, r.tokens()[0]["token"], "check mode makes no value")
	f.requireNoWrites(t)

	r = f.runTokens(t, decl).mustSucceed(t)
	assert.True(t, r.changed())
	minted, _ := r.tokens()[0]["token"].(string)
	require.Regexp(t, "^"+name+"~[A-Za-z0-9]{20}$", minted)
	assert.Equal(t, name, r.tokens()[0]["name"])
	assert.NotContains(t, fmt.Sprint(r.Result["diff"]), minted, "the diff never shows a value")
	assert.NotNil(t, f.serverToken(t, minted))

	var later []Run
	for range 2 {
		r = f.runTokens(t, decl).mustSucceed(t)
		later = append(later, r)
		assert.False(t, r.changed(), "the rerun finds it by its name")
		f.requireNoWrites(t)
		assert.Equal(t, "********", r.tokens()[0]["token"], "returned once only")
	}
	later = append(later, f.runTokens(t, withCheck(map[string]any{"tokens": []any{map[string]any{"name": name, "uses_allowed": 3}}})))
	assert.True(t, later[2].changed())
	for _, run := range later {
		assert.NotContains(t, run.Stdout, minted)
		assert.NotContains(t, run.Stdout, strings.SplitN(minted, "~", 2)[1])
	}

	ok, errcode := signUp(t, f.srv, uniqueUser("guest"), minted)
	assert.True(t, ok, errcode)

	// Two tokens on the server with the name's prefix: which one the name
	// means cannot be told; refused before any write.
	status, _, err := f.srv.Do(http.MethodPost, "/_synapse/admin/v1/registration_tokens/new", f.token, map[string]any{"token": name + "~byhand0000000000"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	r = f.runTokens(t, decl)
	require.True(t, r.failed())
	assert.Contains(t, r.msg(), "tokens[0] ("+name+")")
	assert.Contains(t, r.msg(), "2 tokens whose value begins with "+name+"~")
	f.requireNoWrites(t)
	for _, v := range []string{minted, name + "~byhand0000000000"} {
		// Straight to Synapse: runModule would count the minted value as a
		// secret of its arguments, which the run that made it returned.
		st, _, err := f.srv.Do(http.MethodDelete, "/_synapse/admin/v1/registration_tokens/"+v, f.token, nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, st)
	}
}

// show_token: values meant to be published are shown.
func TestRegistrationTokenShown(t *testing.T) {
	t.Parallel()
	f := tokenFixture(t)
	value := uniqueToken("public")
	// runModule would count the declared value as a secret; here it is
	// meant to be seen, so the binary is run on its own.
	r := runModule(t, "matrix_registration_token", f.args(map[string]any{"name": fmt.Sprintf("pub-%d", userCounter.Add(1)), "show_token": true}))
	r.mustSucceed(t)
	assert.NotEqual(t, "********", r.tokens()[0]["token"])
	args := f.args(map[string]any{"tokens": []any{map[string]any{"token": value, "uses_allowed": 10}}, "show_token": true})
	r = runShown(t, args)
	assert.Equal(t, value, r.tokens()[0]["token"], "show_token shows a declared value")
	r = runShown(t, f.args(map[string]any{"tokens": []any{map[string]any{"token": value, "state": "absent"}}}))
	assert.Equal(t, "deleted", r.tokens()[0]["action"])
	assert.Equal(t, "********", r.tokens()[0]["token"], "without show_token, masked")
}

// Bad input is refused before any request, naming the option and the rule.
func TestRegistrationTokenBadInput(t *testing.T) {
	t.Parallel()
	f := tokenFixture(t)
	past := time.Now().Add(-time.Hour).UnixMilli()
	cases := []struct {
		args map[string]any
		want []string
	}{
		{map[string]any{"token": "has space"}, []string{"option token", "A-Z, a-z, 0-9 and . _ ~ -", "with spaces"}},
		{map[string]any{"token": strings.Repeat("Qz7", 22)[:65]}, []string{"option token", "1 to 64", "65 characters"}},
		{map[string]any{"token": "ünïcode-token"}, []string{"option token", "outside the set"}},
		{map[string]any{"token": "goodtoken1", "uses_allowed": -1}, []string{"option uses_allowed", "0 or more"}},
		{map[string]any{"token": "goodtoken1", "uses_allowed": 1.5}, []string{"uses_allowed", "whole number"}},
		{map[string]any{"token": "goodtoken1", "uses_allowed": 0}, []string{"option uses_allowed", "reads 0 as unlimited", "state: absent"}},
		{map[string]any{"token": "goodtoken1", "expiry_time": "next tuesday"}, []string{"option expiry_time", "cannot read"}},
		{map[string]any{"token": "goodtoken1", "expiry_time": "2030-01-01T00:00:00"}, []string{"option expiry_time", "without an offset"}},
		{map[string]any{"token": "goodtoken1", "expiry_time": 1900000000}, []string{"option expiry_time", "epoch seconds?"}},
		{map[string]any{"token": "goodtoken1", "expiry_time": true}, []string{"option expiry_time", "boolean"}},
		{map[string]any{"tokens": []any{map[string]any{"token": "dup-token-1"}, map[string]any{"token": "dup-token-1"}}}, []string{"tokens[1]", "the same token as tokens[0]"}},
		{map[string]any{"tokens": []any{map[string]any{"name": "team"}, map[string]any{"name": "team"}}}, []string{"tokens[1] (team)", "the same name as tokens[0] (team)"}},
		{map[string]any{"tokens": []any{map[string]any{"name": "team"}, map[string]any{"token": "team~abcdefgh"}}}, []string{"tokens[1]", "begins with team~"}},
		{map[string]any{"name": "a~b"}, []string{"option name", "no ~"}},
		{map[string]any{"name": strings.Repeat("n", 50)}, []string{"option name", "at most 64"}},
		{map[string]any{"tokens": []any{map[string]any{"uses_allowed": 3}}}, []string{"tokens[0]", "give token", "or name"}},
		{map[string]any{"tokens": []any{}, "exclusive": true}, []string{"option exclusive", "every registration token", "allow_empty"}},
		{map[string]any{"token": "goodtoken1", "exclusive": true}, []string{"option exclusive", "needs tokens"}},
		{map[string]any{"tokens": []any{}, "uses_allowed": 3}, []string{"option uses_allowed", "each entry"}},
		{map[string]any{"token": "goodtoken1", "name": "x"}, []string{"token", "name"}},
		{map[string]any{"name": "fresh", "expiry_time": past}, nil}, // refused after the read: below
	}
	for _, c := range cases {
		if c.want == nil {
			continue
		}
		r := f.runTokens(t, c.args)
		require.True(t, r.failed(), "%v: %s", c.args, r.Stdout)
		for _, w := range c.want {
			assert.Contains(t, r.msg(), w, "%v", c.args)
		}
		assert.Empty(t, f.proxy.Requests(), "%v: refused before any request", c.args)
	}
	r := f.runTokens(t, map[string]any{"name": fmt.Sprintf("fresh-%d", userCounter.Add(1)), "expiry_time": past})
	require.True(t, r.failed())
	assert.Contains(t, r.msg(), "option expiry_time")
	assert.Contains(t, r.msg(), "in the past")
	f.requireNoWrites(t)
}

// runShown runs the module with show_token: the declared values are meant
// to be seen, so the output is not held to runModule's secret check (and
// not recorded in the suite's scan).
func runShown(t *testing.T, args map[string]any) Run {
	t.Helper()
	full := map[string]any{"_mxadmin_module": "matrix_registration_token", "_ansible_check_mode": false, "_ansible_diff": true, "_ansible_verbosity": 0}
	for k, v := range args {
		full[k] = v
	}
	data, err := json.Marshal(full)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "args")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return runBinary(t, path).mustSucceed(t)
}

// Exclusive mode deletes undeclared tokens, within its threshold, and
// refuses an empty declaration unless allowed. It has a server of its own:
// it deletes every token another test would make.
func TestRegistrationTokenExclusive(t *testing.T) {
	t.Parallel()
	srv := synapsetest.New(t, synapsetest.Config{Extra: tokenSignupConfig})
	f := fixtureOn(t, srv)
	var byHand []string
	for i := range 4 {
		v := fmt.Sprintf("handmade-%d-%s", i, strings.Repeat("q", 10))
		byHand = append(byHand, v)
		recordSecrets(v)
		st, _, err := srv.Do(http.MethodPost, "/_synapse/admin/v1/registration_tokens/new", f.token, map[string]any{"token": v})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, st)
	}
	keep := uniqueToken("keep")
	decl := map[string]any{"tokens": []any{map[string]any{"token": keep, "uses_allowed": 3}}, "exclusive": true}

	// 4 undeclared of 4 (then 5): over the default threshold (25%).
	r := f.runTokens(t, decl)
	require.True(t, r.failed())
	assert.Contains(t, r.msg(), "would delete 4 undeclared registration tokens")
	assert.Contains(t, r.msg(), "max_deletions_percent")
	assert.Empty(t, f.proxy.Writes(), "the threshold is decided before any write")

	wide := map[string]any{"max_deletions": 4, "max_deletions_percent": 100}
	for k, v := range decl {
		wide[k] = v
	}
	r = f.runTokens(t, withCheck(wide)).mustSucceed(t)
	f.requireNoWrites(t)
	assert.True(t, r.changed())
	var wouldGo int
	for _, tok := range r.tokens() {
		if tok["declared"] == false {
			assert.Equal(t, "deleted", tok["action"])
			assert.Equal(t, "********", tok["token"], "undeclared values are secrets too")
			wouldGo++
		}
	}
	assert.Equal(t, 4, wouldGo, "check mode lists what would go")
	for _, v := range byHand {
		assert.NotNil(t, f.serverToken(t, v))
	}
	wide["max_deletions"] = 3
	r = f.runTokens(t, wide)
	require.True(t, r.failed(), "max_deletions bounds the count")
	assert.Contains(t, r.msg(), "at most 3")

	wide["max_deletions"] = 4
	r = f.runTokens(t, wide).mustSucceed(t)
	assert.True(t, r.changed())
	for _, v := range byHand {
		assert.Nil(t, f.serverToken(t, v))
	}
	assert.NotNil(t, f.serverToken(t, keep))
	r = f.runTokens(t, decl).mustSucceed(t)
	assert.False(t, r.changed())
	f.requireNoWrites(t)

	// An empty declaration deletes every token only when allowed.
	empty := map[string]any{"tokens": []any{}, "exclusive": true, "max_deletions_percent": 100}
	r = f.runTokens(t, empty)
	require.True(t, r.failed())
	assert.Contains(t, r.msg(), "allow_empty")
	assert.Empty(t, f.proxy.Requests())
	empty["allow_empty"] = true
	r = f.runTokens(t, empty).mustSucceed(t)
	assert.True(t, r.changed())
	assert.Nil(t, f.serverToken(t, keep))
}

// The module in a play: a vaulted token and a generated invitation handed
// over in a private file, a real sign-up with it, a rerun unchanged, and a
// check-mode diff that shows the change and no value.
func TestPlaybookRegistrationToken(t *testing.T) {
	t.Parallel()
	f := tokenFixture(t)
	handover := filepath.Join(t.TempDir(), "invitations.txt")
	expiry := endOfNextMonth()
	vars := map[string]any{
		"synapse_url": f.proxy.URL, "synapse_admin_token": f.token,
		"test_signup_token": uniqueToken("play"), "test_uses": 5, "test_expiry": expiry.Format(time.RFC3339),
		"test_invite_name": fmt.Sprintf("pb-invite-%d", userCounter.Add(1)), "test_handover": handover, "test_no_log": true,
	}
	pb := ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_registration_token.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	_, changed, _ := pb.Recap(t, "synapse_host")
	assert.Equal(t, 2, changed, "tokens made, invitation handed over")
	data, err := os.ReadFile(handover)
	require.NoError(t, err)
	minted := strings.TrimSpace(string(data))
	require.Regexp(t, "^"+vars["test_invite_name"].(string)+"~[A-Za-z0-9]{24}$", minted)
	assert.NotContains(t, pb.Output, minted)
	ok, errcode := signUp(t, f.srv, uniqueUser("pbguest"), minted)
	require.True(t, ok, errcode)
	assert.EqualValues(t, 5, f.serverToken(t, vars["test_signup_token"].(string))["uses_allowed"])

	pb = ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_registration_token.yml", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	_, changed, _ = pb.Recap(t, "synapse_host")
	assert.Equal(t, 0, changed, "a rerun changes nothing, and the used invitation is no difference")

	vars["test_uses"], vars["test_no_log"] = 6, false
	f.proxy.Reset()
	pb = ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_registration_token.yml", "--check", "--diff", "-v", "-e", extraVars(t, vars))
	require.Equal(t, 0, pb.Exit, pb.Output)
	f.requireNoWrites(t)
	assert.Contains(t, pb.Output, `-    "uses_allowed": "5"`)
	assert.Contains(t, pb.Output, `+    "uses_allowed": "6"`)
	assert.Contains(t, pb.Output, fmt.Sprintf("%d (%s)", expiry.UnixMilli(), expiry.Format(time.RFC3339)))
	assert.NotContains(t, pb.Output, minted)
	assert.NotContains(t, pb.Output, vars["test_signup_token"].(string))
	assert.EqualValues(t, 5, f.serverToken(t, vars["test_signup_token"].(string))["uses_allowed"])
}

// findByName is the value of the server's token that begins with name~.
func (f *fixture) findByName(t *testing.T, name string) string {
	t.Helper()
	st, out, err := f.srv.Do(http.MethodGet, "/_synapse/admin/v1/registration_tokens", f.token, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st)
	for _, el := range out.(map[string]any)["registration_tokens"].([]any) {
		if v := el.(map[string]any)["token"].(string); strings.HasPrefix(v, name+"~") {
			return v
		}
	}
	return ""
}

// The role keeps the tokens in the same run as the users, with the same
// connection variables; its drift gate covers them; without the variable it
// leaves the tokens alone.
func TestRoleRegistrationTokens(t *testing.T) {
	t.Parallel()
	f := tokenFixture(t)
	person := uniqueUser("roletok")
	value := uniqueToken("role")
	name := fmt.Sprintf("role-invite-%d", userCounter.Add(1))
	vars := f.roleVars(map[string]any{
		"matrix_users_list": []any{map[string]any{"username": person, "password": "role-token-pass-1"}},
		"matrix_users_registration_tokens": []any{
			map[string]any{"token": value, "uses_allowed": 3},
			map[string]any{"name": name, "uses_allowed": 1},
		},
	})
	pb := f.runRole(t, vars)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.NotNil(t, f.read(t, person))
	assert.EqualValues(t, 3, f.serverToken(t, value)["uses_allowed"])
	minted := f.findByName(t, name)
	require.NotEmpty(t, minted)
	assert.NotContains(t, pb.Output, minted, "the task is no_log: the value is in the registered result only")
	assert.Contains(t, pb.Output, "registration tokens: 2 created")

	pb = f.runRole(t, vars)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changedOf(t, pb))
	f.requireNoWrites(t)

	// The drift gate: a token that differs fails the check run, by entry.
	vars["matrix_users_registration_tokens"].([]any)[0].(map[string]any)["uses_allowed"] = 4
	vars["matrix_users_fail_on_drift"] = true
	pb = f.runRole(t, vars, "--check", "-vvvv")
	require.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "Synapse differs from the declared registration tokens")
	assert.Contains(t, pb.Output, "matrix_users_registration_tokens[0]: updated (uses_allowed)")
	f.requireNoWrites(t)
	assert.NotContains(t, pb.Output, minted)

	// Messages name the role's variables.
	vars["matrix_users_fail_on_drift"] = false
	vars["matrix_users_registration_tokens"].([]any)[0].(map[string]any)["uses_allowed"] = -2
	pb = f.runRole(t, vars)
	require.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "matrix_users_registration_tokens[0]: option uses_allowed must be 0 or more")
	assert.Empty(t, f.proxy.Writes())

	// Without the variable, the role leaves the tokens alone.
	delete(vars, "matrix_users_registration_tokens")
	pb = f.runRole(t, vars)
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, requestsTo(f, http.MethodGet), "no token is read")
	assert.NotNil(t, f.serverToken(t, value))
	for _, v := range []string{value, minted} {
		st, _, err := f.srv.Do(http.MethodDelete, "/_synapse/admin/v1/registration_tokens/"+v, f.token, nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, st)
	}
}

// docs/registration-tokens.md in a matrix-docker-ansible-deploy checkout:
// the variables that turn token sign-up on, the first admin, the token
// declared in vars.yml next to the admin token, kept by the collection's
// playbook, and a real sign-up with it. (The Synapse here is configured by
// the test harness as those variables configure MDAD's.)
func TestMDADRegistrationTokens(t *testing.T) {
	t.Parallel()
	const domain = "mdad-tokens.test"
	genericKey := "mdad-generic-" + uniqueUser("tokkey")
	secret := mdadSecret(genericKey, ":synapse.mac")
	recordSecrets(genericKey, secret)
	srv := synapsetest.New(t, synapsetest.Config{ServerName: domain, SharedSecret: secret, Extra: tokenSignupConfig})
	f := fixtureOn(t, srv)
	port := strings.TrimPrefix(f.proxy.URL, "http://127.0.0.1:")
	c := newMDADCheckout(t, domain, genericKey, "127.0.0.1:"+port)
	host := c.host
	c.addVars(t, "matrix_synapse_enable_registration: true\nmatrix_synapse_registration_requires_token: true\n")

	pb := c.play(t, "-i", "inventory/hosts", "mxadmin.synapse.users", "--extra-vars=username=alice password=mdad-alice-1 admin=yes", "--tags=register-user")
	require.Equal(t, 0, pb.Exit, pb.Output)
	token, err := srv.Login("alice", "mdad-alice-1")
	require.NoError(t, err)
	recordSecrets(token)
	value := uniqueToken("team")
	recordSecrets(value)
	c.addVars(t, fmt.Sprintf(`vault_matrix_users_admin_token: '%s'
vault_team_signup_token: '%s'
matrix_users_admin_token: "{{ vault_matrix_users_admin_token }}"
matrix_users_registration_tokens:
  - token: "{{ vault_team_signup_token }}"   # the team's sign-up code
    uses_allowed: 20
    expiry_time: "2099-12-31T23:59:59+01:00"
`, token, value))

	f.proxy.Reset()
	pb = c.play(t, "-i", "inventory/hosts", "mxadmin.synapse.users")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "registration tokens: 1 created")
	on := f.serverToken(t, value)
	require.NotNil(t, on)
	assert.EqualValues(t, 20, on["uses_allowed"])
	ok, errcode := signUp(t, srv, "newcomer", value)
	require.True(t, ok, errcode)

	pb = c.play(t, "-i", "inventory/hosts", "mxadmin.synapse.users", "--check", "-e", "matrix_users_fail_on_drift=true")
	require.Equal(t, 0, pb.Exit, "no drift after a sign-up:\n%s", pb.Output)
	_, changed, _ := pb.Recap(t, host)
	assert.Equal(t, 0, changed)
}

// TestRegistrationTokenThroughTheServiceAdmin: with only the shared secret
// (what an MDAD inventory has), the module manages tokens as the
// collection's service admin, and a rerun changes nothing.
func TestRegistrationTokenThroughTheServiceAdmin(t *testing.T) {
	t.Parallel()
	f := tokenFixture(t)
	value := uniqueToken("svc")
	args := map[string]any{"homeserver_url": f.proxy.URL, "registration_shared_secret": f.srv.SharedSecret,
		"service_account": uniqueUser("svcadmin"), "retries": 0, "token": value, "uses_allowed": 3}
	f.proxy.Reset()
	r := runModule(t, "matrix_registration_token", args).mustSucceed(t)
	assert.True(t, r.changed())
	require.NotNil(t, f.serverToken(t, value))
	assert.EqualValues(t, 3, f.serverToken(t, value)["uses_allowed"])

	f.proxy.Reset()
	r = runModule(t, "matrix_registration_token", args).mustSucceed(t)
	assert.False(t, r.changed())
	assert.Empty(t, stateWrites(f.proxy), "a rerun writes nothing but its own login and logout")
}
