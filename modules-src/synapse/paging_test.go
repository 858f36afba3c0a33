package synapse

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pagingServer answers the user list with pages of size users, announcing
// total, and a next_token that never repeats while more is wanted.
func pagingServer(t *testing.T, total, pages int) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		users := make([]map[string]any, limit)
		for i := range users {
			users[i] = map[string]any{"name": fmt.Sprintf("@u%d:test", from+i)}
		}
		page := map[string]any{"users": users, "total": total}
		if pages < 0 || n < pages {
			page["next_token"] = strconv.Itoa(from + limit)
		}
		writeJSON(w, http.StatusOK, page)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// A server that always sends a new next_token is stopped at the total the
// first page announced plus slack, not read until memory runs out.
func TestListUsersEndlessPagesBounded(t *testing.T) {
	srv, calls := pagingServer(t, 50, -1)
	_, err := testClient(t, srv.URL, nil).ListUsers(context.Background(), 10)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the user list does not end")
	assert.Contains(t, err.Error(), "announced a total of 50")
	// 50 + max(50/10, 10 pages × 10) = 150 users: the 16th page passes it.
	assert.Equal(t, int32(16), calls.Load())
}

// Without a total the hard cap still ends it.
func TestListUsersWithoutTotalHasAHardCap(t *testing.T) {
	saved := maxListedUsers
	maxListedUsers = 1000
	t.Cleanup(func() { maxListedUsers = saved })
	srv, calls := pagingServer(t, 0, -1)
	_, err := testClient(t, srv.URL, nil).ListUsers(context.Background(), 100)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than 1000 users")
	assert.Equal(t, int32(11), calls.Load())
}

// Accounts registered while the list is read (more than the first total)
// are fine within the slack.
func TestListUsersGrowingWithinSlack(t *testing.T) {
	srv, _ := pagingServer(t, 50, 8)
	users, err := testClient(t, srv.URL, nil).ListUsers(context.Background(), 10)
	require.NoError(t, err)
	assert.Len(t, users, 80)
}
