package reconcile

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/mxadmin/synapse/modules-src/synapse"
)

// UndeclaredRef is the Ref of a user that exclusive mode deactivates.
const UndeclaredRef = "(not declared)"

// CheckProtectPatterns refuses malformed protect patterns before any request.
func CheckProtectPatterns(patterns []string) error {
	for _, p := range patterns {
		if p == "" {
			return fmt.Errorf("option protect: empty pattern")
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("option protect: %q is not a valid pattern (shell-style: * ? [a-z])", p)
		}
	}
	return nil
}

// localpartOf is the localpart of a full user ID.
func localpartOf(userID string) string {
	localpart, _, _ := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	return localpart
}

// protected reports whether a protect pattern matches the user, by full ID
// (@bot-*:example.com) or by localpart (bot-*). Both sides are lower-cased,
// as user IDs are.
func protected(userID string, patterns []string) bool {
	userID = strings.ToLower(userID)
	localpart := localpartOf(userID)
	for _, p := range patterns {
		p = strings.ToLower(p)
		if ok, _ := path.Match(p, userID); ok {
			return true
		}
		if ok, _ := path.Match(p, localpart); ok {
			return true
		}
	}
	return false
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
	var candidates []*synapse.User
	for id, u := range all {
		if declared[strings.ToLower(id)] || bool(u.Deactivated) || bool(u.IsGuest) ||
			strings.EqualFold(id, r.Facts.Me) || protected(id, r.Protect) {
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
