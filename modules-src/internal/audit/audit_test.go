package audit

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func TestCutoff(t *testing.T) {
	for in, want := range map[string]time.Time{
		"90d":                       now.Add(-90 * 24 * time.Hour),
		"12w":                       now.Add(-12 * 7 * 24 * time.Hour),
		"36h":                       now.Add(-36 * time.Hour),
		" 7D ":                      now.Add(-7 * 24 * time.Hour),
		"2026-01-31":                time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC),
		"2026-01-31T12:00:00Z":      time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC),
		"2026-12-03T13:00:00+02:00": time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC),
	} {
		got, err := Cutoff(in, now)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%s: %s, want %s", in, got, want)
	}
	for in, msg := range map[string]string{
		"6m":                   "neither a duration",
		"3 months":             "neither a duration",
		"":                     "neither a duration",
		"-5d":                  "neither a duration",
		"1.5d":                 "neither a duration",
		"0h":                   "no time at all",
		"9999999w":             "more than a century",
		"2027-01-01":           "in the future",
		"2026-12-03T12:00:01Z": "in the future",
		"2026-02-30":           "neither a duration",
	} {
		_, err := Cutoff(in, now)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}

func ms(t time.Time) *int64 { v := t.UnixMilli(); return &v }

func str(s string) *string { return &s }

// fakeReader is a backend of accounts, counting the per-account reads.
type fakeReader struct {
	accounts []Account
	// appservice and lastSeen are what the per-account reads find.
	appservice map[string]string
	lastSeen   map[string]*int64
	mu         sync.Mutex
	reads      map[string]int
}

func (f *fakeReader) Each(_ context.Context, fn func(*Account) error) error {
	for i := range f.accounts {
		a := f.accounts[i]
		if err := fn(&a); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeReader) Complete(_ context.Context, accounts []*Account, need Need, _ int) error {
	for _, a := range accounts {
		f.mu.Lock()
		f.reads[a.ID]++
		f.mu.Unlock()
		if need.Record {
			id := f.appservice[a.ID]
			a.AppserviceID, a.Read = &id, true
		}
		if need.LastSeen && !a.LastSeenKnown {
			a.LastSeenMS, a.LastSeenKnown = f.lastSeen[a.ID], true
		}
		if need.Devices {
			n := 2
			a.Devices = &n
		}
	}
	return nil
}

func server() *fakeReader {
	old, recent := ms(now.Add(-200*24*time.Hour)), ms(now.Add(-time.Hour))
	return &fakeReader{
		accounts: []Account{
			{ID: "@admin:t", Admin: true, UserType: RegularType, LastSeenMS: recent, LastSeenKnown: true},
			{ID: "@alice:t", UserType: RegularType, LastSeenMS: old, LastSeenKnown: true, Displayname: str("Alice")},
			{ID: "@Legacy:t", UserType: RegularType, LastSeenKnown: true},
			{ID: "@bot:t", UserType: "bot", LastSeenMS: recent, LastSeenKnown: true},
			{ID: "@bridge_a:t", UserType: RegularType, LastSeenKnown: true},
			{ID: "@gone:t", Deactivated: true, UserType: RegularType, LastSeenMS: old, LastSeenKnown: true},
		},
		appservice: map[string]string{"@bridge_a:t": "bridge"},
		reads:      map[string]int{},
	}
}

func ids(ans *Answer) []string {
	var out []string
	for _, a := range ans.Accounts {
		out = append(out, a.ID)
	}
	return out
}

func TestAskFilters(t *testing.T) {
	no, yes := false, true
	cutoff := now.Add(-90 * 24 * time.Hour)
	for name, tc := range map[string]struct {
		f     Filter
		want  []string
		reads int
	}{
		"active by default":             {Filter{Deactivated: &no}, []string{"@Legacy:t", "@admin:t", "@alice:t", "@bot:t", "@bridge_a:t"}, 0},
		"deactivated":                   {Filter{Deactivated: &yes}, []string{"@gone:t"}, 0},
		"admins":                        {Filter{Admins: &yes, Deactivated: &no}, []string{"@admin:t"}, 0},
		"not admins":                    {Filter{Admins: &no, Deactivated: &yes}, []string{"@gone:t"}, 0},
		"users, any case":               {Filter{Users: map[string]bool{"@legacy:t": true, "@alice:t": true}}, []string{"@Legacy:t", "@alice:t"}, 0},
		"bots":                          {Filter{UserTypes: map[string]bool{"bot": true}, Deactivated: &no}, []string{"@bot:t"}, 1},
		"appservice":                    {Filter{UserTypes: map[string]bool{AppserviceType: true}, Deactivated: &no}, []string{"@bridge_a:t"}, 5},
		"regular leaves out appservice": {Filter{UserTypes: map[string]bool{RegularType: true}, Deactivated: &no}, []string{"@Legacy:t", "@admin:t", "@alice:t"}, 4},
		"inactive and never seen":       {Filter{InactiveBefore: cutoff, Deactivated: &no}, []string{"@Legacy:t", "@alice:t", "@bridge_a:t"}, 3},
	} {
		t.Run(name, func(t *testing.T) {
			r := server()
			ans, err := Ask(context.Background(), r, Query{Filter: tc.f, Concurrency: 2})
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(ans))
			assert.Equal(t, 6, ans.Listed)
			assert.Equal(t, len(tc.want), ans.Counts.Total)
			if tc.f.NeedsKind() {
				assert.Len(t, r.reads, tc.reads, "each account the list could not decide is read once")
			}
		})
	}
}

func TestAskMissingAndCounts(t *testing.T) {
	r := server()
	cutoff := now.Add(-90 * 24 * time.Hour)
	ans, err := Ask(context.Background(), r, Query{Filter: Filter{InactiveBefore: cutoff, Users: map[string]bool{"@alice:t": true, "@nobody:t": true, "@gone:t": true}}, Details: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"@nobody:t"}, ans.Missing, "an account left out by a filter is not missing")
	assert.Equal(t, []string{"@alice:t", "@gone:t"}, ids(ans))
	assert.Equal(t, 1, ans.Counts.Deactivated)
	assert.Equal(t, 2, *ans.Counts.Inactive)
	assert.Equal(t, 2, *ans.Accounts[0].Devices, "details for the kept accounts")

	c := Count([]*Account{
		{ID: "a", Admin: true, UserType: RegularType, LastSeenKnown: true},
		{ID: "b", UserType: "bot", LastSeenMS: ms(now), LastSeenKnown: true},
		{ID: "c", UserType: RegularType, AppserviceID: str("irc")},
	}, time.Time{})
	assert.Equal(t, map[string]int{RegularType: 1, "bot": 1, AppserviceType: 1}, c.ByUserType)
	assert.Equal(t, 1, c.NeverSeen)
	assert.Nil(t, c.Inactive, "no threshold, no inactive count")
}

// view is an account's view as JSON decodes it.
func view(t *testing.T, a *Account, cutoff time.Time) map[string]any {
	t.Helper()
	data, err := json.Marshal(View(a, cutoff))
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(data, &v))
	return v
}

func TestView(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &Account{ID: "@a:t", UserType: RegularType, CreatedMS: created.UnixMilli()}
	v := view(t, a, time.Time{})
	assert.Equal(t, "2026-01-02T03:04:05Z", v["created"])
	assert.Equal(t, float64(created.UnixMilli()), v["creation_ts"])
	assert.NotContains(t, v, "last_seen", "not said by the server: left out, not null")
	assert.NotContains(t, v, "appservice_id")
	assert.NotContains(t, v, "inactive")
	assert.Contains(t, v, "displayname")
	assert.Nil(t, v["displayname"])
	a.LastSeenKnown, a.Read = true, true
	v = view(t, a, created.Add(time.Second))
	assert.Equal(t, true, v["inactive"], "never seen, created before the cutoff")
	v = view(t, a, created)
	assert.Equal(t, false, v["inactive"], "never seen, but created since the cutoff: not unused for that long")
	v = view(t, a, now)
	assert.Contains(t, v, "last_seen")
	assert.Nil(t, v["last_seen"], "never seen")
	assert.Contains(t, v, "appservice_id")
	assert.Nil(t, v["appservice_id"])
	seen := now.Add(-time.Hour).UnixMilli()
	n := 3
	a.LastSeenMS, a.Devices, a.RatelimitSet = &seen, &n, true
	v = view(t, a, now)
	assert.Equal(t, float64(seen), v["last_seen_ts"])
	assert.Equal(t, "2026-12-03T11:00:00Z", v["last_seen"])
	assert.Equal(t, float64(3), v["devices"])
	assert.Contains(t, v, "ratelimit")
	assert.Nil(t, v["ratelimit"], "read, none set")
}

func timeMS(ms int64) time.Time { return time.UnixMilli(ms) }
