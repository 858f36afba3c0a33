package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// matrix_user_info against a Synapse of its own (the shared one gains
// accounts from parallel tests, which shift the list's pages and would make
// "the module's answer equals Synapse's list" a race): an admin, a user who
// logged in and used the token, one who never did, a second admin, a
// deactivated user, a bot with a rate-limit override, and an application
// service's account. These tests are module-level (runModule), so they run
// on the oldest Synapse stage too.

type infoServer struct {
	*fixture
	seen, never, admin2, gone, bot, puppet string
	// cutoff is a moment after every account was made and before the
	// login of seen.
	cutoff time.Time
}

func newInfoServer(t *testing.T) *infoServer {
	t.Helper()
	bridge := synapsetest.AppService{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}
	srv := synapsetest.New(t, synapsetest.Config{AppServices: []synapsetest.AppService{bridge}})
	s := &infoServer{fixture: fixtureOn(t, srv), seen: "seen", never: "never", admin2: "second-admin", gone: "gone", bot: "thebot", puppet: "bridge_puppet"}
	for _, u := range []struct {
		name  string
		admin bool
	}{{s.seen, false}, {s.never, false}, {s.admin2, true}, {s.gone, false}} {
		_, err := srv.Register(u.name, "pw-"+u.name+"-long", u.admin)
		require.NoError(t, err)
	}
	recordSecrets("pw-" + s.seen + "-long")
	// The bot is made as users make bots: with matrix_user (user_type and
	// ratelimit are fields of its table, wired for every release it
	// supports).
	runModule(t, "matrix_user", s.args(map[string]any{"user": s.bot, "user_type": "bot",
		"ratelimit": map[string]any{"messages_per_second": 0, "burst_count": 0}})).mustSucceed(t)
	runModule(t, "matrix_user", s.args(map[string]any{"user": s.gone, "state": "absent"})).mustSucceed(t)
	require.NoError(t, srv.RegisterAppserviceUser(srv.AppServices[0], s.puppet))
	// Last activity, made as users make it: a login, and a request with
	// its token. Synapse keeps client IPs in memory and writes them in
	// batches (every 5 s); whois shows the pending ones at once, the list
	// (1.93 and later) once written: wait until the list says it, where it
	// carries it (a few seconds measured on 1.163.2).
	s.cutoff = time.Now().UTC().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(s.cutoff) + 100*time.Millisecond)
	token, err := srv.Login(s.seen, "pw-"+s.seen+"-long")
	require.NoError(t, err)
	recordSecrets(token)
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, err := srv.Do(http.MethodGet, "/_matrix/client/v3/account/whoami", token, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		_, who, err := srv.Do(http.MethodGet, "/_synapse/admin/v1/whois/"+url.PathEscape(srv.UserID(s.seen)), s.token, nil)
		require.NoError(t, err)
		_, out, err := srv.Do(http.MethodGet, "/_synapse/admin/v2/users?user_id="+s.seen, s.token, nil)
		require.NoError(t, err)
		listed := out.(map[string]any)["users"].([]any)[0].(map[string]any)
		seen, inList := listed["last_seen_ts"]
		if strings.Contains(fmt.Sprint(who), "last_seen:") && (!inList || seen != nil) {
			break
		}
		require.True(t, time.Now().Before(deadline), "Synapse never recorded the login's activity")
		time.Sleep(500 * time.Millisecond)
	}
	return s
}

// synapseList is Synapse's own list, every account, by user ID, and each
// account's own record (GET), read straight from Synapse.
func (s *infoServer) synapseList(t *testing.T) (map[string]map[string]any, map[string]map[string]any) {
	t.Helper()
	_, out, err := s.srv.Do(http.MethodGet, "/_synapse/admin/v2/users?limit=1000&deactivated=true&locked=true&guests=true", s.token, nil)
	require.NoError(t, err)
	list := map[string]map[string]any{}
	records := map[string]map[string]any{}
	for _, u := range out.(map[string]any)["users"].([]any) {
		m := u.(map[string]any)
		id := m["name"].(string)
		list[id] = m
		_, rec, err := s.srv.Do(http.MethodGet, "/_synapse/admin/v2/users/"+url.PathEscape(id), s.token, nil)
		require.NoError(t, err)
		records[id] = rec.(map[string]any)
	}
	require.Equal(t, int(out.(map[string]any)["total"].(float64)), len(list), "one page holds the test server")
	return list, records
}

// info runs matrix_user_info and checks that it sent no write.
func (s *infoServer) info(t *testing.T, extra map[string]any) Run {
	t.Helper()
	s.proxy.Reset()
	r := runModule(t, "matrix_user_info", s.args(extra)).mustSucceed(t)
	assert.Empty(t, s.proxy.Writes(), "matrix_user_info sent a write")
	assert.False(t, r.changed())
	return r
}

func accountIDs(r Run) []string {
	var ids []string
	for _, a := range r.Result["accounts"].([]any) {
		ids = append(ids, a.(map[string]any)["user_id"].(string))
	}
	return ids
}

func flag(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case float64:
		return b != 0
	}
	return false
}

func sortedIDs(m map[string]map[string]any, keep func(id string, u map[string]any) bool) []string {
	var ids []string
	for id, u := range m {
		if keep(id, u) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func TestInfoMatchesSynapsesOwnList(t *testing.T) {
	t.Parallel()
	s := newInfoServer(t)
	list, records := s.synapseList(t)
	active := func(_ string, u map[string]any) bool { return !flag(u["deactivated"]) }

	r := s.info(t, nil)
	assert.Equal(t, sortedIDs(list, active), accountIDs(r), "every active account, as Synapse lists them")
	assert.Equal(t, float64(len(list)), r.Result["listed"])
	for _, a := range r.Result["accounts"].([]any) {
		got := a.(map[string]any)
		id := got["user_id"].(string)
		want := list[id]
		assert.Equal(t, flag(want["admin"]), got["admin"], id)
		assert.Equal(t, flag(want["deactivated"]), got["deactivated"], id)
		assert.Equal(t, want["displayname"], got["displayname"], id)
		assert.Equal(t, want["creation_ts"], got["creation_ts"], "%s: the list's milliseconds", id)
		assert.Equal(t, time.UnixMilli(int64(want["creation_ts"].(float64))).UTC().Format("2006-01-02T15:04:05Z"), got["created"], id)
		wantType := "regular"
		if t, ok := want["user_type"].(string); ok {
			wantType = t
		}
		assert.Equal(t, wantType, got["user_type"], id)
		if seen, ok := want["last_seen_ts"]; ok {
			assert.Equal(t, seen, got["last_seen_ts"], id)
		} else {
			assert.NotContains(t, got, "last_seen_ts", "%s: a Synapse whose list lacks it, and nothing asked for it", id)
		}
		assert.NotContains(t, got, "appservice_id", "not read without details or user_types")
	}
	counts := r.Result["counts"].(map[string]any)
	assert.Equal(t, float64(len(sortedIDs(list, active))), counts["total"])
	assert.Equal(t, float64(len(sortedIDs(list, func(_ string, u map[string]any) bool { return active("", u) && flag(u["admin"]) }))), counts["admins"])
	assert.Equal(t, []any{}, r.Result["missing"])

	t.Run("admins", func(t *testing.T) {
		r := s.info(t, map[string]any{"admins": true})
		assert.Equal(t, sortedIDs(list, func(_ string, u map[string]any) bool { return active("", u) && flag(u["admin"]) }), accountIDs(r))
		assert.Contains(t, accountIDs(r), s.srv.UserID(s.admin2))
		r = s.info(t, map[string]any{"admins": false})
		assert.NotContains(t, accountIDs(r), s.srv.UserID(s.admin2))
		assert.Contains(t, accountIDs(r), s.srv.UserID(s.seen))
	})
	t.Run("deactivated", func(t *testing.T) {
		r := s.info(t, map[string]any{"deactivated": true})
		assert.Equal(t, []string{s.srv.UserID(s.gone)}, accountIDs(r))
		assert.Equal(t, float64(1), r.Result["counts"].(map[string]any)["deactivated"])
	})
	t.Run("user types", func(t *testing.T) {
		isAS := func(id string, u map[string]any) bool {
			as, _ := records[id]["appservice_id"].(string)
			return active("", u) && as != ""
		}
		r := s.info(t, map[string]any{"user_types": []any{"appservice"}})
		assert.Equal(t, sortedIDs(list, isAS), accountIDs(r), "the accounts whose record names an application service")
		assert.Contains(t, accountIDs(r), s.srv.UserID(s.puppet))
		for _, a := range r.Result["accounts"].([]any) {
			assert.Equal(t, "bridge", a.(map[string]any)["appservice_id"])
		}
		r = s.info(t, map[string]any{"user_types": []any{"BOT"}})
		assert.Equal(t, []string{s.srv.UserID(s.bot)}, accountIDs(r))
		r = s.info(t, map[string]any{"user_types": []any{"regular"}})
		assert.NotContains(t, accountIDs(r), s.srv.UserID(s.puppet), "an appservice account is not regular here")
		assert.NotContains(t, accountIDs(r), s.srv.UserID(s.bot))
		assert.Contains(t, accountIDs(r), s.srv.UserID(s.seen))
		r = s.info(t, map[string]any{"user_types": []any{"bot", "appservice"}, "counts_only": true})
		byType := r.Result["counts"].(map[string]any)["by_user_type"].(map[string]any)
		assert.Equal(t, float64(1), byType["bot"])
		assert.Equal(t, float64(len(sortedIDs(list, isAS))), byType["appservice"])
		assert.NotContains(t, r.Result, "accounts", "counts_only")
	})
	t.Run("inactive", func(t *testing.T) {
		r := s.info(t, map[string]any{"inactive_for": s.cutoff.Format(time.RFC3339)})
		ids := accountIDs(r)
		assert.NotContains(t, ids, s.srv.UserID(s.seen), "logged in and used its token after the cutoff")
		assert.Contains(t, ids, s.srv.UserID(s.never), "never seen, made before the cutoff")
		assert.Contains(t, ids, s.srv.UserID(s.puppet), "never seen, made before the cutoff")
		assert.NotContains(t, ids, s.srv.UserID(s.gone), "deactivated, left out by default")
		// The admin's token is used all along, but Synapse moves a
		// session's last_seen at most every 2 minutes: it may be older
		// than the cutoff. Every account returned is older or never seen.
		for _, a := range r.Result["accounts"].([]any) {
			got := a.(map[string]any)
			if got["last_seen_ts"] != nil {
				assert.Less(t, int64(got["last_seen_ts"].(float64)), s.cutoff.UnixMilli(), got["user_id"])
			}
			assert.Equal(t, true, got["inactive"])
		}
		assert.Equal(t, float64(len(ids)), r.Result["counts"].(map[string]any)["inactive"])
		// A duration: accounts made a moment ago and not used yet are not
		// unused for an hour.
		r = s.info(t, map[string]any{"inactive_for": "1h"})
		assert.Empty(t, r.Result["accounts"])
		assert.Equal(t, float64(0), r.Result["counts"].(map[string]any)["inactive"])
		// With the users filter.
		r = s.info(t, map[string]any{"inactive_for": s.cutoff.Format(time.RFC3339), "users": []any{s.seen, s.never}})
		assert.Equal(t, []string{s.srv.UserID(s.never)}, accountIDs(r))
		// The one seen has its time, as Synapse's record says it.
		r = s.info(t, map[string]any{"users": []any{s.seen}, "details": true})
		got := r.Result["accounts"].([]any)[0].(map[string]any)
		require.NotNil(t, got["last_seen_ts"])
		seen := time.UnixMilli(int64(got["last_seen_ts"].(float64)))
		assert.WithinDuration(t, time.Now(), seen, 5*time.Minute)
		assert.Equal(t, seen.UTC().Format("2006-01-02T15:04:05Z"), got["last_seen"])
	})
	t.Run("details", func(t *testing.T) {
		r := s.info(t, map[string]any{"users": []any{s.bot, "@" + strings.ToUpper(s.seen) + ":test.local", "nobody"}, "details": true})
		assert.Equal(t, []string{s.srv.UserID(s.seen), s.srv.UserID(s.bot)}, accountIDs(r))
		assert.Equal(t, []any{"@nobody:test.local"}, r.Result["missing"])
		accounts := r.Result["accounts"].([]any)
		seen, bot := accounts[0].(map[string]any), accounts[1].(map[string]any)
		devices, err := s.srv.Devices(s.token, s.srv.UserID(s.seen))
		require.NoError(t, err)
		assert.Equal(t, float64(len(devices)), seen["devices"], "as Synapse lists them")
		assert.GreaterOrEqual(t, len(devices), 1, "the login's")
		assert.Nil(t, seen["ratelimit"])
		assert.Equal(t, map[string]any{"messages_per_second": float64(0), "burst_count": float64(0)}, bot["ratelimit"])
		assert.Nil(t, bot["appservice_id"])
		if _, ok := records[s.srv.UserID(s.bot)]["suspended"]; ok {
			assert.Equal(t, false, bot["suspended"])
		} else {
			assert.NotContains(t, bot, "suspended", "this Synapse has no suspension")
		}
	})
	t.Run("check mode and login", func(t *testing.T) {
		r := s.info(t, map[string]any{"_ansible_check_mode": true, "counts_only": true})
		assert.Equal(t, float64(len(sortedIDs(list, active))), r.Result["counts"].(map[string]any)["total"])
		// With a password, the module logs in and out: those two, and
		// nothing else, are its non-GET requests.
		s.proxy.Reset()
		runModule(t, "matrix_user_info", s.loginArgs(map[string]any{"counts_only": true})).mustSucceed(t)
		var writes []string
		for _, w := range s.proxy.Writes() {
			writes = append(writes, w.Method+" "+w.Path)
		}
		assert.Equal(t, []string{"POST /_matrix/client/v3/login", "POST /_matrix/client/v3/logout"}, writes)
	})
}

// TestInfoRefusesBadInputBeforeAnyRequest: every filter the module cannot
// use is refused naming the option and the rule, before any request.
func TestInfoRefusesBadInputBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		args map[string]any
		msg  string
	}{
		{map[string]any{"inactive_since": "90d"}, "inactive_since"},
		{map[string]any{"inactive_for": "three months"}, "option inactive_for: \"three months\" is neither a duration"},
		{map[string]any{"inactive_for": "2999-12-31"}, "option inactive_for: 2999-12-31 is in the future"},
		{map[string]any{"user_types": []any{}}, "option user_types is empty"},
		{map[string]any{"admins": "maybe"}, "admins"},
		{map[string]any{"users": []any{"bad name"}}, "option users[0]"},
	} {
		f.proxy.Reset()
		r := runModule(t, "matrix_user_info", f.args(tc.args))
		assert.True(t, r.failed(), "%v", tc.args)
		assert.Contains(t, r.msg(), tc.msg)
		assert.Empty(t, f.proxy.Requests(), "refused before any request: %v", tc.args)
	}
}
