package reconcile

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/synapse"
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
	declared := []*Desired{
		want("alice", nil), want("legacy", nil),
		// Declared with the full ID.
		{Ref: "users[2]", Localpart: "other", Server: "test", State: StatePresent},
	}
	for name, check := range map[string]bool{"check mode": true, "applied": false} {
		t.Run(name, func(t *testing.T) {
			f := newFake(users...)
			r := adminRunner(f)
			r.CheckMode, r.Exclusive, r.Protect = check, true, []string{"bot-*"}
			outcomes, _, err := r.Run(context.Background(), declared)
			require.NoError(t, err)
			var deactivated []string
			for _, o := range outcomes {
				if o.Ref == UndeclaredRef {
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
			want:  "exclusive mode would deactivate 4 undeclared users (@s0:test, @s1:test, @s2:test, @s3:test), 66% of the 6 active local accounts: more than the safety threshold allows (max_deactivations 3, max_deactivations_percent 100%, so at most 3 in this run)",
		},
		"over max_deactivations_percent": {
			setup: func(r *Runner, _ *fakeClient) { r.MaxDeactivationsPercent = 25 },
			want:  "so at most 2 in this run",
		},
		"a candidate cannot be read": {
			setup: func(_ *Runner, f *fakeClient) {
				f.getErr = map[string]error{"@s2:test": synapseErr(http.StatusBadGateway, "")}
			},
			want: "cannot read @s2:test, an undeclared user exclusive mode would deactivate: Synapse answered 502",
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
