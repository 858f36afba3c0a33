package synapse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listPage builds one page of the user list: the users from..from+n-1
// (named @u<i>:test), the total it announces, and whether a next_token
// follows.
type listPage func(from, limit, call int) (users []string, total any, next bool)

// listServer answers the user list with the pages page builds.
func listServer(t *testing.T, page listPage) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		names, total, next := page(from, limit, n)
		users := make([]map[string]any, len(names))
		for i, name := range names {
			users[i] = map[string]any{"name": name}
		}
		body := map[string]any{"users": users}
		if total != nil {
			body["total"] = total
		}
		if next {
			body["next_token"] = strconv.Itoa(from + len(names))
		}
		writeJSON(w, http.StatusOK, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// honest is a server of total accounts, paged as Synapse pages them.
func honest(total int) listPage {
	return func(from, limit, _ int) ([]string, any, bool) {
		var names []string
		for i := from; i < min(from+limit, total); i++ {
			names = append(names, fmt.Sprintf("@u%d:test", i))
		}
		return names, total, from+limit < total
	}
}

func TestListUsersPagesThatAddUp(t *testing.T) {
	srv, calls := listServer(t, honest(25))
	users, err := testClient(t, srv.URL, nil).ListUsers(context.Background(), 10)
	require.NoError(t, err)
	assert.Len(t, users, 25)
	assert.Equal(t, int32(3), calls.Load())
}

// Every way a list can fail to add up is refused: a user missing from it
// would be created, and one missing from exclusive mode's count would let
// the threshold pass.
func TestListUsersThatDoNotAddUpAreRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		page listPage
		want string
	}{
		"endless pages": {func(from, limit, _ int) ([]string, any, bool) {
			names, _, _ := honest(1<<20)(from, limit, 0)
			return names, 50, true
		}, "brings more than the 50 accounts it counts"},
		"short": {func(from, limit, _ int) ([]string, any, bool) {
			names, _, _ := honest(20)(from, limit, 0)
			return names, 25, from+limit < 20
		}, "ends after 20 of the 25 accounts it counts"},
		"empty page with a next_token": {func(from, limit, _ int) ([]string, any, bool) {
			if from >= 10 {
				return nil, 25, true
			}
			return honest(25)(from, limit, 0)
		}, "page 2 of the user list is empty but says more follow"},
		"the same user twice": {func(from, limit, _ int) ([]string, any, bool) {
			names, total, next := honest(25)(from, limit, 0)
			if from == 10 {
				names[3] = "@u2:test"
			}
			return names, total, next
		}, "holds @u2:test twice"},
		"no total": {func(from, limit, _ int) ([]string, any, bool) {
			names, _, next := honest(25)(from, limit, 0)
			return names, nil, next
		}, "page 1 of the user list has no total"},
		"a page longer than asked for": {func(from, limit, _ int) ([]string, any, bool) {
			names, _, _ := honest(25)(from, limit+1, 0)
			return names, 25, true
		}, "page 1 of the user list has 11 users; 10 were asked for"},
		"a user without a name": {func(from, limit, _ int) ([]string, any, bool) {
			names, total, next := honest(25)(from, limit, 0)
			names[0] = ""
			return names, total, next
		}, "a user without a name"},
	} {
		t.Run(name, func(t *testing.T) {
			srv, calls := listServer(t, tc.page)
			_, err := testClient(t, srv.URL, nil).ListUsers(context.Background(), 10)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotErrorIs(t, err, ErrUserListChanged)
			var re *ResponseError
			assert.True(t, errors.As(err, &re), "an answer Synapse does not send: %T", err)
			assert.LessOrEqual(t, calls.Load(), int32(6), "stopped as soon as it did not add up")
		})
	}
}

// Accounts registered while the pages are read shift Synapse's offsets: the
// run stops with a message that says to rerun, rather than act on a list
// that may miss or repeat users.
func TestListUsersChangedWhileReadSaysRerun(t *testing.T) {
	srv, _ := listServer(t, func(from, limit, call int) ([]string, any, bool) {
		total := 25
		if call > 1 {
			total = 26 // someone registered after page 1
		}
		return honest(total)(from, limit, 0)
	})
	_, err := testClient(t, srv.URL, nil).ListUsers(context.Background(), 10)
	require.ErrorIs(t, err, ErrUserListChanged)
	assert.Contains(t, err.Error(), "rerun")
	assert.Contains(t, err.Error(), "page 1 counted 25 accounts, page 2 counted 26")
}

// A total beyond what the module reads is refused on the first page, before
// any memory is reserved for it.
func TestListUsersHugeTotalRefused(t *testing.T) {
	saved := maxListedUsers
	maxListedUsers = 1000
	t.Cleanup(func() { maxListedUsers = saved })
	srv, calls := listServer(t, func(from, limit, _ int) ([]string, any, bool) {
		names, _, _ := honest(1<<20)(from, limit, 0)
		return names, 1 << 40, true
	})
	_, err := testClient(t, srv.URL, nil).ListUsers(context.Background(), 100)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than the 1000 this module reads")
	assert.Equal(t, int32(1), calls.Load())
}

// The pages after the first are read several at a time, by offset (Synapse's
// next_token is one), never more than listReaders at once, and the list is
// the same as read one page after the other.
func TestListUsersReadsPagesConcurrently(t *testing.T) {
	var inFlight, most atomic.Int32
	srv, calls := listServer(t, func(from, limit, call int) ([]string, any, bool) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		return honest(1000)(from, limit, 0)
	})
	users, err := testClient(t, srv.URL, func(c *Config) { c.MaxConns = 8 }).ListUsers(context.Background(), 50)
	require.NoError(t, err)
	require.Len(t, users, 1000)
	for i, u := range users {
		require.Equal(t, fmt.Sprintf("@u%d:test", i), u.Name, "in the server's order")
	}
	// 20 pages, and the empty page at offset 1000 that Synapse answers after
	// a full last page (read ahead here, though this server did not need it).
	assert.Equal(t, int32(21), calls.Load(), "each page once")
	assert.Greater(t, most.Load(), int32(1), "pages were read at the same time")
	assert.LessOrEqual(t, most.Load(), int32(listReaders))
}

// A server that announces far more accounts than it has costs a bounded
// number of requests, and its list is refused.
func TestListUsersLyingTotals(t *testing.T) {
	srv, calls := listServer(t, func(from, limit, _ int) ([]string, any, bool) {
		names, _, next := honest(25)(from, limit, 0)
		return names, 1_500_000, next
	})
	_, err := testClient(t, srv.URL, nil).ListUsers(context.Background(), 10)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the user list ends after 25 of the 1500000 accounts it counts")
	assert.LessOrEqual(t, calls.Load(), int32(1+listReaders), "read ahead is bounded, whatever the total says")
}

// A server whose tokens are offsets until they are not: what was read ahead
// is dropped and the server's token followed.
func TestListUsersTokenThatStopsBeingAnOffset(t *testing.T) {
	srv, _ := listServer(t, honest(40))
	users, err := testClient(t, srv.URL, nil).ListUsers(context.Background(), 10)
	require.NoError(t, err)
	assert.Len(t, users, 40)

	skip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		// Pages of 10, except that the second page's token skips ahead by 5
		// (users 15 to 19 are on a page of their own).
		names := []string{}
		end := min(from+10, 40)
		if from == 10 {
			end = 15
		}
		for i := from; i < end; i++ {
			names = append(names, fmt.Sprintf("@s%d:test", i))
		}
		body := map[string]any{"users": names, "total": 40}
		users := make([]map[string]any, len(names))
		for i, n := range names {
			users[i] = map[string]any{"name": n}
		}
		body["users"] = users
		if end < 40 {
			body["next_token"] = strconv.Itoa(end)
		}
		writeJSON(w, http.StatusOK, body)
	}))
	t.Cleanup(skip.Close)
	users, err = testClient(t, skip.URL, nil).ListUsers(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, users, 40)
	for i, u := range users {
		require.Equal(t, fmt.Sprintf("@s%d:test", i), u.Name)
	}
}

// Every key of a user answer that User decodes can be asked about with Has
// (the keys are a bit set over userKeys, which must know them all), and one
// the answer did not carry is not there.
func TestUserKeysKnowEveryField(t *testing.T) {
	typ := reflect.TypeOf(User{})
	for i := range typ.NumField() {
		tag := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		assert.NotZero(t, userKeyBit(tag), "userKeys lacks %q", tag)
	}
	assert.LessOrEqual(t, len(userKeys), 32, "the bits fit User.keys")
	var u User
	require.NoError(t, json.Unmarshal([]byte(`{"name":"@a:test","locked":null,"suspended":false}`), &u))
	assert.True(t, u.Has("locked"), "a null is carried")
	assert.True(t, u.LockedKnown)
	assert.True(t, u.Has("suspended"))
	assert.False(t, u.Has("shadow_banned"))
	assert.False(t, u.Has("no_such_key"))
}
