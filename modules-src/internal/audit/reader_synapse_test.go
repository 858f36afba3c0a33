package audit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// fakeReads is Synapse's read side as SynapseReader sees it.
type fakeReads struct {
	users   []synapse.User           // as the list gives them
	records map[string]*synapse.User // as the one-user GET gives them
	seen    map[string]*int64
	fail    string // GetUser of this user fails
	mu      sync.Mutex
	calls   map[string]int
	running atomic.Int32
	peak    atomic.Int32
}

func (f *fakeReads) note(what string) func() {
	f.mu.Lock()
	f.calls[what]++
	f.mu.Unlock()
	n := f.running.Add(1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { f.running.Add(-1) }
}

func (f *fakeReads) EachUser(_ context.Context, pageSize int, start func(int), fn func([]synapse.User) error) error {
	if start != nil {
		start(len(f.users))
	}
	for i := 0; i < len(f.users); i += pageSize {
		if err := fn(f.users[i:min(i+pageSize, len(f.users))]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeReads) GetUser(_ context.Context, id string) (*synapse.User, error) {
	defer f.note("GetUser")()
	if id == f.fail {
		return nil, errors.New("boom")
	}
	return f.records[id], nil
}

func (f *fakeReads) LastSeen(_ context.Context, id string) (*int64, error) {
	defer f.note("LastSeen")()
	return f.seen[id], nil
}

func (f *fakeReads) Ratelimit(_ context.Context, id string) (*synapse.Ratelimit, error) {
	defer f.note("Ratelimit")()
	return &synapse.Ratelimit{}, nil
}

func (f *fakeReads) Devices(_ context.Context, id string) ([]synapse.Device, error) {
	defer f.note("Devices")()
	return []synapse.Device{{DeviceID: "A"}}, nil
}

func decoded(t *testing.T, js string) synapse.User {
	t.Helper()
	var u synapse.User
	require.NoError(t, u.UnmarshalJSON([]byte(js)))
	return u
}

func TestSynapseReaderOnAnOldSynapse(t *testing.T) {
	// As 1.90 answers: no last_seen_ts in the list nor the record, flags
	// as 0/1; the last activity comes from whois.
	seen := int64(1796295660605)
	f := &fakeReads{
		users: []synapse.User{
			decoded(t, `{"name": "@a:t", "admin": 1, "creation_ts": 1796295667000, "user_type": null}`),
			decoded(t, `{"name": "@b:t", "admin": 0, "creation_ts": 1796295600000, "user_type": "bot"}`),
			decoded(t, `{"name": "@c:t", "deactivated": 1}`),
		},
		records: map[string]*synapse.User{},
		seen:    map[string]*int64{"@a:t": &seen},
		calls:   map[string]int{},
	}
	for _, id := range []string{"@a:t", "@b:t", "@c:t"} {
		u := decoded(t, `{"name": "`+id+`", "appservice_id": null, "creation_ts": 1796295667}`)
		f.records[id] = &u
	}
	no := false
	ans, err := Ask(context.Background(), SynapseReader{Client: f, PageSize: 2}, Query{
		Filter: Filter{Deactivated: &no, InactiveBefore: timeMS(seen + 1)}, Concurrency: 4,
	})
	require.NoError(t, err)
	assert.Equal(t, 3, ans.Listed)
	assert.Equal(t, []string{"@a:t", "@b:t"}, ids(ans), "a seen before the cutoff, b never")
	assert.Equal(t, int64(1796295667000), ans.Accounts[0].CreatedMS, "the list's milliseconds, not the record's seconds")
	assert.Equal(t, seen, *ans.Accounts[0].LastSeenMS)
	assert.True(t, ans.Accounts[0].Admin)
	assert.Equal(t, "bot", ans.Accounts[1].UserType)
	assert.Equal(t, 2, f.calls["GetUser"], "the record of each candidate, where the list lacks last_seen_ts")
	assert.Equal(t, 2, f.calls["LastSeen"], "then whois, where the record lacks it too")
	assert.Zero(t, f.calls["Devices"])

	ans, err = Ask(context.Background(), SynapseReader{Client: f, PageSize: 2}, Query{Filter: Filter{Deactivated: &no}, Details: true, Concurrency: 1})
	require.NoError(t, err)
	assert.Equal(t, 1, *ans.Accounts[0].Devices)
	assert.True(t, ans.Accounts[0].RatelimitSet)
	assert.Equal(t, "", *ans.Accounts[0].AppserviceID)
	assert.Nil(t, ans.Accounts[0].Suspended, "no suspended key: this Synapse has none")
	assert.Equal(t, int32(1), f.peak.Load(), "concurrency 1")
}

func TestSynapseReaderStopsAtTheFirstFailure(t *testing.T) {
	f := &fakeReads{records: map[string]*synapse.User{}, calls: map[string]int{}, fail: "@u0005:t"}
	for i := 0; i < 200; i++ {
		id := "@u" + string(rune('0'+i/1000%10)) + string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10)) + ":t"
		f.users = append(f.users, decoded(t, `{"name": "`+id+`", "last_seen_ts": null}`))
		u := decoded(t, `{"name": "`+id+`", "appservice_id": "irc"}`)
		f.records[id] = &u
	}
	// One reader at a time, so that which reads had started when the
	// error came is known: the six up to the failing one, none after.
	// (With more readers the others may finish every read before the
	// failing one reports, which says nothing about the stop.)
	_, err := Ask(context.Background(), SynapseReader{Client: f, PageSize: 50}, Query{Filter: Filter{UserTypes: map[string]bool{AppserviceType: true}}, Concurrency: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reading @u0005:t: boom")
	assert.Equal(t, 6, f.calls["GetUser"], "the reads not yet started are not sent")

	// Four readers: never more than four reads at once.
	f.fail = ""
	_, err = Ask(context.Background(), SynapseReader{Client: f, PageSize: 50}, Query{Filter: Filter{UserTypes: map[string]bool{AppserviceType: true}}, Concurrency: 4})
	require.NoError(t, err)
	assert.LessOrEqual(t, f.peak.Load(), int32(4))

	// An account gone since the list was read: the list no longer holds.
	delete(f.records, "@u0007:t")
	_, err = Ask(context.Background(), SynapseReader{Client: f, PageSize: 50}, Query{Filter: Filter{UserTypes: map[string]bool{AppserviceType: true}}, Concurrency: 4})
	assert.ErrorIs(t, err, synapse.ErrUserListChanged)
}
