package reconcile

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Runner reads the current state of declared users, plans, and applies the
// plans (or, in check mode, only reports them).
type Runner struct {
	Client Client
	Facts  Facts
	// ServerName is the homeserver's name; "" when it is not known yet
	// (shared-secret runs without server_name).
	ServerName   string
	SharedSecret string
	Pepper       string
	// AdminPassword is the admin's password in a login run ("" otherwise):
	// its stored hash, when read anyway, proves password_pepper.
	AdminPassword string
	CheckMode     bool
	// Concurrency bounds the requests in flight when applying.
	Concurrency int
	// Exclusive deactivates every active local user that is not declared,
	// except the admin the module acts as, guests, application service
	// users and users matching a Protect pattern.
	Exclusive bool
	Protect   []string
	// MaxDeactivations and MaxDeactivationsPercent are exclusive mode's
	// safety threshold: a run that would deactivate more undeclared users
	// than either allows fails before any write.
	MaxDeactivations        int
	MaxDeactivationsPercent int
	// Explain adds context to a Synapse error (who the token belongs to, a
	// hint on what to do); nil leaves errors as they are.
	Explain func(error) error
	// Seed is set when the declaration is one user given on the command
	// line (the register-user extra vars): its password is a request to
	// apply now, so an existing account whose password is kept is reported,
	// and with only the shared secret an existing account fails, since
	// nothing about it can be checked.
	Seed bool
	// SeedReactivate lets a Seed run reactivate a deactivated account.
	// Without it such a run fails for that account, as the old
	// register-user command did, rather than quietly bring back an account
	// someone deactivated and give it the password of the command line.
	SeedReactivate bool
}

// Outcome is what happened, or in check mode would happen, to one user.
type Outcome struct {
	Ref     string
	UserID  string
	Action  Action
	Changes []string
	// Before and After are the diff of the declared fields.
	Before, After map[string]any
	// User is the state after the run (predicted in check mode); nil when
	// it cannot be known.
	User *synapse.User
	// Wrote is true once Synapse acknowledged a write for this user, so
	// that a failure after a partial update still reports changed.
	Wrote bool
	// MaybeWrote is true when a write was sent whose answer does not tell
	// whether it was applied: no answer came back, a 5xx, or a refusal
	// midway through a PUT of several fields (Synapse applies them one by
	// one). Its message says the change may have been applied.
	MaybeWrote bool
	Err        error
	Warnings   []string
	// PasswordNote says what the password change does to the user's other
	// sessions; "" when no password of an active account changes.
	PasswordNote string
	// unresolved is set when the entry's user ID could not be established
	// (another server, several accounts differing only in case): exclusive
	// mode cannot tell which account the entry keeps.
	unresolved bool
	// passwordSet is the password a PUT that Synapse acknowledged set, for
	// the pepper check after the first one.
	passwordSet *string
	// passwordRefused is set when Synapse refused a PUT with a password
	// with a 403: it sets no password on this server.
	passwordRefused bool
}

// Changed reports whether the run changed the user, may have changed it
// (a write whose answer was lost), or in check mode would change it. A
// write Synapse refused, or one never sent, is no change.
func (o *Outcome) Changed() bool {
	return o.Wrote || o.MaybeWrote || o.Err == nil && o.Action.Changes()
}

// Name is the user ID, or what the task wrote when the ID is not known.
func (o *Outcome) Name() string {
	if o.UserID != "" {
		return o.UserID
	}
	return o.Ref
}

func (o *Outcome) fail(err error) {
	o.Action, o.Err = ActionFailed, err
}

// listPageSize is the page size of the bulk user list: one request per
// thousand accounts on the server.
const listPageSize = 1000

// hashesPerUserLimit is how many users' hashes are read with one request
// each; above it, one request reads every hash on the server.
const hashesPerUserLimit = 8

// Run brings every declared user to its state. One user's failure does not
// stop the others; the error return is for failures that stop everything
// before any write (the user list cannot be read or does not add up,
// exclusive mode cannot tell which accounts the list keeps).
func (r *Runner) Run(ctx context.Context, desired []*Desired) ([]*Outcome, []string, error) {
	var warnings []string
	outcomes := make([]*Outcome, len(desired))
	for i, d := range desired {
		outcomes[i] = &Outcome{Ref: d.Ref}
		outcomes[i].UserID = r.resolveID(d, outcomes[i])
	}

	current := map[string]*synapse.User{}
	if r.Facts.CanRead {
		var err error
		if current, err = r.readCurrent(ctx, desired, outcomes); err != nil {
			return nil, nil, err
		}
	}

	if r.Facts.CanRead {
		r.detectLocking(ctx, desired, outcomes, current)
	}

	checks, pepper, w := r.checkPasswords(ctx, desired, outcomes, current)
	warnings = append(warnings, w...)

	plans := make([]*Plan, len(desired))
	for i, d := range desired {
		if outcomes[i].Action == ActionFailed {
			continue
		}
		plans[i] = PlanUser(d, outcomes[i].UserID, current[outcomes[i].UserID], checks[i], r.Facts)
		if r.Seed && !r.SeedReactivate && plans[i].Err == nil && plans[i].Action == ActionReactivated {
			plans[i].Err = fmt.Errorf("%s is deactivated, and the register-user extra vars reactivate an account only when asked: add reactivate=yes to reactivate it (with the password given, as deactivation removed the old one)", plans[i].UserID)
		}
	}

	if r.Exclusive && r.Facts.CanRead {
		// Everything is read and decided before the first write: a failure
		// here stops the run with nothing applied.
		if err := unresolvedEntries(outcomes); err != nil {
			return nil, nil, err
		}
		undeclared, err := r.undeclaredToDeactivate(ctx, current, outcomes, desired)
		if err != nil {
			return nil, nil, err
		}
		for _, u := range undeclared {
			d, p := planUndeclared(u)
			desired = append(desired, d)
			plans = append(plans, p)
			outcomes = append(outcomes, &Outcome{Ref: d.Ref, UserID: u.Name})
		}
	}

	unverifiedPasswords := 0
	for _, p := range plans {
		if p != nil && p.PasswordUnverified {
			unverifiedPasswords++
		}
	}
	if unverifiedPasswords > 0 {
		warnings = append(warnings, fmt.Sprintf("%d password(s) could not be compared with the stored ones, so they are set whether or not they changed: %v", unverifiedPasswords, synapse.ErrHashesUnavailable))
	}

	if r.CheckMode {
		for i, p := range plans {
			if p == nil {
				continue
			}
			outcomes[i].fromPlan(p)
			r.notePassword(p, outcomes[i])
			if p.Err == nil && !r.Facts.CanRead {
				outcomes[i].Action = ActionUnverified
			}
		}
		return outcomes, append(warnings, unverifiedWarning(outcomes, true)...), nil
	}

	r.applyAll(ctx, plans, outcomes, pepper)
	return outcomes, append(warnings, unverifiedWarning(outcomes, false)...), nil
}

// unresolvedEntries stops exclusive mode when an entry's account is not
// known: @bot:exmaple.org (a typo of the server) keeps no account, so the
// real @bot would be deactivated as undeclared in the same run.
func unresolvedEntries(outcomes []*Outcome) error {
	var bad []string
	for _, o := range outcomes {
		if !o.unresolved {
			continue
		}
		msg := o.Err.Error()
		if !strings.HasPrefix(msg, o.Ref) {
			msg = o.Ref + ": " + msg // the entry, as every per-user message names it
		}
		bad = append(bad, msg)
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("exclusive mode stopped before any change: %s. Exclusive mode deactivates every account the list does not declare, and cannot tell which account such an entry keeps; fix the entry (or remove it)",
		strings.Join(bad, "; "))
}

// JoinAnd joins names as a sentence does: "a", "a and b", "a, b and c".
func JoinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// maxNamesInWarning keeps the unverified warning of a large list readable.
const maxNamesInWarning = 10

// unverifiedWarning names, in one warning, the users whose state could not
// be read, so that a run never passes them off as unchanged.
func unverifiedWarning(outcomes []*Outcome, check bool) []string {
	var names []string
	for _, o := range outcomes {
		if o.Action == ActionUnverified {
			names = append(names, o.Name())
		}
	}
	if len(names) == 0 {
		return nil
	}
	shown := strings.Join(names[:min(len(names), maxNamesInWarning)], ", ")
	if len(names) > maxNamesInWarning {
		shown += fmt.Sprintf(" and %d more", len(names)-maxNamesInWarning)
	}
	what := "existing user(s) could not be verified"
	if check {
		what = "user(s) could not be verified in check mode"
	}
	return []string{fmt.Sprintf("%d %s (%s): with only registration_shared_secret nothing can be read; give admin_token or admin_user/admin_password to verify them", len(names), what, shown)}
}

// notePassword tells what a password change does to other sessions and,
// for the register-user extra vars, that a given password was not applied.
func (r *Runner) notePassword(p *Plan, o *Outcome) {
	o.PasswordNote = p.PasswordNote
	if r.Seed && p.PasswordKept && p.Err == nil {
		o.Warnings = append(o.Warnings, fmt.Sprintf("%s exists, so the password given was not applied (update_password is on_create); rerun with update_password=always to set it: it is compared with the stored hash, so the same password changes nothing", p.UserID))
	}
}

// resolveID builds the full user ID, refusing one on another server.
func (r *Runner) resolveID(d *Desired, o *Outcome) string {
	server := r.ServerName
	if d.Server != "" {
		if server != "" && d.Server != server {
			o.fail(fmt.Errorf("%s: @%s:%s is on another server; this homeserver is %s", d.Ref, d.Localpart, d.Server, server))
			o.unresolved = true
			return ""
		}
		server = d.Server
	}
	if server == "" {
		return ""
	}
	if err := CheckIDLength(d.Localpart, server); err != nil {
		o.fail(fmt.Errorf("%s: %v", d.Ref, err))
		o.unresolved = true
		return ""
	}
	return UserID(d.Localpart, server)
}

// readCurrent reads the declared users: one GET for a single user, else the
// bulk list (a request per thousand users on the server) plus a GET for
// each existing user whose threepids or external IDs are declared, since
// the list does not carry them.
func (r *Runner) readCurrent(ctx context.Context, desired []*Desired, outcomes []*Outcome) (map[string]*synapse.User, error) {
	current := map[string]*synapse.User{}
	var live []int
	for i := range desired {
		if outcomes[i].Action != ActionFailed {
			live = append(live, i)
		}
	}
	if len(live) == 0 && !r.Exclusive {
		return current, nil
	}
	if len(live) == 1 && !r.Exclusive {
		i := live[0]
		u, err := FindUser(ctx, r.Client, outcomes[i].UserID)
		if err != nil {
			outcomes[i].fail(fmt.Errorf("cannot read %s: %w", outcomes[i].Name(), r.explain(err)))
			return current, nil
		}
		if u != nil {
			current[u.Name] = u
			outcomes[i].UserID = u.Name
		}
		return current, nil
	}

	all, err := r.Client.ListUsers(ctx, listPageSize)
	if err == nil {
		err = checkListServer(all, r.ServerName)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the user list, so nothing was changed: %w", r.explain(err))
	}
	for k := range all {
		current[all[k].Name] = &all[k]
	}
	idx := newCaseIndex(all)
	for _, i := range live {
		// A legacy mixed-case account is managed under its own ID.
		name, err := idx.match(outcomes[i].UserID)
		if err != nil {
			outcomes[i].fail(err)
			outcomes[i].unresolved = true
			continue
		}
		outcomes[i].UserID = name
	}
	var detail []int
	for _, i := range live {
		d := desired[i]
		// The list carries no "locked" before Synapse 1.93: a declared
		// locked is then compared with the user's own answer.
		if cur, ok := current[outcomes[i].UserID]; ok && (d.Threepids != nil || d.ExternalIDs != nil || d.Locked != nil && !cur.LockedKnown) {
			detail = append(detail, i)
		}
	}
	details := make([]*synapse.User, len(detail))
	errs := forEach(len(detail), r.Concurrency, func(k int) error {
		u, err := r.Client.GetUser(ctx, outcomes[detail[k]].UserID)
		details[k] = u
		return err
	})
	for k, i := range detail {
		switch {
		case errs[k] != nil:
			outcomes[i].fail(fmt.Errorf("cannot read %s: %w", outcomes[i].Name(), r.explain(errs[k])))
		case details[k] != nil:
			current[details[k].Name] = details[k]
		}
	}
	return current, nil
}

// detectLocking finds out, when a user is declared locked, whether this
// Synapse can lock users at all: any user answer with a "locked" key says it
// can; else the admin's own GET tells (Synapse 1.91 on has the key there,
// even where the list lacks it).
func (r *Runner) detectLocking(ctx context.Context, desired []*Desired, outcomes []*Outcome, current map[string]*synapse.User) {
	var lockers []int
	for i, d := range desired {
		if d.Locked != nil && *d.Locked && outcomes[i].Action != ActionFailed {
			lockers = append(lockers, i)
		}
	}
	if len(lockers) == 0 {
		return
	}
	for _, u := range current {
		if u.LockedKnown {
			return
		}
	}
	me, err := r.Client.GetUser(ctx, r.Facts.Me)
	switch {
	case err != nil:
		for _, i := range lockers {
			outcomes[i].fail(fmt.Errorf("cannot tell whether this Synapse can lock users (reading %s): %w", r.Facts.Me, r.explain(err)))
		}
	case me != nil:
		r.Facts.LockUnsupported = !me.LockedKnown
	}
}

// checkPasswords compares every password declared with update_password=always
// with the stored hash, reading the hashes in as few requests as possible
// and verifying them on all cores (bcrypt is deliberately slow).
//
// The hashes come from search_users, whose term is an SQL LIKE on the user
// ID. An empty term returns every user only from Synapse 1.95 (before, it
// answers null), so many users are read with the term ":<server name>",
// which every local user ID contains, on every release. The answer is
// matched by exact ID (the LIKE is case-sensitive on PostgreSQL, and "_" is
// a wildcard). A password that cannot be compared is never sent on a guess:
// setting it would log the user out and report a change on every run. The
// only exception is a Synapse without the endpoint at all
// (ErrHashesUnavailable): there the password is set and a warning says so.
//
// A compared password that matches also proves password_pepper (see
// pepperProven): the pepper state is returned for the check after the
// first password this run sets.
func (r *Runner) checkPasswords(ctx context.Context, desired []*Desired, outcomes []*Outcome, current map[string]*synapse.User) ([]PasswordCheck, pepperState, []string) {
	checks := make([]PasswordCheck, len(desired))
	var need []int
	for i, d := range desired {
		cur := current[outcomes[i].UserID]
		if outcomes[i].Action != ActionFailed && r.Facts.CanRead && d.Password != nil &&
			d.UpdatePassword == PasswordAlways && cur != nil && !bool(cur.Deactivated) {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return checks, pepperUnknown, nil
	}

	hashes := map[string]string{}
	var readErr error
	if len(need) > hashesPerUserLimit && r.ServerName != "" {
		hashes, readErr = r.Client.PasswordHashes(ctx, r.Facts.Me, ":"+r.ServerName)
	}
	// One request per user not found yet: the few-users case, and any user
	// a bulk answer left out.
	var missing []int
	for _, i := range need {
		if _, ok := hashes[outcomes[i].UserID]; !ok {
			missing = append(missing, i)
		}
	}
	if readErr == nil && len(missing) > 0 {
		found := make([]map[string]string, len(missing))
		errs := forEach(len(missing), r.Concurrency, func(k int) (err error) {
			found[k], err = r.Client.PasswordHashes(ctx, r.Facts.Me, outcomes[missing[k]].UserID)
			return err
		})
		for k := range missing {
			if errs[k] != nil {
				readErr = errs[k]
				break
			}
			id := outcomes[missing[k]].UserID
			if h, ok := found[k][id]; ok {
				hashes[id] = h
			}
		}
	}

	if errors.Is(readErr, synapse.ErrHashesUnavailable) {
		for _, i := range need {
			checks[i] = PasswordUnreadable
		}
		return checks, pepperUnverifiable, nil
	}

	workers := runtime.GOMAXPROCS(0)
	forEach(len(need), workers, func(k int) error {
		i := need[k]
		hash, ok := hashes[outcomes[i].UserID]
		switch {
		case ctx.Err() != nil:
			// Interrupted: thousands of hashes take minutes, and the run
			// must end (and log out) promptly, sending nothing more.
			outcomes[i].fail(fmt.Errorf("%s: the password was not compared: %w", outcomes[i].Name(), context.Cause(ctx)))
		case !ok && readErr != nil:
			outcomes[i].fail(fmt.Errorf("cannot read the stored password hash of %s to compare it with the declared password (update_password: always), so nothing was sent for this user: %w", outcomes[i].Name(), r.explain(readErr)))
		case !ok:
			outcomes[i].fail(fmt.Errorf("cannot compare the password of %s (update_password: always): Synapse's search_users did not return its stored hash, so nothing was sent for this user (setting the password blindly would log it out and report a change on every run); use update_password: on_create to leave the password alone", outcomes[i].Name()))
		default:
			checks[i] = r.compareHash(ctx, hash, *desired[i].Password, outcomes[i])
		}
		return nil
	})
	return checks, r.pepperFromComparisons(desired, need, checks, hashes), nil
}

// compareHash compares one declared password with its stored hash. A
// hash it will not compare (a bcrypt cost above synapse.MaxBcryptCost) or a
// compare cut short by the end of the run fails the user: nothing is sent
// on a guess.
func (r *Runner) compareHash(ctx context.Context, hash, password string, o *Outcome) PasswordCheck {
	same, err := synapse.ComparePassword(ctx, hash, password, r.Pepper)
	var cost *synapse.CostError
	switch {
	case errors.As(err, &cost):
		o.fail(fmt.Errorf("cannot compare the password of %s (update_password: always), so nothing was sent for this user: %w; use update_password: on_create to leave this password alone, or lower bcrypt_rounds in Synapse's configuration and set the password again", o.Name(), err))
	case err != nil:
		o.fail(fmt.Errorf("%s: the password was not compared: %w", o.Name(), err))
	case same:
		return PasswordSame
	}
	return PasswordDifferent
}

func (o *Outcome) fromPlan(p *Plan) {
	if p.Err != nil {
		o.fail(p.Err)
		return
	}
	o.Action, o.Changes = p.Action, p.Changes
	o.Before, o.After = p.Before, p.After
	o.User = p.Predicted
	o.Warnings = append(o.Warnings, p.Warnings...)
}

func (r *Runner) explain(err error) error {
	if r.Explain == nil {
		return err
	}
	return r.Explain(err)
}
