package reconcile

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Exclusive mode deactivates the active local users nobody declared, and
// never the admin itself, guests, protected users, application service
// users, or a declared user written in another case.
func TestExclusiveSelection(t *testing.T) {
	guest := account("@guest:test")
	guest.IsGuest = true
	gone := account("@gone:test")
	gone.Deactivated = true
	bridged := account("@irc_x:test")
	bridged.AppserviceID = ptr("irc")
	users := []*synapse.User{
		account(me), account("@alice:test"), account("@Legacy:test"), account("@bot-relay:test"),
		guest, gone, bridged, account("@stranger:test"), account("@other:test"),
	}
	declared := []*Desired{want("alice", nil), want("legacy", nil), // Declared with the full ID.
		{Entry: problem.Entry{List: true, Index: 2}, Localpart: "other", Server: "test", State: StatePresent}}
	for name, check := range map[string]bool{"check mode": true, "applied": false} {
		t.Run(name, func(t *testing.T) {
			f := newFake(users...)
			r := adminRunner(f)
			r.CheckMode, r.Exclusive, r.Protect = check, true, []string{"bot-*"}
			outcomes, _, err := r.Run(context.Background(), declared)
			require.NoError(t, err)
			var deactivated []string
			for _, o := range outcomes {
				if o.Undeclared {
					assert.Equal(t, ActionDeactivated, o.Action, o.UserID)
					assert.Equal(t, map[string]any{"deactivated": true}, o.After)
					deactivated = append(deactivated, o.UserID)
				}
			}
			assert.Equal(t, []string{"@stranger:test"}, deactivated)
			if check {
				assert.Empty(t, f.writes())
			} else {
				assert.Equal(t, []string{"DEACTIVATE @stranger:test"}, f.writes())
			}
		})
	}
}

func TestExclusiveRefusals(t *testing.T) {
	many := []*synapse.User{account(me), account("@alice:test")}
	for i := range 4 {
		many = append(many, account(fmt.Sprintf("@s%d:test", i)))
	}
	for name, tc := range map[string]struct {
		setup func(r *Runner, f *fakeClient)
		want  string
	}{
		"over max_deactivations": {
			setup: func(r *Runner, _ *fakeClient) { r.MaxDeactivations = 3 },
			want:  "exclusive mode would deactivate 4 undeclared users (@s0:test, @s1:test, @s2:test, @s3:test): 4 of the 5 accounts exclusive mode may deactivate (80%); 0 application-service accounts and 0 protected accounts are never touched. That is more than the safety threshold allows (max_deactivations 3, max_deactivations_percent 100%, so at most 3 in this run)",
		},
		"over max_deactivations_percent": {
			setup: func(r *Runner, _ *fakeClient) { r.MaxDeactivationsPercent = 25 },
			// 2 of alice and 2 more is 50%, past 25% of 3 (1): the first two
			// read decide.
			want: "would deactivate at least 2 undeclared users (@s0:test, @s1:test; 2 more undeclared accounts were not read: @s2:test, @s3:test, where application-service accounts would be kept",
		},
		"a protect pattern of another server": {
			setup: func(r *Runner, _ *fakeClient) { r.Protect = []string{"@s0:tset"} },
			want:  `option protect: "@s0:tset" can never match an account of this homeserver: its accounts are @localpart:test`,
		},
		"a candidate cannot be read": {
			setup: func(_ *Runner, f *fakeClient) {
				f.getErr = map[string]error{"@s2:test": synapseErr(http.StatusBadGateway, "")}
			},
			want: "cannot read @s2:test, an undeclared user exclusive mode would deactivate, so nothing was changed: Synapse answered 502",
		},
		"a bad protect pattern": {
			setup: func(r *Runner, _ *fakeClient) { r.Protect = []string{"["} },
			want:  "protect",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(many...)
			r := adminRunner(f)
			r.Exclusive = true
			tc.setup(r, f)
			_, _, err := r.Run(context.Background(), []*Desired{want("alice", nil)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, f.writes(), "a refusal comes before any write")
		})
	}
}

// The list cannot tell an application service's accounts (it has no
// appservice_id on any supported Synapse), so candidates are read, but only
// as many as the threshold decision needs: a refused run stops reading as
// soon as the count is past it.
func TestExclusiveReadsOnlyWhatTheThresholdNeeds(t *testing.T) {
	server := func(puppets string) []*synapse.User {
		users := []*synapse.User{account(me), account("@alice:test")}
		for i := range 20 {
			puppet := account(fmt.Sprintf(puppets, i))
			puppet.AppserviceID = ptr("irc")
			users = append(users, puppet)
		}
		for i := range 5 {
			users = append(users, account(fmt.Sprintf("@s%d:test", i)))
		}
		return users
	}
	for name, tc := range map[string]struct {
		puppets string
		protect []string
		max     int
		gets    int
		err     string
		deact   int
	}{
		// Puppets sort first: a round of four finds them, the rest of their
		// namespace is read last, and the next round finds four strangers.
		"refused, puppets first": {max: 3, gets: 8,
			err: "would deactivate at least 4 undeclared users (@s0:test, @s1:test, @s2:test, @s3:test; 17 more undeclared accounts were not read: @a-irc-04:test"},
		// A protected namespace costs no read at all.
		"refused, the bridge protected": {max: 3, protect: []string{"a-irc-*"}, gets: 4, err: "1 more undeclared accounts were not read"},
		// Every candidate read, all of them one way or another: exact count.
		"refused with every candidate read": {max: 4, protect: []string{"a-irc-*"}, gets: 5,
			err: "would deactivate 5 undeclared users (@s0:test, @s1:test, @s2:test, @s3:test, @s4:test): 5 of the 6 accounts exclusive mode may deactivate (83%); 0 application-service accounts and 20 protected accounts are never touched"},
		// Allowed: each candidate must be read to keep the puppets.
		"allowed": {max: 5, gets: 25, deact: 5},
		// Puppets without a shared namespace are read in name order.
		"refused, puppets without a namespace": {puppets: "@airc%02d:test", max: 3, gets: 24, err: "1 more undeclared accounts were not read: @s4:test"},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.puppets == "" {
				tc.puppets = "@a-irc-%02d:test"
			}
			f := newFake(server(tc.puppets)...)
			r := adminRunner(f)
			r.CheckMode, r.Exclusive, r.Protect, r.MaxDeactivations = true, true, tc.protect, tc.max
			outcomes, _, err := r.Run(context.Background(), []*Desired{want("alice", nil)})
			// The list, and the reads the decision needed; no GET of the
			// declared user (the list has it).
			assert.Equal(t, tc.gets, f.count("GET "), "reads")
			assert.Equal(t, 1, f.count("LIST"))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			n := 0
			for _, o := range outcomes {
				if o.Undeclared {
					n++
					assert.Regexp(t, `^@s\d:test$`, o.UserID, "never a puppet")
				}
			}
			assert.Equal(t, tc.deact, n)
		})
	}
}

// An entry whose account is not known (another server, a typo of this one,
// several accounts differing only in case) stops exclusive mode before any
// request that writes: the account it was meant to keep would otherwise be
// deactivated as undeclared in the same run.
func TestExclusiveStopsOnAnUnresolvedEntry(t *testing.T) {
	for name, tc := range map[string]struct {
		users []*synapse.User
		entry *Desired
		want  string
	}{
		"a typo of the server": {
			users: []*synapse.User{account("@bot:test")},
			entry: &Desired{Entry: problem.Entry{List: true, Index: 1, Name: "@bot:tset"}, Localpart: "bot", Server: "tset", State: StatePresent},
			want:  "exclusive mode stopped before any change: users[1] (@bot:tset): @bot:tset is on another server; this homeserver is test",
		},
		"several accounts in different case": {
			users: []*synapse.User{account("@Bot:test"), account("@BOT:test")},
			entry: want("bot", nil),
			want:  "exclusive mode stopped before any change: bot: @bot:test matches several accounts that differ only in case",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(append(tc.users, account(me), account("@alice:test"))...)
			r := adminRunner(f)
			r.Exclusive = true
			_, _, err := r.Run(context.Background(), []*Desired{want("alice", nil), tc.entry})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "cannot tell which account such an entry keeps")
			assert.Empty(t, f.writes())
		})
	}
	// Without exclusive mode, the entry fails alone and the others go on.
	f := newFake(account("@bot:test"), account(me), account("@alice:test"))
	outcomes, _, err := adminRunner(f).Run(context.Background(), []*Desired{want("alice", func(d *Desired) { d.set("admin", true) }), {Entry: problem.Entry{List: true, Index: 1, Name: "@bot:tset"}, Localpart: "bot", Server: "tset", State: StatePresent}})
	require.NoError(t, err)
	assert.Equal(t, ActionUpdated, outcomes[0].Action)
	assert.Equal(t, ActionFailed, outcomes[1].Action)
}

// The threshold is a share of the accounts exclusive mode could deactivate:
// a bridged server's puppets are counted out. The case: 24 people
// (the admin, 10 declared, 13 not) and 30 puppets. Counted over the 54
// active accounts, 13 was 24% and passed the default 25%; over the 23
// accounts exclusive mode may deactivate (the admin is never one) it is
// 56%, and refused: the reads stop as soon as the count is past it.
func TestExclusiveThresholdCountsPuppetsOut(t *testing.T) {
	users := []*synapse.User{account(me)}
	var declared []*Desired
	for i := range 10 {
		users = append(users, account(fmt.Sprintf("@staff%02d:test", i)))
		declared = append(declared, want(fmt.Sprintf("staff%02d", i), nil))
	}
	for i := range 13 {
		users = append(users, account(fmt.Sprintf("@left%02d:test", i)))
	}
	for i := range 30 {
		puppet := account(fmt.Sprintf("@bridge_%02d:test", i))
		puppet.AppserviceID = ptr("bridge")
		users = append(users, puppet)
	}
	f := newFake(users...)
	r := adminRunner(f)
	r.Exclusive, r.MaxDeactivations, r.MaxDeactivationsPercent = true, 100, 25
	_, _, err := r.Run(context.Background(), declared)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exclusive mode would deactivate at least 5 undeclared users (@left00:test, @left01:test, @left02:test, @left03:test, @left04:test; 33 more undeclared accounts were not read")
	assert.Contains(t, err.Error(), ": at least 5 of the at least 15 accounts exclusive mode may deactivate (33%); 5 application-service accounts found so far and 0 protected accounts are never touched")
	assert.Contains(t, err.Error(), "so at most 4 in this run")
	assert.Equal(t, 10, f.count("GET @"), "5 puppets read first (their names sort first), the rest of their namespace last")
	assert.Empty(t, f.writes())

	// The count limit: the 13 people are found, and 13 puppets on the way.
	r.MaxDeactivations, r.MaxDeactivationsPercent = 12, 100
	_, _, err = r.Run(context.Background(), declared)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "at least 13 of the at least 23 accounts exclusive mode may deactivate (56%); 13 application-service accounts found so far")
	assert.Empty(t, f.writes())

	// Raised to what the list means: the 13 go, no puppet is touched.
	r.MaxDeactivations, r.MaxDeactivationsPercent = 100, 60
	outcomes, _, err := r.Run(context.Background(), declared)
	require.NoError(t, err)
	n := 0
	for _, o := range outcomes {
		if o.Undeclared {
			n++
			assert.True(t, strings.HasPrefix(o.UserID, "@left"), o.UserID)
		}
	}
	assert.Equal(t, 13, n)
}
