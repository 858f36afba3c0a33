package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mxadmin/synapse/modules-src/synapse"
)

// UndeclaredRef is the Ref of a user that exclusive mode deactivates.
const UndeclaredRef = "(not declared)"

// localpartOf is the localpart of a full user ID.
func localpartOf(userID string) string {
	localpart, _, _ := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	return localpart
}

// undeclaredToDeactivate picks, from every account the user list returned,
// the active ones nobody declared: the candidates of exclusive mode. It never
// picks the admin the module acts as, guests, users a protect pattern
// matches, or users of an application service (a bridge manages those
// itself); the last needs a read per candidate, as the list does not say.
// Declared users are matched case-insensitively, so that a legacy
// mixed-case account declared in lower case is not taken for a stranger.
func (r *Runner) undeclaredToDeactivate(ctx context.Context, all map[string]*synapse.User, outcomes []*Outcome, desired []*Desired) ([]*synapse.User, error) {
	declared := map[string]bool{}
	for i, o := range outcomes {
		if o.UserID != "" {
			declared[strings.ToLower(o.UserID)] = true
		}
		// A declaration that failed validation still protects its user.
		if d := desired[i]; d.Server == "" || d.Server == r.ServerName {
			declared[strings.ToLower(UserID(d.Localpart, r.ServerName))] = true
		}
	}
	patterns, err := compileProtect(r.Protect)
	if err != nil {
		return nil, err
	}
	var candidates []*synapse.User
	for id, u := range all {
		if declared[strings.ToLower(id)] || bool(u.Deactivated) || bool(u.IsGuest) ||
			strings.EqualFold(id, r.Facts.Me) || protected(id, patterns) {
			continue
		}
		candidates = append(candidates, u)
	}
	details := make([]*synapse.User, len(candidates))
	errs := forEach(len(candidates), r.Concurrency, func(k int) (err error) {
		details[k], err = r.Client.GetUser(ctx, candidates[k].Name)
		return err
	})
	var out []*synapse.User
	for k, u := range details {
		if errs[k] != nil {
			return nil, fmt.Errorf("cannot read %s, an undeclared user exclusive mode would deactivate: %w", candidates[k].Name, r.explain(errs[k]))
		}
		if u == nil || u.AppserviceID != nil || bool(u.Deactivated) {
			continue
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// planUndeclared is the plan that deactivates one undeclared user.
func planUndeclared(u *synapse.User) (*Desired, *Plan) {
	d := &Desired{Ref: UndeclaredRef, Localpart: localpartOf(u.Name), State: StateAbsent, UpdatePassword: PasswordOnCreate}
	p := &Plan{UserID: u.Name, Desired: d, Current: u, Action: ActionDeactivated, Changes: []string{"deactivated"}, Deactivate: true}
	pred := cloneUser(u)
	applyDeactivation(pred, false)
	p.Predicted = pred
	p.Before = map[string]any{"deactivated": false}
	p.After = map[string]any{"deactivated": true}
	return d, p
}

// DeactivationLimit is how many undeclared users exclusive mode may
// deactivate in one run: at most maxCount, and at most maxPercent of the
// active accounts, rounded up so that one deactivation is always possible
// on a server with any active account (unless a limit is 0).
func DeactivationLimit(maxCount, maxPercent, active int) int {
	byShare := (maxPercent*active + 99) / 100
	return min(maxCount, byShare)
}

// checkDeactivationThreshold is exclusive mode's safety threshold, like the
// delete threshold of directory-sync tools: a users list cut short by
// mistake (a wrong variable, a truncated file) would otherwise deactivate
// most of the server, and deactivation removes users from every room. It
// runs before any write, in check mode too, so that a --check run fails the
// same way the real run would.
func (r *Runner) checkDeactivationThreshold(undeclared []*synapse.User, all map[string]*synapse.User) error {
	active := 0
	for _, u := range all {
		if !bool(u.Deactivated) && !bool(u.IsGuest) {
			active++
		}
	}
	limit := DeactivationLimit(r.MaxDeactivations, r.MaxDeactivationsPercent, active)
	if len(undeclared) <= limit {
		return nil
	}
	names := make([]string, 0, 10)
	for _, u := range undeclared {
		if len(names) == cap(names) {
			names = append(names, "...")
			break
		}
		names = append(names, u.Name)
	}
	share := 100 * len(undeclared) / max(active, 1)
	return fmt.Errorf("exclusive mode would deactivate %d undeclared users (%s), %d%% of the %d active local accounts: more than the safety threshold allows "+
		"(max_deactivations %d, max_deactivations_percent %d%%, so at most %d in this run); nothing was changed. "+
		"If the users list is complete and these deactivations are intended, raise max_deactivations and max_deactivations_percent "+
		"for this run; otherwise declare or protect these users",
		len(undeclared), strings.Join(names, ", "), share, active, r.MaxDeactivations, r.MaxDeactivationsPercent, limit)
}
