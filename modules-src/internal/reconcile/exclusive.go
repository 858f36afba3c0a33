package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// UndeclaredRef is the Ref of a user that exclusive mode deactivates.
const UndeclaredRef = "(not declared)"

// undeclaredToDeactivate picks, from every account the user list returned,
// the active ones nobody declared: what exclusive mode deactivates. It never
// picks the admin the module acts as, guests, users a protect pattern
// matches, or users of an application service (a bridge manages those
// itself). Declared users are matched case-insensitively, so that a legacy
// mixed-case account declared in lower case is not taken for a stranger.
//
// Whether an account belongs to an application service is in no user list
// of any Synapse release (1.90 to 1.163: the list has no appservice_id), so
// it takes a read of that account. The safety threshold is decided first,
// from what the list tells (the candidates, the active accounts), and only
// the reads the decision needs are sent: in rounds, as many candidates as
// could still take the count past the threshold, until it is passed (the
// run is refused, the rest unread) or every candidate is read.
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
	patterns, err := compileProtect(r.Protect, r.ServerName)
	if err != nil {
		return nil, err
	}
	active := 0
	var candidates []*synapse.User
	for id, u := range all {
		if !bool(u.Deactivated) && !bool(u.IsGuest) {
			active++
		}
		if declared[strings.ToLower(id)] || bool(u.Deactivated) || bool(u.IsGuest) ||
			strings.EqualFold(id, r.Facts.Me) || protected(id, patterns) {
			continue
		}
		candidates = append(candidates, u)
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].Name < candidates[j].Name })
	limit := DeactivationLimit(r.MaxDeactivations, r.MaxDeactivationsPercent, active)

	var out []*synapse.User
	queue := newReadQueue(candidates)
	for queue.left() > 0 {
		round := queue.take(min(limit+1-len(out), queue.left()))
		details := make([]*synapse.User, len(round))
		errs := forEach(len(round), r.Concurrency, func(k int) (err error) {
			details[k], err = r.Client.GetUser(ctx, round[k].Name)
			return err
		})
		for k, u := range details {
			if errs[k] != nil {
				return nil, problem.Errorf(problem.Server, "cannot read %s, an undeclared user exclusive mode would deactivate, so nothing was changed: %s", round[k].Name, r.explain(errs[k]))
			}
			if u != nil && u.AppserviceID != nil {
				queue.appservice(u.Name)
			}
			if u == nil || u.AppserviceID != nil || bool(u.Deactivated) {
				continue
			}
			out = append(out, u)
		}
		if len(out) > limit {
			return nil, r.thresholdError(out, queue.rest(), active, limit)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readQueue is the order exclusive mode reads its candidates in: by name,
// except that once an application service's account is found, the other
// candidates of its namespace (the same localpart up to the last _ - = / .,
// such as telegram_ or _discord_) are read last. A bridge's hundreds of
// puppets then cost a round of reads, not one each, before a refusal: the
// decision still rests on a read of every account it counts; only the order
// changes. Each candidate is moved at most once.
type readQueue struct {
	sorted   []*synapse.User
	next     int
	deferred []*synapse.User
	asPrefix map[string]bool
}

func newReadQueue(sorted []*synapse.User) *readQueue {
	return &readQueue{sorted: sorted, asPrefix: map[string]bool{}}
}

// namespacePrefix is the localpart up to its last separator, "" without one.
func namespacePrefix(userID string) string {
	localpart := localpartOf(userID)
	if i := strings.LastIndexAny(localpart, "_-=/."); i > 0 {
		return localpart[:i+1]
	}
	return ""
}

func (q *readQueue) left() int { return len(q.sorted) - q.next + len(q.deferred) }

// appservice notes the namespace of an application service's account.
func (q *readQueue) appservice(userID string) {
	if p := namespacePrefix(userID); p != "" {
		q.asPrefix[p] = true
	}
}

// take hands out the next n candidates, those of a known application
// service's namespace last.
func (q *readQueue) take(n int) []*synapse.User {
	var out []*synapse.User
	for len(out) < n && q.next < len(q.sorted) {
		u := q.sorted[q.next]
		q.next++
		if q.asPrefix[namespacePrefix(u.Name)] {
			q.deferred = append(q.deferred, u)
			continue
		}
		out = append(out, u)
	}
	k := min(n-len(out), len(q.deferred))
	out = append(out, q.deferred[:k]...)
	q.deferred = q.deferred[k:]
	return out
}

// rest are the candidates not handed out, in name order.
func (q *readQueue) rest() []*synapse.User {
	out := append(append([]*synapse.User{}, q.sorted[q.next:]...), q.deferred...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// planUndeclared is the plan that deactivates one undeclared user.
func planUndeclared(u *synapse.User) (*Desired, *Plan) {
	d := &Desired{Localpart: localpartOf(u.Name), State: StateAbsent, UpdatePassword: PasswordOnCreate}
	p := &Plan{UserID: u.Name, Desired: d, Current: AccountOf(u), Action: ActionDeactivated, Changes: []string{"deactivated"}, Deactivate: true}
	pred := AccountOf(u)
	pred.deactivate(false)
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

// thresholdError is exclusive mode's safety threshold refusing a run, like
// the delete threshold of directory-sync tools: a users list cut short by
// mistake (a wrong variable, a truncated file) would otherwise deactivate
// most of the server, and deactivation removes users from every room. It
// comes before any write, in check mode too, so that a --check run fails
// the same way the real run would. unread are the candidates the decision
// did not need to read (some may belong to application services).
func (r *Runner) thresholdError(undeclared, unread []*synapse.User, active, limit int) error {
	count := fmt.Sprintf("%d undeclared users (%s)", len(undeclared), someNames(undeclared, 10))
	if len(unread) > 0 {
		count = fmt.Sprintf("at least %d undeclared users (%s; %d more undeclared accounts were not read: %s, where application-service accounts would be kept, and protecting a bridge's namespace, such as telegram_*, skips its accounts without a read)",
			len(undeclared), someNames(undeclared, 10), len(unread), someNames(unread, 5))
	}
	share := 100 * len(undeclared) / max(active, 1)
	return problem.Errorf(problem.Threshold, "exclusive mode would deactivate %s, %d%% of the %d active local accounts: more than the safety threshold allows "+
		"(%s %d, %s %d%%, so at most %d in this run); nothing was changed. "+
		"If the users list is complete and these deactivations are intended, raise %s and %s "+
		"for this run; otherwise declare or protect these users",
		count, share, active, problem.Name("max_deactivations"), r.MaxDeactivations, problem.Name("max_deactivations_percent"), r.MaxDeactivationsPercent, limit,
		problem.Name("max_deactivations"), problem.Name("max_deactivations_percent"))
}

// someNames lists the first n user IDs, and "..." for more.
func someNames(users []*synapse.User, n int) string {
	names := make([]string, 0, n+1)
	for _, u := range users {
		if len(names) == n {
			names = append(names, "...")
			break
		}
		names = append(names, u.Name)
	}
	return strings.Join(names, ", ")
}
