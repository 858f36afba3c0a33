package audit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/mas"
)

// fakeMAS is MAS's read side as MASReader sees it.
type fakeMAS struct {
	users    []mas.User
	sessions map[string][]mas.Session
	pages    int // pages of sessions handed over
}

func (f *fakeMAS) EachUser(_ context.Context, pageSize int, fn func([]mas.User) error) (int, error) {
	for i := 0; i < len(f.users); i += pageSize {
		if err := fn(f.users[i:min(i+pageSize, len(f.users))]); err != nil {
			return 0, err
		}
	}
	return len(f.users), nil
}

func (f *fakeMAS) EachSession(_ context.Context, kind string, pageSize int, fn func([]mas.Session) error) error {
	all := f.sessions[kind]
	for i := 0; i < len(all); i += pageSize {
		f.pages++
		if err := fn(all[i:min(i+pageSize, len(all))]); err != nil {
			return err
		}
	}
	return nil
}

func sp(s string) *string { return &s }

func TestMASReader(t *testing.T) {
	at := "2026-01-01T00:00:00Z"
	f := &fakeMAS{users: []mas.User{
		{ID: httpapi.Identifier("01A"), Username: "admin", Admin: true, CreatedAt: at},
		{ID: "01B", Username: "seen", CreatedAt: at},
		{ID: "01C", Username: "never", CreatedAt: at},
		{ID: "01D", Username: "gone", CreatedAt: at, DeactivatedAt: sp(at)},
		{ID: "01E", Username: "locked", CreatedAt: at, LockedAt: sp(at)},
		{ID: "01F", Username: "fresh", CreatedAt: "2026-06-30T00:00:00.5Z"},
	}, sessions: map[string][]mas.Session{
		// seen: logged in before the cutoff, active after it (OAuth 2.0).
		"compat-sessions": {{UserID: sp("01B"), CreatedAt: "2026-02-01T00:00:00Z"}, {UserID: nil, CreatedAt: "2026-07-01T00:00:00Z"}},
		"oauth2-sessions": {{UserID: sp("01B"), CreatedAt: "2026-02-01T00:00:00Z", LastActiveAt: sp("2026-06-15T00:00:00.123456Z")}},
		// locked: a browser session before the cutoff only.
		"user-sessions": {{UserID: sp("01E"), CreatedAt: "2026-03-01T00:00:00Z", LastActiveAt: sp("2026-03-02T00:00:00Z")}},
	}}
	r := MASReader{Client: f, ServerName: "example.org", PageSize: 1}
	cutoff := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ans, err := Ask(context.Background(), r, Query{Filter: Filter{InactiveBefore: cutoff}})
	require.NoError(t, err)
	var ids []string
	for _, a := range ans.Accounts {
		ids = append(ids, a.ID)
	}
	// admin and never: never seen, older than the cutoff; locked: seen
	// before it; gone: deactivated, but no filter on that here; fresh:
	// made after the cutoff, never seen: not inactive.
	assert.Equal(t, []string{"@admin:example.org", "@gone:example.org", "@locked:example.org", "@never:example.org"}, ids)
	assert.Equal(t, 6, ans.Listed)
	assert.Equal(t, 4, *ans.Counts.Inactive)
	assert.Empty(t, ans.Counts.ByUserType, "MAS holds no user type")

	ans, err = Ask(context.Background(), r, Query{Filter: Filter{}})
	require.NoError(t, err)
	require.Len(t, ans.Accounts, 6)
	f.pages = 0
	byID := map[string]*Account{}
	for _, a := range ans.Accounts {
		byID[a.ID] = a
	}
	assert.False(t, byID["@seen:example.org"].LastSeenKnown, "no session list read without inactive_for")
	v := View(byID["@admin:example.org"], time.Time{})
	assert.True(t, v.Admin)
	assert.Nil(t, v.UserType)
	assert.Nil(t, v.ShadowBanned)
	assert.Nil(t, v.Erased)
	assert.True(t, v.AppserviceID.Known)
	assert.Nil(t, v.AppserviceID.Value)
	assert.Equal(t, "2026-01-01T00:00:00Z", v.Created)
	assert.True(t, View(byID["@gone:example.org"], time.Time{}).Deactivated)
	assert.True(t, View(byID["@locked:example.org"], time.Time{}).Locked)

	seen := byID["@seen:example.org"]
	require.NoError(t, r.Complete(context.Background(), []*Account{seen}, Need{LastSeen: true}, 4))
	require.NotNil(t, seen.LastSeenMS)
	assert.Equal(t, time.Date(2026, 6, 15, 0, 0, 0, 123_000_000, time.UTC).UnixMilli(), *seen.LastSeenMS)
	assert.Equal(t, 4, f.pages, "every session read once, a page at a time")

	assert.ErrorIs(t, r.Complete(context.Background(), []*Account{seen}, Need{Devices: true}, 4), ErrNotInMAS)
}

func TestMASReaderRefusesBadTimes(t *testing.T) {
	r := MASReader{Client: &fakeMAS{users: []mas.User{{ID: "01A", Username: "a", CreatedAt: "yesterday"}}}, ServerName: "x", PageSize: 10}
	_, err := Ask(context.Background(), r, Query{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not RFC 3339")
	r = MASReader{Client: &fakeMAS{users: []mas.User{{ID: "01A", Username: "a"}},
		sessions: map[string][]mas.Session{"user-sessions": {{UserID: sp("01A"), CreatedAt: "soon"}}}}, ServerName: "x", PageSize: 10}
	_, err = Ask(context.Background(), r, Query{Filter: Filter{InactiveBefore: time.Now()}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not RFC 3339")
}
