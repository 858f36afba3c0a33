package modules

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/wiretest"
)

// tokenStore is Synapse's registration tokens in memory, behind the fake
// Synapse of the skeleton tests: matrix_registration_token's options,
// results, diff and masking are tested here; Synapse's own behaviour in the
// e2e suite.
type tokenStore struct {
	mu     sync.Mutex
	tokens map[string]map[string]any
	// refuse answers a write to this token with 400.
	refuse string
}

const tokensBase = "/_synapse/admin/v1/registration_tokens"

func fakeTokenSynapse(t *testing.T, tokens ...map[string]any) (*wiretest.Server, *tokenStore) {
	srv := fakeSynapse(t)
	st := &tokenStore{tokens: map[string]map[string]any{}}
	for _, tok := range tokens {
		st.tokens[tok["token"].(string)] = tok
	}
	srv.Handle(http.MethodGet, tokensBase, func(w http.ResponseWriter, _ *http.Request) {
		st.mu.Lock()
		defer st.mu.Unlock()
		list := []any{}
		for _, tok := range st.tokens {
			list = append(list, tok)
		}
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"registration_tokens": list})
	})
	srv.Handle(http.MethodPost, tokensBase+"/new", func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		defer st.mu.Unlock()
		var body map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		tok := map[string]any{"token": body["token"], "uses_allowed": body["uses_allowed"], "expiry_time": body["expiry_time"], "pending": 0, "completed": 0}
		st.tokens[body["token"].(string)] = tok
		wiretest.WriteJSON(w, http.StatusOK, tok)
	})
	srv.Fallback(func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		defer st.mu.Unlock()
		value, ok := strings.CutPrefix(r.URL.Path, wiretest.BasePath+tokensBase+"/")
		tok := st.tokens[value]
		switch {
		case !ok:
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
			return
		case tok == nil:
			wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_NOT_FOUND", "error": "No such registration token: " + value})
			return
		case r.Method != http.MethodGet && value == st.refuse:
			// Synapse's error quotes the token: the module must mask it.
			wiretest.WriteJSON(w, http.StatusBadRequest, map[string]any{"errcode": "M_INVALID_PARAM", "error": "bad request for " + value})
			return
		}
		switch r.Method {
		case http.MethodPut:
			var body map[string]any
			require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
			for k, v := range body {
				tok[k] = v
			}
			wiretest.WriteJSON(w, http.StatusOK, tok)
		case http.MethodDelete:
			delete(st.tokens, value)
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
		default:
			wiretest.WriteJSON(w, http.StatusOK, tok)
		}
	})
	return srv, st
}

func tokenArgs(srv *wiretest.Server, extra map[string]any) map[string]any {
	a := map[string]any{"_mxadmin_module": "matrix_registration_token", "homeserver_url": srv.URL(), "admin_token": "unit-admin-token", "retries": 0, "_ansible_diff": true}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func resultTokens(t *testing.T, res map[string]any) []map[string]any {
	t.Helper()
	list, ok := res["tokens"].([]any)
	require.True(t, ok, "%v", res)
	out := make([]map[string]any, len(list))
	for i, el := range list {
		out[i] = el.(map[string]any)
	}
	return out
}

func writesOf(srv *wiretest.Server) []string {
	var out []string
	for _, r := range srv.Writes() {
		if strings.Contains(r.Path, "registration_tokens") {
			out = append(out, r.String())
		}
	}
	return out
}

func TestRegistrationTokenModule(t *testing.T) {
	srv, st := fakeTokenSynapse(t,
		map[string]any{"token": "unit-keep-value-1", "uses_allowed": 1, "pending": 0, "completed": 1, "expiry_time": nil},
		map[string]any{"token": "unit-stray-value-2", "uses_allowed": nil, "pending": 0, "completed": 0, "expiry_time": 1798761599000},
	)
	decl := map[string]any{"tokens": []any{
		map[string]any{"token": "unit-keep-value-1", "uses_allowed": 3, "expiry_time": "2026-12-31T23:59:59Z"},
		map[string]any{"name": "unit-invite", "length": 10},
		map[string]any{"token": "unit-absent-value", "state": "absent"},
	}, "exclusive": true, "max_deletions_percent": 100}

	check := tokenArgs(srv, decl)
	check["_ansible_check_mode"] = true
	res := runModule(t, check)
	require.NotEqual(t, true, res["failed"], res)
	assert.Equal(t, true, res["changed"])
	assert.Empty(t, writesOf(srv), "check mode writes nothing")
	assert.Equal(t, "registration tokens: 1 would be created, 1 would be updated, 1 would be deleted, 1 absent", res["msg"])
	toks := resultTokens(t, res)
	assert.Nil(t, toks[1]["token"], "no value is made in check mode")

	srv.Reset()
	res = runModule(t, tokenArgs(srv, decl))
	require.NotEqual(t, true, res["failed"], res)
	assert.Len(t, writesOf(srv), 3)
	toks = resultTokens(t, res)
	require.Len(t, toks, 4)
	keep, invite, absent, stray := toks[0], toks[1], toks[2], toks[3]
	assert.Equal(t, "updated", keep["action"])
	assert.Equal(t, "********", keep["token"])
	assert.Equal(t, []any{"uses_allowed", "expiry_time"}, keep["changes"])
	assert.EqualValues(t, 1798761599000, keep["expiry_time"])
	assert.Equal(t, "2026-12-31T23:59:59Z", keep["expiry_time_iso"])
	assert.EqualValues(t, 1, keep["completed"])
	assert.Equal(t, "tokens[0]", keep["entry"])
	assert.Equal(t, "created", invite["action"])
	minted, _ := invite["token"].(string)
	assert.Regexp(t, `^unit-invite~[A-Za-z0-9]{10}$`, minted, "the value made is returned to the run that made it")
	assert.Equal(t, "tokens[1] (unit-invite)", invite["entry"])
	assert.Equal(t, "absent", absent["action"])
	assert.Equal(t, false, stray["declared"])
	assert.Equal(t, "deleted", stray["action"])
	assert.Equal(t, "********", stray["token"])
	out, _ := json.Marshal(res)
	for _, secret := range []string{"unit-keep-value-1", "unit-stray-value-2", "unit-absent-value"} {
		assert.NotContains(t, string(out), secret)
	}
	diffs := res["diff"].([]any)
	require.Len(t, diffs, 3)
	assert.Equal(t, map[string]any{"state": "present", "uses_allowed": "1", "expiry_time": "never"}, diffs[0].(map[string]any)["before"])
	assert.Equal(t, map[string]any{"state": "present", "uses_allowed": "3", "expiry_time": "1798761599000 (2026-12-31T23:59:59Z)"}, diffs[0].(map[string]any)["after"])
	assert.NotContains(t, string(mustJSON(t, diffs)), minted, "a diff never shows a value")

	// A rerun: the generated token is found by its name, its value masked.
	srv.Reset()
	res = runModule(t, tokenArgs(srv, decl))
	assert.Equal(t, false, res["changed"], res)
	assert.Empty(t, writesOf(srv))
	toks = resultTokens(t, res)
	assert.Equal(t, "********", toks[1]["token"])
	assert.Equal(t, "unit-invite", toks[1]["name"], "the name is public: not shredded by the mask of the value")
	assert.NotContains(t, string(mustJSON(t, res)), strings.TrimPrefix(minted, "unit-invite~"))

	// show_token is the e2e suite's: the masks of a run are the process's,
	// and these runs share one.

	// A refused write fails the run with Synapse's answer, masked, and the
	// result still lists every token.
	st.refuse = "unit-keep-value-1"
	res = runModule(t, tokenArgs(srv, map[string]any{"tokens": []any{map[string]any{"token": "unit-keep-value-1", "uses_allowed": 9}, map[string]any{"name": "unit-second", "length": 12}}}))
	assert.Equal(t, true, res["failed"])
	assert.Contains(t, res["msg"], "tokens[0]: cannot update the token: Synapse answered 400 M_INVALID_PARAM")
	assert.NotContains(t, res["msg"], "unit-keep-value-1")
	toks = resultTokens(t, res)
	assert.Equal(t, true, toks[0]["failed"])
	assert.EqualValues(t, 3, toks[0]["uses_allowed"], "as it was: nothing was applied")
	second, _ := toks[1]["token"].(string)
	assert.Regexp(t, `^unit-second~`, second, "a value made in a failed run is still returned")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

// Refused before any request, naming the option (or, in a role run, the
// role's variable).
func TestRegistrationTokenModuleRefusesBeforeAnyRequest(t *testing.T) {
	srv, _ := fakeTokenSynapse(t)
	for name, tc := range map[string]struct {
		args map[string]any
		msg  string
	}{
		"nothing":          {map[string]any{}, "one of these options is required: token, name, tokens"},
		"shared secret":    {map[string]any{"token": "abcdefgh", "admin_token": nil, "registration_shared_secret": "s", "service_account": ""}, "registration tokens need admin_token"},
		"top-level uses":   {map[string]any{"tokens": []any{}, "uses_allowed": 1}, "option uses_allowed is an option of each entry of tokens"},
		"exclusive single": {map[string]any{"token": "abcdefgh", "exclusive": true}, "option exclusive needs tokens"},
		"exclusive empty":  {map[string]any{"tokens": []any{map[string]any{"token": "abcdefgh", "state": "absent"}}, "exclusive": true}, "set allow_empty: true"},
		"bad expiry":       {map[string]any{"name": "n", "expiry_time": "tomorrow"}, "the token named n: option expiry_time: cannot read"},
		"negative":         {map[string]any{"token": "abcdefgh", "uses_allowed": -1}, "the token of option token: option uses_allowed must be 0 or more"},
		"short random":     {map[string]any{"name": "n", "length": 4}, "length"},
	} {
		t.Run(name, func(t *testing.T) {
			srv.Reset()
			res := runModule(t, tokenArgs(srv, tc.args))
			assert.Equal(t, true, res["failed"], res)
			assert.Contains(t, res["msg"], tc.msg)
			assert.Empty(t, srv.Requests())
		})
	}
	// In a role run, entries and options are the role's variables.
	srv.Reset()
	args := tokenArgs(srv, map[string]any{"tokens": []any{map[string]any{"token": "same-value-1"}, map[string]any{"token": "same-value-1"}}, "exclusive": true,
		"_mxadmin_role": map[string]any{"vars": map[string]any{"tokens": "matrix_users_registration_tokens", "exclusive": "matrix_users_registration_tokens_exclusive"}}})
	res := runModule(t, args)
	assert.Equal(t, "matrix_users_registration_tokens[1]: the same token as matrix_users_registration_tokens[0] (a token is declared once)", res["msg"])
}
