package e2e

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// matrix_user_info on a homeserver that delegates to MAS, against the real
// pair (issue 26): the module's answer compared with MAS's own user list,
// the admins, deactivated and inactive_for filters (activity made by real
// logins through MAS's compatibility login), zero writes to either server
// in every run (both proxies), the filters MAS cannot answer refused before
// any request, and no secret in any output. The test owns its pair.
func TestWithMASInfo(t *testing.T) {
	t.Parallel()
	m := synapsetest.StartMAS(t, synapsetest.MASConfig{})
	t.Logf("pair started in %s", m.Started.Round(time.Millisecond))
	admin, seen, never, gone, locked := uniqueUser("masiadmin"), uniqueUser("masiseen"), uniqueUser("masinever"), uniqueUser("masigone"), uniqueUser("masilocked")
	ids := map[string]string{}
	adminCall := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		status, out, err := m.Admin(method, path, body)
		require.NoError(t, err)
		require.Equal(t, want, status, "%s %s: %v", method, path, out)
		return out
	}
	for _, u := range []string{admin, seen, never, gone, locked} {
		out := adminCall(http.MethodPost, "/users", map[string]any{"username": u}, http.StatusCreated)
		ids[u] = out["data"].(map[string]any)["id"].(string)
	}
	adminCall(http.MethodPost, "/users/"+ids[admin]+"/set-admin", map[string]any{"admin": true}, http.StatusOK)
	adminCall(http.MethodPost, "/users/"+ids[seen]+"/set-password", map[string]any{"password": masPassword}, http.StatusNoContent)
	adminCall(http.MethodPost, "/users/"+ids[gone]+"/deactivate", map[string]any{"skip_erase": true}, http.StatusOK)
	adminCall(http.MethodPost, "/users/"+ids[locked]+"/lock", nil, http.StatusOK)
	recordSecrets(masPassword, m.AdminClientSecret)

	// cutoff is after every account was made and before seen's login;
	// cutoff2 after that login.
	cutoff := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(cutoff) + 100*time.Millisecond)
	status, token, _, err := m.CompatLogin(seen, masPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	recordSecrets(token)
	require.NoError(t, m.CompatLogout(token))
	cutoff2 := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(cutoff2) + 100*time.Millisecond)

	// MAS's own list, read by the harness directly (not counted).
	out := adminCall(http.MethodGet, "/users?page[first]=1000&count=true", nil, http.StatusOK)
	masList := map[string]map[string]any{}
	for _, d := range out["data"].([]any) {
		attrs := d.(map[string]any)["attributes"].(map[string]any)
		masList[m.UserID(attrs["username"].(string))] = attrs
	}
	require.Equal(t, int(out["meta"].(map[string]any)["count"].(float64)), len(masList), "one page holds the pair's users")
	keep := func(f func(u map[string]any) bool) []string {
		var out []string
		for id, u := range masList {
			if f(u) {
				out = append(out, id)
			}
		}
		sort.Strings(out)
		return out
	}
	active := func(u map[string]any) bool { return u["deactivated_at"] == nil }

	info := func(t *testing.T, extra map[string]any) Run {
		t.Helper()
		m.ResetCounts()
		r := runModule(t, "matrix_user_info", masArgs(m, extra)).mustSucceed(t)
		assert.Empty(t, m.Writes(), "matrix_user_info sent a write")
		assert.NotEmpty(t, m.MASProxy.Requests(), "the answer came from MAS")
		assert.False(t, r.changed())
		noTokens(t, r)
		assert.NotContains(t, r.Stdout, m.AdminClientSecret)
		assert.NotContains(t, r.Stdout, masPassword)
		return r
	}
	accounts := func(r Run) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, a := range r.Result["accounts"].([]any) {
			out[a.(map[string]any)["user_id"].(string)] = a.(map[string]any)
		}
		return out
	}

	t.Run("the module's answer is MAS's list", func(t *testing.T) {
		r := info(t, nil)
		assert.Equal(t, float64(len(masList)), r.Result["listed"])
		assert.Equal(t, keep(active), accountIDs(r), "deactivated defaults to false")
		got := accounts(r)
		for id, a := range got {
			u := masList[id]
			assert.Equal(t, u["admin"], a["admin"], id)
			assert.Equal(t, u["locked_at"] != nil, a["locked"], id)
			assert.Equal(t, false, a["deactivated"], id)
			created, err := time.Parse(time.RFC3339Nano, u["created_at"].(string))
			require.NoError(t, err)
			assert.Equal(t, float64(created.UnixMilli()), a["creation_ts"], id)
			assert.Equal(t, created.UTC().Format("2006-01-02T15:04:05Z"), a["created"], id)
			// What MAS does not hold is null, not false.
			for _, key := range []string{"user_type", "shadow_banned", "erased", "appservice_id", "displayname"} {
				v, ok := a[key]
				assert.True(t, ok && v == nil, "%s: %s is %v, not null", id, key, v)
			}
			_, ok := a["last_seen_ts"]
			assert.False(t, ok, "no session list is read without inactive_for")
		}
		assert.Equal(t, true, got[m.UserID(admin)]["admin"])
		assert.Equal(t, true, got[m.UserID(locked)]["locked"])
		counts := r.Result["counts"].(map[string]any)
		assert.Equal(t, float64(len(got)), counts["total"])
		assert.Empty(t, counts["by_user_type"], "MAS holds no user type")
		assert.Equal(t, float64(len(keep(func(u map[string]any) bool { return active(u) && u["admin"] == true }))), counts["admins"])
	})

	t.Run("admins", func(t *testing.T) {
		r := info(t, map[string]any{"admins": true})
		want := keep(func(u map[string]any) bool { return active(u) && u["admin"] == true })
		assert.Equal(t, want, accountIDs(r))
		assert.Contains(t, want, m.UserID(admin))
		r = info(t, map[string]any{"admins": false})
		assert.NotContains(t, accountIDs(r), m.UserID(admin))
		assert.Contains(t, accountIDs(r), m.UserID(never))
	})

	t.Run("deactivated", func(t *testing.T) {
		r := info(t, map[string]any{"deactivated": true})
		assert.Equal(t, keep(func(u map[string]any) bool { return !active(u) }), accountIDs(r))
		assert.Equal(t, []string{m.UserID(gone)}, accountIDs(r))
		assert.Equal(t, true, accounts(r)[m.UserID(gone)]["deactivated"])
	})

	t.Run("users", func(t *testing.T) {
		r := info(t, map[string]any{"users": []any{admin, "@nobody-here:" + m.ServerName}})
		assert.Equal(t, []string{m.UserID(admin)}, accountIDs(r))
		assert.Equal(t, []any{"@nobody-here:" + m.ServerName}, r.Result["missing"])
	})

	t.Run("inactive_for", func(t *testing.T) {
		// Before seen's login: every active account made before the
		// cutoff and never seen, not seen.
		r := info(t, map[string]any{"inactive_for": cutoff.Format(time.RFC3339)})
		want := keep(func(u map[string]any) bool {
			created, _ := time.Parse(time.RFC3339Nano, u["created_at"].(string))
			return active(u) && created.Before(cutoff)
		})
		want = without(want, m.UserID(seen))
		assert.Equal(t, want, accountIDs(r))
		assert.Contains(t, want, m.UserID(never))
		a := accounts(r)[m.UserID(never)]
		v, ok := a["last_seen_ts"]
		assert.True(t, ok && v == nil, "never seen: last_seen_ts null, not left out")
		assert.Equal(t, true, a["inactive"])
		assert.Equal(t, float64(len(want)), r.Result["counts"].(map[string]any)["inactive"])

		// After the login: seen is inactive too, last seen between the
		// two cutoffs.
		r = info(t, map[string]any{"inactive_for": cutoff2.Format(time.RFC3339), "users": []any{seen, never}})
		assert.Equal(t, []string{m.UserID(never), m.UserID(seen)}, sortedStrings(accountIDs(r)))
		s := accounts(r)[m.UserID(seen)]
		last, _ := s["last_seen_ts"].(float64)
		assert.GreaterOrEqual(t, int64(last), cutoff.UnixMilli(), "%v", s)
		assert.Less(t, int64(last), cutoff2.UnixMilli(), "%v", s)
		iso, _ := s["last_seen"].(string)
		_, err := time.Parse(time.RFC3339, iso)
		assert.NoError(t, err, "last_seen is ISO 8601")

		// A cutoff before any account was made: no one (never seen, but
		// made after it).
		r = info(t, map[string]any{"inactive_for": "2020-01-01"})
		assert.Empty(t, r.Result["accounts"])
	})

	t.Run("refused before any request", func(t *testing.T) {
		for _, tc := range []struct {
			extra map[string]any
			msg   string
		}{
			{map[string]any{"user_types": []any{"bot"}}, "option user_types cannot be used on a homeserver that delegates authentication to MAS"},
			{map[string]any{"details": true}, "option details cannot be true on a homeserver that delegates authentication to MAS"},
		} {
			m.ResetCounts()
			r := runModule(t, "matrix_user_info", masArgs(m, tc.extra))
			assert.True(t, r.failed())
			assert.Contains(t, r.msg(), tc.msg)
			assert.Empty(t, m.MASProxy.Requests(), "refused before any request")
			assert.Empty(t, m.SynapseProxy.Requests(), "refused before any request")
			assert.NotContains(t, r.Stdout, m.AdminClientSecret)
		}
	})
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func sortedStrings(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}
