package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// masRegistrationToken reads the token of that value straight from MAS's
// admin API (listing: MAS has no lookup by value); nil when MAS has none.
func masRegistrationToken(t *testing.T, m *synapsetest.MAS, value string) map[string]any {
	t.Helper()
	status, out, err := m.Admin(http.MethodGet, "/user-registration-tokens?page[first]=1000", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, out)
	data, _ := out["data"].([]any)
	for _, el := range data {
		tok := el.(map[string]any)
		if attr(tok, "token") == value {
			return tok
		}
	}
	return nil
}

// matrix_registration_token on a homeserver that delegates to MAS, end to
// end against the real pair: MAS's own tokens are declared, rerun without
// a write, updated, revoked for state: absent (and a rerun sees them
// revoked and changes nothing), unrevoked when declared again, generated,
// and check mode writes nothing, also through the role (which passes the
// MAS variables to its tokens task); no value is printed (runModule's scan,
// and the generated value after the run that made it).
func TestWithMASRegistrationToken(t *testing.T) {
	t.Parallel()
	m := synapsetest.StartMAS(t, synapsetest.MASConfig{})
	t.Logf("pair started in %s", m.Started.Round(time.Millisecond))
	value := uniqueToken("mas")
	name := fmt.Sprintf("masgen-%d", userCounter.Add(1))
	expiry := time.Now().Add(40*24*time.Hour).Truncate(time.Second).UnixMilli() + 123
	var minted string
	decl := func(entry map[string]any, extra map[string]any) map[string]any {
		return masArgs(m, merge(map[string]any{"tokens": []any{entry, map[string]any{"name": name}}}, extra))
	}
	first := map[string]any{"token": value, "uses_allowed": 5, "expiry_time": expiry}
	noValues := func(t *testing.T, r Run) {
		t.Helper()
		noTokens(t, r)
		if minted != "" {
			assert.NotContains(t, r.Stdout+r.Stderr, strings.TrimPrefix(minted, name+"~"), "the generated value after the run that made it")
		}
	}

	t.Run("check mode creates nothing", func(t *testing.T) {
		m.ResetCounts()
		r := runModule(t, "matrix_registration_token", decl(first, map[string]any{"_ansible_check_mode": true})).mustSucceed(t)
		noValues(t, r)
		assert.True(t, r.changed())
		assert.Empty(t, m.Writes(), "check mode writes nothing")
		assert.Nil(t, masRegistrationToken(t, m, value))
		assert.Equal(t, "created", r.tokens()[0]["action"], r.Stdout)
	})

	t.Run("create", func(t *testing.T) {
		m.ResetCounts()
		r := runModule(t, "matrix_registration_token", decl(first, nil)).mustSucceed(t)
		noValues(t, r)
		assert.True(t, r.changed())
		toks := r.tokens()
		require.Len(t, toks, 2, r.Stdout)
		assert.Equal(t, "created", toks[0]["action"])
		assert.Equal(t, "********", toks[0]["token"], "a declared value is a secret")
		assert.Equal(t, "created", toks[1]["action"])
		minted, _ = toks[1]["token"].(string)
		require.True(t, strings.HasPrefix(minted, name+"~"), "the generated value is returned once: %q", minted)
		// Not recorded for the suite's scan: this run returns it, once.
		assert.NotContains(t, fmt.Sprint(r.Result["diff"]), minted, "the diff never shows a value")
		got := masRegistrationToken(t, m, value)
		require.NotNil(t, got)
		assert.EqualValues(t, 5, attr(got, "usage_limit"))
		at, err := time.Parse(time.RFC3339Nano, attr(got, "expires_at").(string))
		require.NoError(t, err)
		assert.Equal(t, expiry, at.UnixMilli(), "the expiry to the millisecond")
		assert.NotNil(t, masRegistrationToken(t, m, minted))
		for _, w := range m.SynapseProxy.Writes() {
			t.Errorf("a write sent to Synapse: %s %s", w.Method, w.Path)
		}
	})

	t.Run("rerun writes nothing", func(t *testing.T) {
		for _, check := range []bool{false, true} {
			m.ResetCounts()
			r := runModule(t, "matrix_registration_token", decl(first, map[string]any{"_ansible_check_mode": check})).mustSucceed(t)
			noValues(t, r)
			assert.False(t, r.changed(), r.Stdout)
			assert.Empty(t, m.Writes())
			assert.Equal(t, "unchanged", r.tokens()[1]["action"])
			assert.Equal(t, "********", r.tokens()[1]["token"], "a generated value is shown only by the run that made it")
		}
	})

	t.Run("update", func(t *testing.T) {
		changed := map[string]any{"token": value, "uses_allowed": 10, "expiry_time": nil}
		m.ResetCounts()
		r := runModule(t, "matrix_registration_token", decl(changed, map[string]any{"_ansible_check_mode": true})).mustSucceed(t)
		assert.True(t, r.changed())
		assert.Empty(t, m.Writes())
		r = runModule(t, "matrix_registration_token", decl(changed, nil)).mustSucceed(t)
		noValues(t, r)
		assert.True(t, r.changed())
		assert.Equal(t, "updated", r.tokens()[0]["action"])
		assert.Equal(t, []any{"uses_allowed", "expiry_time"}, r.tokens()[0]["changes"])
		got := masRegistrationToken(t, m, value)
		assert.EqualValues(t, 10, attr(got, "usage_limit"))
		assert.Nil(t, attr(got, "expires_at"))
		m.ResetCounts()
		r = runModule(t, "matrix_registration_token", decl(changed, nil)).mustSucceed(t)
		assert.False(t, r.changed(), r.Stdout)
		assert.Empty(t, m.Writes())
	})

	t.Run("absent revokes", func(t *testing.T) {
		gone := map[string]any{"token": value, "state": "absent"}
		m.ResetCounts()
		r := runModule(t, "matrix_registration_token", decl(gone, map[string]any{"_ansible_check_mode": true})).mustSucceed(t)
		assert.True(t, r.changed())
		assert.Empty(t, m.Writes())
		assert.Nil(t, attr(masRegistrationToken(t, m, value), "revoked_at"))
		r = runModule(t, "matrix_registration_token", decl(gone, nil)).mustSucceed(t)
		noValues(t, r)
		assert.True(t, r.changed())
		assert.Equal(t, "deleted", r.tokens()[0]["action"])
		got := masRegistrationToken(t, m, value)
		require.NotNil(t, got, "MAS keeps a revoked token")
		assert.NotNil(t, attr(got, "revoked_at"))
		for _, w := range m.Writes() {
			assert.NotEqual(t, http.MethodDelete, w.Method, "MAS revokes; it deletes no token")
		}
		m.ResetCounts()
		r = runModule(t, "matrix_registration_token", decl(gone, nil)).mustSucceed(t)
		assert.False(t, r.changed(), r.Stdout)
		assert.Equal(t, "absent", r.tokens()[0]["action"])
		assert.Empty(t, m.Writes())
	})

	t.Run("declared again unrevokes", func(t *testing.T) {
		again := map[string]any{"token": value, "uses_allowed": 3}
		m.ResetCounts()
		r := runModule(t, "matrix_registration_token", decl(again, map[string]any{"_ansible_check_mode": true})).mustSucceed(t)
		assert.True(t, r.changed())
		assert.Empty(t, m.Writes())
		r = runModule(t, "matrix_registration_token", decl(again, nil)).mustSucceed(t)
		noValues(t, r)
		assert.True(t, r.changed())
		assert.Equal(t, "created", r.tokens()[0]["action"])
		got := masRegistrationToken(t, m, value)
		assert.Nil(t, attr(got, "revoked_at"))
		assert.EqualValues(t, 3, attr(got, "usage_limit"))
		m.ResetCounts()
		r = runModule(t, "matrix_registration_token", decl(again, nil)).mustSucceed(t)
		assert.False(t, r.changed(), r.Stdout)
		assert.Empty(t, m.Writes())
	})

	t.Run("refused before any request", func(t *testing.T) {
		// MAS would take these (a zero limit, an expiry in the past); the
		// module keeps Synapse's rules on both backends.
		past := time.Now().Add(-time.Hour).UnixMilli()
		for want, entry := range map[string]map[string]any{
			"uses_allowed": {"token": uniqueToken("zero"), "uses_allowed": 0},
			"in the past":  {"token": uniqueToken("past"), "expiry_time": past},
		} {
			m.ResetCounts()
			r := runModule(t, "matrix_registration_token", masArgs(m, map[string]any{"tokens": []any{entry}}))
			require.True(t, r.failed(), r.Stdout)
			assert.Contains(t, r.msg(), want)
			noValues(t, r)
			assert.Empty(t, m.Writes(), r.msg())
			for _, req := range m.MASProxy.Requests() {
				assert.NotContains(t, req.Path, "user-registration-tokens/", "nothing addressed a token: %s", r.msg())
			}
		}
	})

	t.Run("exclusive revokes the undeclared", func(t *testing.T) {
		args := masArgs(m, map[string]any{"tokens": []any{map[string]any{"name": name}}, "exclusive": true})
		m.ResetCounts()
		r := runModule(t, "matrix_registration_token", merge(args, map[string]any{"_ansible_check_mode": true})).mustSucceed(t)
		assert.True(t, r.changed())
		assert.Empty(t, m.Writes())
		r = runModule(t, "matrix_registration_token", args).mustSucceed(t)
		noValues(t, r)
		assert.True(t, r.changed())
		assert.NotNil(t, attr(masRegistrationToken(t, m, value), "revoked_at"))
		assert.Nil(t, attr(masRegistrationToken(t, m, minted), "revoked_at"))
		m.ResetCounts()
		r = runModule(t, "matrix_registration_token", args).mustSucceed(t)
		assert.False(t, r.changed(), r.Stdout)
		assert.Empty(t, m.Writes())
	})

	t.Run("through the role", func(t *testing.T) {
		roleValue := uniqueToken("masrole")
		vars := map[string]any{
			"matrix_users_homeserver_url":      m.SynapseProxy.URL,
			"matrix_users_mas_url":             m.MASProxy.URL,
			"matrix_users_mas_client_id":       m.AdminClientID,
			"matrix_users_mas_client_secret":   m.AdminClientSecret,
			"matrix_users_retries":             0,
			"matrix_users_list":                []any{},
			"matrix_users_registration_tokens": []any{map[string]any{"token": roleValue, "uses_allowed": 2}},
		}
		recordSecrets(roleValue, m.AdminClientSecret)
		role := func() Playbook {
			m.ResetCounts()
			return ansiblePlaybook(t, "-i", "inventory/hosts.yml", "matrix_users_role.yml", "-e", extraVars(t, vars))
		}
		pb := role()
		require.Equal(t, 0, pb.Exit, pb.Output)
		assert.Contains(t, pb.Output, "registration tokens: 1 created")
		assert.EqualValues(t, 2, attr(masRegistrationToken(t, m, roleValue), "usage_limit"))
		pb = role()
		require.Equal(t, 0, pb.Exit, pb.Output)
		assert.Equal(t, 0, changedOf(t, pb), pb.Output)
		assert.Empty(t, m.Writes())
	})
}
