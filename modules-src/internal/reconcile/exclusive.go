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
// picks the admin the module acts as, the collection's service admin, guests, users a protect pattern
// matches, or users of an application service (a bridge manages those
// itself). Declared users are matched case-insensitively, so that a legacy
// mixed-case account declared in lower case is not taken for a stranger.
//
// The safety threshold is a share of the accounts exclusive mode could
// deactivate: the active local accounts but the module's admin, guests, the
// protected and the application services' (a bridged server holds more
// puppets than people, and counting them would let a list cut short
// deactivate most of the people). Whether an account belongs to an
// application service is in no user list of any Synapse release (1.90 to
// 1.163: the list has no appservice_id), so it takes a read of that account.
// The threshold is decided first, and only the reads the decision needs are
// sent: in rounds, as many candidates as could still take the count past
// the threshold, until it is passed (the run is refused, the rest unread)
// or every candidate is read.
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
	th := threshold{maxCount: r.MaxDeactivations, maxPercent: r.MaxDeactivationsPercent}
	var candidates []*synapse.User
	for id, u := range all {
		switch {
		case bool(u.Deactivated) || bool(u.IsGuest) || strings.EqualFold(id, r.Facts.Me) ||
			(r.Facts.ServiceAdmin != "" && strings.EqualFold(id, r.Facts.ServiceAdmin)):
		case protected(id, patterns):
			th.protected++
			if !declared[strings.ToLower(id)] {
				r.Protected = append(r.Protected, id)
			}
		case declared[strings.ToLower(id)]:
			th.declared++
		default:
			candidates = append(candidates, u)
		}
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].Name < candidates[j].Name })
	sort.Strings(r.Protected)

	var out []*synapse.User
	queue := newReadQueue(candidates)
	for queue.left() > 0 {
		round := queue.take(min(th.firstRefused(len(out), queue.left())-len(out), queue.left()))
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
				th.appservice++
			}
			if u == nil || u.AppserviceID != nil || bool(u.Deactivated) {
				continue
			}
			out = append(out, u)
		}
		if th.refuses(len(out)) {
			return nil, th.refusal(out, queue.rest())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// threshold is exclusive mode's safety threshold, and the accounts it
// counts: a run may deactivate at most maxCount undeclared accounts and
// at most maxPercent of the accounts it could deactivate (the declared
// ones and the undeclared ones it would deactivate); application-service
// and protected accounts are never touched, and not counted.
type threshold struct {
	maxCount, maxPercent            int
	declared, protected, appservice int
}

// limit is how many of n undeclared accounts the threshold allows.
func (th threshold) limit(n int) int {
	return DeactivationLimit(th.maxCount, th.maxPercent, th.declared+n)
}

// refuses reports whether n undeclared accounts are more than the
// threshold allows. It is monotonic: refusing n, it refuses more.
func (th threshold) refuses(n int) bool { return n > th.limit(n) }

// firstRefused is the smallest count from n on that the threshold refuses,
// looking at most left further (n+left+1 when none is).
func (th threshold) firstRefused(n, left int) int {
	for k := n; k <= n+left; k++ {
		if th.refuses(k) {
			return k
		}
	}
	return n + left + 1
}

// refusal is exclusive mode's safety threshold refusing a run, like the
// delete threshold of directory-sync tools: a users list cut short by
// mistake (a wrong variable, a truncated file) would otherwise deactivate
// most of the server, and deactivation removes users from every room. It
// comes before any write, in check mode too, so that a --check run fails
// the same way the real run would. unread are the candidates the decision
// did not need to read (some may belong to application services).
func (th threshold) refusal(undeclared, unread []*synapse.User) error {
	n := len(undeclared)
	count := fmt.Sprintf("%d undeclared users (%s)", n, someNames(undeclared, 10))
	share := fmt.Sprintf("%d of the %d accounts", n, th.declared+n)
	appservice := fmt.Sprintf("%d application-service accounts", th.appservice)
	if len(unread) > 0 {
		count = fmt.Sprintf("at least %d undeclared users (%s; %d more undeclared accounts were not read: %s, where application-service accounts would be kept, and protecting a bridge's namespace, such as telegram_*, skips its accounts without a read)",
			n, someNames(undeclared, 10), len(unread), someNames(unread, 5))
		share = fmt.Sprintf("at least %d of the at least %d accounts", n, th.declared+n)
		appservice += " found so far"
	}
	percent := 100 * n / max(th.declared+n, 1)
	return problem.Errorf(problem.Threshold, "exclusive mode would deactivate %s: %s exclusive mode may deactivate (%d%%); %s and %d protected accounts are never touched. "+
		"That is more than the safety threshold allows (%s %d, %s %d%%, so at most %d in this run); nothing was changed. "+
		"If the users list is complete and these deactivations are intended, raise %s and %s "+
		"for this run; otherwise declare or protect these users",
		count, share, percent, appservice, th.protected, problem.Name("max_deactivations"), th.maxCount, problem.Name("max_deactivations_percent"), th.maxPercent, th.limit(n),
		problem.Name("max_deactivations"), problem.Name("max_deactivations_percent"))
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
// accounts it could deactivate (deactivatable), rounded up so that one
// deactivation is always possible (unless a limit is 0).
func DeactivationLimit(maxCount, maxPercent, deactivatable int) int {
	byShare := (maxPercent*deactivatable + 99) / 100
	return min(maxCount, byShare)
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
