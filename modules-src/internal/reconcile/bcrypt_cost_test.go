package reconcile

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

// A stored hash whose bcrypt cost is above the ceiling fails its user by
// name, naming the cost, with nothing sent; the others are compared.
func TestCheckPasswordsRefusesAHashOfTooHighACost(t *testing.T) {
	f := newFake(account(me), account("@alice:test"), account("@bob:test"))
	ok := hashOf(t, "pw")
	parts := strings.SplitN(ok, "$", 4)
	parts[2] = "18"
	f.hashes["@alice:test"] = strings.Join(parts, "$")
	f.hashes["@bob:test"] = ok
	always := func(d *Desired) { d.set("password", "pw"); d.UpdatePassword = PasswordAlways }
	start := time.Now()
	outcomes, _, err := adminRunner(f).Run(context.Background(), []*Desired{want("alice", always), want("bob", always)})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "cost 18 is not compared (about 20 s here)")
	require.Error(t, outcomes[0].Err)
	assert.Contains(t, outcomes[0].Err.Error(), "cannot compare the password of @alice:test (update_password: always), so nothing was sent for this user: the stored password hash has bcrypt cost 18, above the 15 this module compares")
	assert.Contains(t, outcomes[0].Err.Error(), "update_password: on_create")
	assert.False(t, outcomes[0].Wrote)
	assert.Equal(t, ActionUnchanged, outcomes[1].Action)
	assert.Empty(t, f.writes())
}

// The compares stop with the run: once the context ends (SIGTERM, Ctrl-C),
// the compare in flight is abandoned and no further hash is compared; the
// remaining users fail with the cause, and nothing is sent.
func TestCheckPasswordsStopBetweenCompares(t *testing.T) {
	f := newFake(account(me))
	var desired []*Desired
	stored, err := bcrypt.GenerateFromPassword([]byte("pw"), 11) // about 0.1 s a compare
	require.NoError(t, err)
	for i := range 40 {
		id := fmt.Sprintf("@u%d:test", i)
		f.users[id] = account(id)
		f.hashes[id] = string(stored)
		desired = append(desired, want(fmt.Sprintf("u%d", i), func(d *Desired) { d.set("password", "pw"); d.UpdatePassword = PasswordAlways }))
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(250*time.Millisecond, func() { cancel(errors.New("interrupted by SIGTERM")) })
	outcomes, _, err := adminRunner(f).Run(ctx, desired)
	require.NoError(t, err)
	stopped := 0
	for _, o := range outcomes {
		if o.Err != nil {
			assert.Contains(t, o.Err.Error(), "the password was not compared: interrupted by SIGTERM")
			stopped++
		} else {
			assert.Equal(t, ActionUnchanged, o.Action)
		}
	}
	// 40 compares take about 2 s on 2 cores; the run stopped at 0.25 s.
	assert.Greater(t, stopped, 20, "the compares stopped with the run")
	assert.Empty(t, f.writes())
}
