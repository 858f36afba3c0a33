package synapse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// withCost rewrites the cost of a bcrypt hash, as a server (or a proxy)
// can send any: the hash no longer matches, but its cost is what a compare
// would pay.
func withCost(hash []byte, cost int) string {
	parts := strings.SplitN(string(hash), "$", 4)
	parts[2] = fmt.Sprintf("%02d", cost)
	return strings.Join(parts, "$")
}

// The bcrypt cost comes from the server: $2b$18$ took 19 s per compare and
// ignored the timeout, cost 31 would run for days. Costs above
// MaxBcryptCost are refused at once, naming the cost.
func TestComparePasswordRefusesCostsAboveTheCeiling(t *testing.T) {
	low, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	require.NoError(t, err)
	for _, cost := range []int{16, 18, 31} {
		start := time.Now()
		same, err := ComparePassword(context.Background(), withCost(low, cost), "pw", "")
		var ce *CostError
		require.ErrorAs(t, err, &ce, "cost %d", cost)
		assert.False(t, same)
		assert.Equal(t, cost, ce.Cost)
		assert.Contains(t, err.Error(), fmt.Sprintf("has bcrypt cost %d, above the 15 this module compares", cost))
		assert.Less(t, time.Since(start), time.Second, "refused without comparing")
		assert.False(t, PasswordMatches(withCost(low, cost), "pw", ""))
	}
	assert.Contains(t, (&CostError{Cost: 31}).Error(), "29 hours")
	assert.Contains(t, (&CostError{Cost: 18}).Error(), "13 seconds")

	same, err := ComparePassword(context.Background(), string(low), "pw", "")
	require.NoError(t, err)
	assert.True(t, same, "a hash within the ceiling is compared")
	same, err = ComparePassword(context.Background(), "not a bcrypt hash", "pw", "")
	require.NoError(t, err)
	assert.False(t, same, "a hash that is not bcrypt does not match (the password is set, and Synapse hashes it anew)")
}

// A compare stops with the run: an ended context is not compared at all,
// and one that ends mid-compare returns at once with its cause.
func TestComparePasswordStopsWithTheContext(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), 13) // about 0.5 s a compare here
	require.NoError(t, err)

	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted by SIGTERM")
	cancel(cause)
	_, err = ComparePassword(ctx, string(hash), "pw", "")
	assert.ErrorIs(t, err, cause)

	ctx, cancel = context.WithCancelCause(context.Background())
	time.AfterFunc(20*time.Millisecond, func() { cancel(cause) })
	start := time.Now()
	_, err = ComparePassword(ctx, string(hash), "pw", "")
	assert.ErrorIs(t, err, cause)
	assert.Less(t, time.Since(start), 300*time.Millisecond, "the compare in flight is not waited for")

	deadline, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	_, err = ComparePassword(deadline, string(hash), "pw", "")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
