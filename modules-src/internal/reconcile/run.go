package reconcile

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
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

	// Protected is set by an exclusive run: the active undeclared accounts
	// a Protect pattern kept from deactivation, sorted (for the role's run
	// report).
	Protected []string

	// refusals are the fields this Synapse cannot manage (support).
	refusals map[string]func(problem.Entry, any) error
}

// Outcome is what happened, or in check mode would happen, to one user.
type Outcome struct {
	// Entry is the entry of the declaration; zero for an account exclusive
	// mode deactivates (Undeclared).
	Entry      problem.Entry
	Undeclared bool
	UserID     string
	Action     Action
	Changes    []string
	// Before and After are the diff of the declared fields.
	Before, After map[string]any
	// User is the state after the run (predicted in check mode); nil when
	// it cannot be known.
	User *Account
	// Wrote is true once Synapse acknowledged a write for this user, so
	// that a failure after a partial update still reports changed.
	Wrote bool
	// MaybeWrote is true when a write was sent whose answer does not tell
	// whether it was applied: no answer came back, a 5xx, or a refusal
	// midway through a PUT of several fields (Synapse applies them one by
	// one). Its message says the change may have been applied.
	MaybeWrote bool
	Err        error
	Warnings   []*problem.Message
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

// Name is the user ID, or the entry when the ID is not known.
func (o *Outcome) Name() Who { return Who{UserID: o.UserID, Entry: o.Entry} }

// Who names a user in messages: by its ID, or by its entry of the
// declaration while the ID is not known.
type Who struct {
	UserID string
	Entry  problem.Entry
}

// Render is the ID, or the entry in the user's words.
func (w Who) Render(n problem.Naming) string {
	if w.UserID != "" {
		return w.UserID
	}
	return n.Entry(w.Entry)
}

// String is the name in a module's own words.
func (w Who) String() string { return w.Render(problem.Module) }

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
func (r *Runner) Run(ctx context.Context, desired []*Desired) ([]*Outcome, []*problem.Message, error) {
	var warnings []*problem.Message
	outcomes := make([]*Outcome, len(desired))
	for i, d := range desired {
		outcomes[i] = &Outcome{Entry: d.Entry}
		outcomes[i].UserID = r.resolveID(d, outcomes[i])
	}

	rd := &read{current: map[string]*Account{}}
	if r.Facts.CanRead {
		var err error
		if rd, err = r.readCurrent(ctx, desired, outcomes); err != nil {
			return nil, nil, err
		}
		r.support(ctx, desired, outcomes, rd.seen)
	}
	current := rd.current

	checks, pepper := r.checkPasswords(ctx, desired, outcomes, current)

	plans := make([]*Plan, len(desired))
	for i, d := range desired {
		if outcomes[i].Action == ActionFailed {
			continue
		}
		plans[i] = r.plan(d, outcomes[i].UserID, current[outcomes[i].UserID], checks[i])
		if r.Seed && !r.SeedReactivate && plans[i].Err == nil && plans[i].Action == ActionReactivated {
			// reactivate is no option: an extra var of the role's own.
			plans[i].Err = problem.Errorf(problem.Unverified, "%s is deactivated, and the register-user extra vars reactivate an account only when asked: add reactivate=yes to reactivate it (with the password given, as deactivation removed the old one)", plans[i].UserID)
		}
	}

	if r.Exclusive && r.Facts.CanRead {
		// Everything is read and decided before the first write: a failure
		// here stops the run with nothing applied.
		if err := unresolvedEntries(outcomes); err != nil {
			return nil, nil, err
		}
		undeclared, err := r.undeclaredToDeactivate(ctx, rd.listed, outcomes, desired)
		if err != nil {
			return nil, nil, err
		}
		for _, u := range undeclared {
			d, p := planUndeclared(u)
			desired = append(desired, d)
			plans = append(plans, p)
			outcomes = append(outcomes, &Outcome{Undeclared: true, UserID: u.Name})
		}
	}

	unverifiedPasswords := 0
	for _, p := range plans {
		if p != nil && p.PasswordUnverified {
			unverifiedPasswords++
		}
	}
	if unverifiedPasswords > 0 {
		warnings = append(warnings, problem.Errorf(problem.Note, "%d password(s) could not be compared with the stored ones, so they are set whether or not they changed: %s", unverifiedPasswords, synapse.ErrHashesUnavailable))
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
	var bad entryErrors
	for _, o := range outcomes {
		if o.unresolved {
			bad = append(bad, o)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return problem.Errorf(problem.Unresolved, "exclusive mode stopped before any change: %s. Exclusive mode deactivates every account the list does not declare, and cannot tell which account such an entry keeps; fix the entry (or remove it)", bad)
}

// entryErrors are the errors of outcomes, each led by its entry, as every
// per-user message names it.
type entryErrors []*Outcome

// Render joins the errors with "; ".
func (es entryErrors) Render(n problem.Naming) string {
	msgs := make([]string, len(es))
	for i, o := range es {
		msgs[i] = o.RenderErr(n)
	}
	return strings.Join(msgs, "; ")
}

// RenderErr is the outcome's error in the user's words, led by its entry
// (an undeclared account's messages name the account).
func (o *Outcome) RenderErr(n problem.Naming) string {
	return o.lead(o.Err, n)
}

// RenderWarnings are the outcome's warnings in the user's words, each led
// by its entry.
func (o *Outcome) RenderWarnings(n problem.Naming) []string {
	out := make([]string, len(o.Warnings))
	for i, w := range o.Warnings {
		out[i] = o.lead(w, n)
	}
	return out
}

// lead renders err, led by the outcome's entry unless it names one itself
// (an entry it concerns, or a subject that is the entry: a user whose ID is
// not known is named by its entry).
func (o *Outcome) lead(err error, n problem.Naming) string {
	text := problem.Render(err, n)
	m, ok := err.(*problem.Message)
	if ok && !m.Entry.IsZero() || o.Undeclared || o.Entry.IsZero() {
		return text
	}
	entry := n.Entry(o.Entry)
	if o.UserID == "" && strings.HasPrefix(text, entry) {
		return text
	}
	return entry + ": " + text
}

// maxNamesInWarning keeps the unverified warning of a large list readable.
const maxNamesInWarning = 10

// unverifiedWarning names, in one warning, the users whose state could not
// be read, so that a run never passes them off as unchanged.
func unverifiedWarning(outcomes []*Outcome, check bool) []*problem.Message {
	var names whoList
	for _, o := range outcomes {
		if o.Action == ActionUnverified {
			names = append(names, o.Name())
		}
	}
	if len(names) == 0 {
		return nil
	}
	what := "existing user(s) could not be verified"
	if check {
		what = "user(s) could not be verified in check mode"
	}
	return []*problem.Message{problem.Errorf(problem.Unverified, "%d %s (%s): with only %s nothing can be read; give %s to verify them",
		len(names), what, names, problem.Name("registration_shared_secret"), problem.AdminCredentials{})}
}

// whoList names users, the first maxNamesInWarning of them.
type whoList []Who

// Render joins the names, and says how many more there are.
func (ws whoList) Render(n problem.Naming) string {
	shown := make([]string, 0, maxNamesInWarning)
	for _, w := range ws[:min(len(ws), maxNamesInWarning)] {
		shown = append(shown, w.Render(n))
	}
	out := strings.Join(shown, ", ")
	if len(ws) > maxNamesInWarning {
		out += fmt.Sprintf(" and %d more", len(ws)-maxNamesInWarning)
	}
	return out
}

// notePassword tells what a password change does to other sessions and,
// for the register-user extra vars, that a given password was not applied.
func (r *Runner) notePassword(p *Plan, o *Outcome) {
	o.PasswordNote = p.PasswordNote
	if r.Seed && p.PasswordKept && p.Err == nil {
		o.Warnings = append(o.Warnings, problem.Errorf(problem.Note, "%s exists, so the password given was not applied (%s is on_create); rerun with %s=always to set it: it is compared with the stored hash, so the same password changes nothing",
			p.UserID, problem.Name("update_password"), problem.Name("update_password")))
	}
}

// resolveID builds the full user ID, refusing one on another server.
func (r *Runner) resolveID(d *Desired, o *Outcome) string {
	id, err := LocalID(d.Localpart, d.Server, Homeserver{Name: r.ServerName})
	if err != nil {
		o.fail(about(err, d.Entry))
		o.unresolved = true
	}
	return id
}

// about is err concerning the entry e.
func about(err error, e problem.Entry) error {
	if m, ok := err.(*problem.Message); ok {
		return m.About(e)
	}
	return problem.Errorf(problem.Invalid, "%s", err).About(e)
}

// read is what the runner read of the server before planning.
type read struct {
	// current are the accounts by ID.
	current map[string]*Account
	// listed is the user list by ID (nil when one user was read alone):
	// exclusive mode picks from it.
	listed map[string]*synapse.User
	// seen are every user answer read, for the fields' Support.
	seen []*synapse.User
}

// readCurrent reads the declared users: one GET for a single user, else the
// bulk list (a request per thousand users on the server) plus a GET for
// each existing user that declares a field the list does not carry
// (threepids, external IDs, locked before Synapse 1.93); then, per user,
// each declared field that has an endpoint of its own.
func (r *Runner) readCurrent(ctx context.Context, desired []*Desired, outcomes []*Outcome) (*read, error) {
	rd := &read{current: map[string]*Account{}}
	var live []int
	for i := range desired {
		if outcomes[i].Action != ActionFailed {
			live = append(live, i)
		}
	}
	if len(live) == 0 && !r.Exclusive {
		return rd, nil
	}
	if len(live) == 1 && !r.Exclusive {
		i := live[0]
		u, err := FindUser(ctx, r.Client, outcomes[i].UserID)
		if err != nil {
			outcomes[i].fail(problem.Errorf(problem.Server, "cannot read %s: %s", outcomes[i].Name(), r.explain(err)))
			return rd, nil
		}
		if u != nil {
			rd.current[u.Name] = AccountOf(u)
			rd.seen = append(rd.seen, u)
			outcomes[i].UserID = u.Name
		}
		r.readOwnAll(ctx, desired, outcomes, live, rd)
		return rd, nil
	}

	all, err := r.Client.ListUsers(ctx, listPageSize)
	if err == nil {
		err = checkListServer(all, r.ServerName)
	}
	if err != nil {
		return nil, problem.Errorf(problem.Server, "cannot read the user list, so nothing was changed: %s", r.explain(err))
	}
	rd.listed = make(map[string]*synapse.User, len(all))
	rd.seen = make([]*synapse.User, 0, len(all))
	for k := range all {
		rd.listed[all[k].Name] = &all[k]
		rd.seen = append(rd.seen, &all[k])
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
		// Only declared users are compared: an Account for each of the
		// server's other accounts would cost memory and nothing else
		// (exclusive mode decides on the listed users themselves).
		if u := rd.listed[name]; u != nil {
			rd.current[name] = AccountOf(u)
		}
	}
	var detail []int
	for _, i := range live {
		if cur, ok := rd.current[outcomes[i].UserID]; ok && outcomes[i].Action != ActionFailed && unlisted(desired[i], cur) {
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
			outcomes[i].fail(problem.Errorf(problem.Server, "cannot read %s: %s", outcomes[i].Name(), r.explain(errs[k])))
		case details[k] != nil:
			rd.current[details[k].Name] = AccountOf(details[k])
			rd.seen = append(rd.seen, details[k])
		}
	}
	r.readOwnAll(ctx, desired, outcomes, live, rd)
	return rd, nil
}

// unlisted reports whether d declares a field the user answer behind cur
// did not carry, and that the user's own answer does.
func unlisted(d *Desired, cur *Account) bool {
	for _, f := range fields {
		if _, declared := d.Value(f.Name); !declared || f.Secret || f.Synapse.FromUser == nil {
			continue
		}
		if _, known := cur.Value(f.Name); !known {
			return true
		}
	}
	return false
}

// readOwnAll reads, for every live entry whose account exists, the fields
// it declares that have an endpoint of their own (bounded concurrency).
func (r *Runner) readOwnAll(ctx context.Context, desired []*Desired, outcomes []*Outcome, live []int, rd *read) {
	var todo []int
	for _, i := range live {
		if cur, ok := rd.current[outcomes[i].UserID]; ok && outcomes[i].Action != ActionFailed && needsOwnRead(desired[i], cur) {
			todo = append(todo, i)
		}
	}
	errs := forEach(len(todo), r.Concurrency, func(k int) error {
		i := todo[k]
		// Each account is its own: only this goroutine touches it.
		return r.readOwn(ctx, desired[i], rd.current[outcomes[i].UserID])
	})
	for k, i := range todo {
		if errs[k] != nil {
			outcomes[i].fail(problem.Errorf(problem.Server, "cannot read %s: %s", outcomes[i].Name(), errs[k]))
		}
	}
}

// needsOwnRead reports whether d declares a field of cur that has an
// endpoint of its own and was not read yet.
func needsOwnRead(d *Desired, cur *Account) bool {
	for _, f := range fields {
		if _, declared := d.Value(f.Name); declared && f.Synapse.Read != nil {
			if _, known := cur.Value(f.Name); !known {
				return true
			}
		}
	}
	return false
}

// readOwn reads into cur the fields d declares that have an endpoint of
// their own: a field only its declarations need costs a request per such
// user, never one per account on the server.
func (r *Runner) readOwn(ctx context.Context, d *Desired, cur *Account) error {
	if cur == nil || cur.Deactivated && d.State == StateAbsent {
		return nil
	}
	for _, f := range fields {
		if _, declared := d.Value(f.Name); !declared || f.Synapse.Read == nil {
			continue
		}
		if _, known := cur.Value(f.Name); known {
			continue
		}
		v, err := f.Synapse.Read(ctx, r.Client, cur.ID)
		if err != nil {
			return problem.Errorf(problem.Server, "%s: %s", problem.Name(f.Name), r.explain(err))
		}
		cur.set(f.Name, v)
	}
	return nil
}

// support asks each field some live entry declares, and whose Support
// says not every release can manage it, whether this Synapse can: a
// refusal applies when planning (r.plan); an error fails the entries that
// declare the field, before any write.
func (r *Runner) support(ctx context.Context, desired []*Desired, outcomes []*Outcome, seen []*synapse.User) {
	r.refusals = map[string]func(problem.Entry, any) error{}
	for _, f := range fields {
		if f.Synapse.Support == nil {
			continue
		}
		var declaring []int
		for i, d := range desired {
			if _, ok := d.Value(f.Name); ok && outcomes[i].Action != ActionFailed {
				declaring = append(declaring, i)
			}
		}
		if len(declaring) == 0 {
			continue
		}
		refuse, err := f.Synapse.Support(SupportQuery{Ctx: ctx, Client: r.Client, Me: r.Facts.Me, Seen: seen, Explain: r.explain})
		switch {
		case err != nil:
			for _, i := range declaring {
				outcomes[i].fail(err)
			}
		case refuse != nil:
			r.refusals[f.Name] = refuse
		}
	}
}

// plan plans one user (PlanUser) under what this Synapse supports: a
// declared value a field's Support refuses fails the user; one it accepts
// holds on every account (which has the field's Zero).
func (r *Runner) plan(d *Desired, id string, cur *Account, pw PasswordCheck) *Plan {
	for _, f := range fields {
		refuse := r.refusals[f.Name]
		v, declared := d.Value(f.Name)
		if refuse == nil || !declared {
			continue
		}
		if err := refuse(d.Entry, v); err != nil {
			return &Plan{UserID: id, Desired: d, Current: cur, Err: err}
		}
		if cur == nil {
			continue
		}
		if _, known := cur.Value(f.Name); !known {
			cur = cur.clone()
			cur.set(f.Name, f.Zero)
		}
	}
	return PlanUser(d, id, cur, pw, r.Facts)
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
func (r *Runner) checkPasswords(ctx context.Context, desired []*Desired, outcomes []*Outcome, current map[string]*Account) ([]PasswordCheck, pepperState) {
	checks := make([]PasswordCheck, len(desired))
	var need []int
	for i, d := range desired {
		cur := current[outcomes[i].UserID]
		if outcomes[i].Action != ActionFailed && r.Facts.CanRead && d.Password() != nil &&
			d.UpdatePassword == PasswordAlways && cur != nil && !cur.Deactivated {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return checks, pepperUnknown
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
		return checks, pepperUnverifiable
	}

	workers := runtime.GOMAXPROCS(0)
	forEach(len(need), workers, func(k int) error {
		i := need[k]
		hash, ok := hashes[outcomes[i].UserID]
		switch {
		case ctx.Err() != nil:
			// Interrupted: thousands of hashes take minutes, and the run
			// must end (and log out) promptly, sending nothing more.
			outcomes[i].fail(problem.Errorf(problem.Interrupted, "%s: the password was not compared: %s", outcomes[i].Name(), context.Cause(ctx)))
		case !ok && readErr != nil:
			outcomes[i].fail(problem.Errorf(problem.Password, "cannot read the stored password hash of %s to compare it with the declared password (%s: always), so nothing was sent for this user: %s",
				outcomes[i].Name(), problem.Name("update_password"), r.explain(readErr)))
		case !ok:
			outcomes[i].fail(problem.Errorf(problem.Password, "cannot compare the password of %s (%s: always): Synapse's search_users did not return its stored hash, so nothing was sent for this user (setting the password blindly would log it out and report a change on every run); use %s: on_create to leave the password alone",
				outcomes[i].Name(), problem.Name("update_password"), problem.Name("update_password")))
		default:
			checks[i] = r.compareHash(ctx, hash, *desired[i].Password(), outcomes[i])
		}
		return nil
	})
	return checks, r.pepperFromComparisons(desired, need, checks, hashes)
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
		o.fail(problem.Errorf(problem.Password, "cannot compare the password of %s (%s: always), so nothing was sent for this user: %s; use %s: on_create to leave this password alone, or lower bcrypt_rounds in Synapse's configuration and set the password again",
			o.Name(), problem.Name("update_password"), err, problem.Name("update_password")))
	case err != nil:
		o.fail(problem.Errorf(problem.Password, "%s: the password was not compared: %s", o.Name(), err))
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
