package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// applyAll sends the plans. The first password this run sets is sent alone
// and checked against the hash Synapse stored (see pepper.go) unless a
// comparison already proved password_pepper: a wrong pepper then costs one
// password write, not one per user and run. Everything else goes out with
// bounded concurrency.
func (r *Runner) applyAll(ctx context.Context, plans []*Plan, outcomes []*Outcome, pepper pepperState) {
	done := make([]bool, len(plans))
	applyOne := func(i int) error {
		if plans[i] == nil || done[i] {
			return nil
		}
		r.apply(ctx, plans[i], outcomes[i])
		return nil
	}
	if r.Facts.CanRead && pepper == pepperUnknown {
		pepper = r.probePepper(ctx, plans, outcomes, done, applyOne)
	}
	switch pepper {
	case pepperWrong:
		r.holdComparedPasswords(plans, outcomes, done)
	case passwordsRefused:
		r.holdPasswords(plans, outcomes, done)
	}
	errs := forEach(len(plans), r.Concurrency, applyOne)
	// forEach turns a panic inside apply into that user's error: the user
	// fails, with whatever was sent before still counted as written.
	for i, err := range errs {
		if err != nil {
			outcomes[i].fail(err)
		}
	}
}

// apply sends one user's plan: a registration, or a create and the PUT that
// sets the rest, or a modifying PUT; then a deactivation.
func (r *Runner) apply(ctx context.Context, p *Plan, o *Outcome) {
	o.fromPlan(p)
	r.notePassword(p, o)
	if o.Action == ActionFailed || o.Action == ActionUnchanged {
		return
	}
	defer r.explainLongPassword(p, o)
	switch {
	case p.Register != nil:
		r.applyRegister(ctx, p, o)
	case p.Create:
		r.applyCreate(ctx, p, o)
	default:
		r.send(ctx, p, o, p.Update, p.Writes, false)
	}
}

// applyCreate creates the account with a PUT that carries nothing, and only
// if that PUT created it sends the rest (password included). An account
// that appeared since the list was read is handled as the existing account
// it is (applyAppeared): a create never lands on it.
func (r *Runner) applyCreate(ctx context.Context, p *Plan, o *Outcome) {
	id := p.UserID
	o.User = nil // until it exists: a failed create reports no user
	if r.interrupted(ctx, o, "%s was not created", id) {
		return
	}
	res, answer, err := r.Client.CreateUser(ctx, id)
	if err != nil {
		if synapse.MayHaveApplied(err, 1) {
			o.MaybeWrote = true
			then := problem.Errorf(problem.Note, "(rerun to see)")
			if p.Desired.Password() != nil {
				// Without its password, if so: a rerun with on_create
				// would leave the account as it is.
				then = problem.Errorf(problem.Note, "without its password (rerun with %s: always for it: that creates it, or sets its password)", problem.Name("update_password"))
			}
			o.fail(problem.Errorf(problem.Server, "cannot create %s: %s; the request may still have created it %s", id, r.explain(err), then))
			return
		}
		o.fail(problem.Errorf(problem.Server, "cannot create %s: %s", id, r.explain(err)))
		return
	}
	switch res {
	case synapse.Created:
		created := AccountOf(answer).withZero()
		o.Wrote, o.User = true, created
		// What Synapse gave the new account, not what it was predicted to
		// give (a server's default_user_type, say), decides the rest.
		body, writes := CreateRest(p.Desired, created)
		r.send(ctx, p, o, body, writes, true)
	case synapse.Existed:
		r.applyAppeared(ctx, p, o, answer, false)
	case synapse.MaybeCreated:
		r.applyAppeared(ctx, p, o, answer, true)
	}
}

// applyAppeared handles an account that did not exist when the users were
// read but existed when it was to be created: another run, a registration
// or an SSO login made it meanwhile. It is read again and planned as the
// existing account it is, under the declared rules (update_password:
// on_create sends no password to it), and the outcome says so. lost is
// set when an earlier attempt of the create lost its answer: that attempt
// may have made the account, and nothing tells, so with on_create no
// password is sent to it either way.
func (r *Runner) applyAppeared(ctx context.Context, p *Plan, o *Outcome, answer *synapse.User, lost bool) {
	d, id := p.Desired, p.UserID
	if lost {
		o.MaybeWrote = true
	}
	cur := answer
	if cur == nil {
		// Synapse refused the create as taken (M_USER_IN_USE) without
		// saying by whom: in another case, or in the moment between its
		// own lookup and its insert.
		var err error
		if cur, err = FindUser(ctx, r.Client, id); err != nil {
			o.fail(problem.Errorf(problem.Server, "%s exists now, though it did not when this run read the users, and could not be read: %s", id, r.explain(err)))
			return
		}
		if cur == nil {
			o.fail(problem.Errorf(problem.Server, "cannot create %s: Synapse answers that the ID is taken, but no account by that name can be read; rerun", id))
			return
		}
	}
	acct := AccountOf(cur)
	o.UserID, o.User = cur.Name, acct
	// update_password: always sets the password of an existing account
	// anyway (once compared); on_create must not guess the account is its.
	if lost && d.State != StateAbsent && d.Password() != nil && d.UpdatePassword != PasswordAlways {
		o.fail(problem.Errorf(problem.Unverified, "the answer to the create of %s was lost, and the retry found the account: this run may have created it, or another run or a registration did at the same moment, so its password was not sent (an account this run created has none yet). Check %s, then set the password by rerunning with %s: always for it",
			id, cur.Name, problem.Name("update_password")))
		return
	}
	if err := r.readOwn(ctx, d, acct); err != nil {
		o.fail(problem.Errorf(problem.Server, "%s exists now, though it did not when this run read the users, and could not be read: %s", cur.Name, err))
		return
	}
	check := PasswordNotChecked
	if pw := d.Password(); pw != nil && d.UpdatePassword == PasswordAlways && !acct.Deactivated {
		var err error
		if check, err = r.comparePassword(ctx, cur.Name, *pw); err != nil {
			o.fail(problem.Errorf(problem.Password, "%s exists now, though it did not when this run read the users, and its stored password hash could not be read to compare it with the declared password (%s: always), so nothing was sent for it: %s",
				cur.Name, problem.Name("update_password"), r.explain(err)))
			return
		}
	}
	np := r.plan(d, cur.Name, acct, check)
	o.fromPlan(np)
	r.notePassword(np, o)
	note := fmt.Sprintf("%s did not exist when this run read the users, but existed when it was to be created (another run, a registration or an SSO login made it meanwhile): it was handled as the existing account it is", cur.Name)
	if lost {
		note = fmt.Sprintf("the answer to the create of %s was lost, and the retry found the account (this run may have created it, or someone else did at the same moment): it was handled as an existing account", id)
	}
	if np.PasswordKept {
		o.Warnings = append(o.Warnings, problem.Errorf(problem.Note, "%s, and %s is on_create, so the declared password was not set", note, problem.Name("update_password")))
	} else {
		o.Warnings = append(o.Warnings, problem.Errorf(problem.Note, "%s", note))
	}
	if np.Err != nil || np.Action == ActionUnchanged {
		if np.Action == ActionUnchanged {
			o.User = acct
		}
		return
	}
	r.send(ctx, np, o, np.Update, np.Writes, false)
}

// comparePassword compares a declared password with one user's stored hash.
func (r *Runner) comparePassword(ctx context.Context, id, password string) (PasswordCheck, error) {
	hashes, err := r.Client.PasswordHashes(ctx, r.Facts.Me, id)
	switch {
	case errors.Is(err, synapse.ErrHashesUnavailable):
		return PasswordUnreadable, nil
	case err != nil:
		return PasswordNotChecked, err
	}
	hash, ok := hashes[id]
	if !ok {
		return PasswordNotChecked, errors.New("its stored hash is missing from the answer of Synapse's search_users")
	}
	switch same, err := synapse.ComparePassword(ctx, hash, password, r.Pepper); {
	case err != nil:
		return PasswordNotChecked, err
	case same:
		return PasswordSame, nil
	}
	return PasswordDifferent, nil
}

// send sends a modifying PUT (upd, when not nil), then the fields with
// endpoints of their own (writes), then the plan's deactivation, stopping
// at the first failure: its message says what was applied and what was not
// sent. created says the account was made by this run a moment ago and
// upd and writes are the rest of its declaration.
func (r *Runner) send(ctx context.Context, p *Plan, o *Outcome, upd synapse.UserUpdate, writes []FieldWrite, created bool) {
	id := o.UserID
	var applied []string
	notSent := func(from int) problem.Renderer {
		var names []string
		for _, w := range writes[from:] {
			names = append(names, w.Field.Name)
		}
		if p.Deactivate {
			names = append(names, stateDeactivated)
		}
		return partial{applied: applied, notSent: names}
	}
	if upd != nil {
		fields := bodyFields(upd)
		what := strings.Join(fields, ", ")
		if !created && ctx.Err() != nil {
			o.User = p.Current // as read: nothing was sent
		}
		if created && r.interrupted(ctx, o, "created %s, but %s %s not set%s%s", id, what, isAre(fields), withoutPassword(fields), notSent(0)) ||
			!created && r.interrupted(ctx, o, "%s was not updated (%s)%s", id, what, notSent(0)) {
			return
		}
		after, _, err := r.Client.PutUser(ctx, id, upd)
		if err != nil {
			maybe := synapse.MayHaveApplied(err, len(fields))
			o.MaybeWrote = o.MaybeWrote || maybe
			if refusesPasswords(err, upd) {
				o.passwordRefused = true
				err = problem.Errorf(problem.Server, "%s; Synapse sets no password when its password login or local password database is off (password_config.enabled, password_config.localdb_enabled): leave %s out of the declaration", err, problem.Name("password"))
			} else {
				err = r.explain(err)
			}
			switch {
			case created:
				o.fail(problem.Errorf(problem.Server, "created %s, but could not set %s, so the account exists without it%s: %s%s%s", id, what, withoutPassword(fields), err, maybeSuffix(err, maybe), notSent(0)))
			default:
				o.User = p.Current
				o.fail(problem.Errorf(problem.Server, "cannot update %s (%s): %s%s%s", id, what, err, maybeSuffix(err, maybe), notSent(0)))
			}
			return
		}
		o.Wrote, o.User = true, keepKnown(AccountOf(after), o.User, p.Current)
		if pw := upd.Password(); pw != nil {
			o.passwordSet = pw
		}
		applied = append(applied, fields...)
	}
	for i, w := range writes {
		name := w.Field.Name
		lead := "cannot update " + id + " (" + name + ")"
		if created {
			lead = "created " + id + ", but could not set " + name
		}
		if r.interrupted(ctx, o, "%s: not sent%s", lead, notSent(i)) {
			if !created && len(applied) == 0 {
				o.User = p.Current
			}
			return
		}
		if err := w.Field.Synapse.Write(ctx, r.Client, id, w.Value); err != nil {
			maybe := synapse.MayHaveApplied(err, 1)
			o.MaybeWrote = o.MaybeWrote || maybe
			if !created && len(applied) == 0 {
				o.User = p.Current
			}
			o.fail(problem.Errorf(problem.Server, "%s: %s%s%s", lead, r.explain(err), maybeSuffix(err, maybe), notSent(i+1)))
			return
		}
		o.Wrote = true
		if o.User == nil {
			o.User = p.Current.clone()
		}
		if o.User != nil {
			o.User = o.User.clone()
			o.User.set(name, w.Value)
		}
		applied = append(applied, name)
	}
	if p.Deactivate {
		prefix := "cannot deactivate " + id
		if created {
			prefix = "created " + id + ", but could not deactivate it"
		}
		if r.interrupted(ctx, o, "%s: not sent%s", prefix, partial{applied: applied}) {
			if !created && upd == nil && len(writes) == 0 {
				o.User = p.Current
			}
			return
		}
		if err := r.Client.Deactivate(ctx, id, p.Erase); err != nil {
			maybe := synapse.MayHaveApplied(err, 1)
			o.MaybeWrote = o.MaybeWrote || maybe
			o.fail(problem.Errorf(problem.Server, "%s: %s%s%s", prefix, r.explain(err), maybeSuffix(err, maybe), partial{applied: applied}))
			return
		}
		o.Wrote = true
		if o.User != nil {
			o.User = o.User.clone()
			o.User.deactivate(p.Erase)
		}
	}
}

// partial says, after a failure, what of a user's changes was applied
// before it and what was not sent after it.
type partial struct {
	applied, notSent []string
}

// Render is "; already applied: a, b; not sent: c", or "" when the failed
// request was the only one.
func (pt partial) Render(problem.Naming) string {
	out := ""
	if len(pt.applied) > 0 {
		out += "; already applied: " + strings.Join(pt.applied, ", ")
	}
	if len(pt.notSent) > 0 {
		out += "; not sent: " + strings.Join(pt.notSent, ", ")
	}
	return out
}

// keepKnown is the account a PUT answered, with the values of the fields
// it does not carry (those with endpoints of their own, those the release
// does not report) kept from what was known before.
func keepKnown(after *Account, before ...*Account) *Account {
	for _, f := range fields {
		if _, ok := after.Value(f.Name); ok {
			continue
		}
		for _, b := range before {
			if b == nil {
				continue
			}
			if v, ok := b.Value(f.Name); ok {
				after.set(f.Name, v)
				break
			}
		}
	}
	return after
}

// refusesPasswords tells a 403 to a PUT that carries a password. The token
// has just read (and created) accounts, so it is an admin's: this 403 is
// Synapse's refusal to set passwords at all, which it gives when password
// login or its local password database is off (password_config.enabled,
// password_config.localdb_enabled: SSO-only servers, LDAP without local
// passwords). The token's own explanation (not a server admin) would
// mislead.
func refusesPasswords(err error, upd synapse.UserUpdate) bool {
	return upd.Password() != nil && synapse.StatusOf(err) == http.StatusForbidden
}

// interrupted stops a write that has not been sent when the run was
// interrupted (SIGTERM, SIGINT, the task's timeout): the user fails, saying
// what was not sent, and counts as changed only for what was sent before.
func (r *Runner) interrupted(ctx context.Context, o *Outcome, format string, args ...any) bool {
	if ctx.Err() == nil {
		return false
	}
	o.fail(problem.Errorf(problem.Interrupted, format+": the run was interrupted (%s)", append(args, context.Cause(ctx))...))
	return true
}

// withoutPassword tells what an account created without the rest of its
// declaration lacks, when that is its password: a rerun with on_create
// cannot tell this account from one someone else made, and leaves it.
func withoutPassword(fields []string) *problem.Message {
	if !slices.Contains(fields, "password") {
		return problem.Errorf(problem.Note, "")
	}
	return problem.Errorf(problem.Note, " (its password is not set, and a rerun with %s: on_create leaves an existing account's password alone: rerun with %s: always for it)",
		problem.Name("update_password"), problem.Name("update_password"))
}

func isAre(fields []string) string {
	if len(fields) == 1 {
		return "was"
	}
	return "were"
}

// maybeSuffix says that a failed write may have been applied anyway.
func maybeSuffix(err error, maybe bool) string {
	switch {
	case !maybe:
		return ""
	case synapse.StatusOf(err) >= 400 && synapse.StatusOf(err) < 500:
		return "; Synapse applies the fields one by one, so some may have been set (rerun to see)"
	}
	return "; the request may still have been applied (rerun to see)"
}

// bodyFields names the fields a PUT body sets, in report order.
func bodyFields(u synapse.UserUpdate) []string {
	var names []string
	for _, f := range fields {
		if f.Synapse.Key != "" && u.Has(f.Synapse.Key) {
			names = append(names, f.Name)
		}
	}
	if u.Has(stateDeactivated) {
		names = append(names, stateDeactivated)
	}
	return ordered(names)
}

func (r *Runner) applyRegister(ctx context.Context, p *Plan, o *Outcome) {
	if r.interrupted(ctx, o, "%s was not registered", o.Name()) {
		return
	}
	reg, err := r.Client.Register(ctx, r.SharedSecret, *p.Register)
	switch {
	case err == nil:
		o.Wrote = true
		declared := o.UserID
		if reg.UserID != "" {
			o.UserID = reg.UserID
			if o.User != nil {
				o.User = o.User.clone()
				o.User.ID = reg.UserID
			}
		}
		// The result names the account Synapse created, never the one
		// declared: with a wrong server_name they differ, and reporting the
		// declared one would hide a stray account.
		if declared != "" && reg.UserID != "" && !strings.EqualFold(declared, reg.UserID) {
			o.fail(problem.Errorf(problem.OtherServer, "Synapse registered %s, not the declared %s: %s (%s) is not this homeserver's name; %s now exists, fix %s (and deactivate %s if it was not wanted)",
				reg.UserID, declared, problem.Name("server_name"), r.ServerName, reg.UserID, problem.Name("server_name"), reg.UserID).About(p.Desired.Entry))
			return
		}
	case synapse.HasErrcode(err, synapse.ErrcodeUserInUse) && reg != nil && reg.Retried:
		// An earlier attempt lost its answer, and the retry finds the user:
		// that attempt created it with the declared password, or someone
		// else registered it meanwhile (then the password was not set).
		// Nothing can be read to tell.
		o.MaybeWrote = true
		o.Action, o.Changes, o.User = ActionUnverified, nil, nil
		o.Before, o.After = nil, nil
		o.Warnings = append(o.Warnings, problem.Errorf(problem.Unverified, "%s: the answer to the first registration attempt was lost, and the retry found the user: that attempt created it, or someone else registered it at the same moment (then the declared password was not set); with only %s it cannot be read to tell",
			o.Name(), problem.Name("registration_shared_secret")))
	case synapse.HasErrcode(err, synapse.ErrcodeUserInUse):
		// The account exists, and nothing about it can be read: what the
		// declaration manages beyond its existence can neither be applied
		// nor verified, so it fails; a bare existing account is unverified.
		o.Action, o.Changes = ActionUnverified, nil
		o.Before, o.After, o.User = nil, nil, nil
		rest := p.Desired.Declared()
		if p.Desired.UpdatePassword != PasswordAlways && !r.Seed {
			rest = slices.DeleteFunc(rest, func(f string) bool { return f == "password" })
		}
		if len(rest) > 0 {
			o.fail(problem.Errorf(problem.Unverified, "%s exists, and its %s could not be checked or set: with only %s an existing user cannot be read or changed; give %s",
				o.Name(), andNames(rest), problem.Name("registration_shared_secret"), problem.AdminCredentials{}))
		}
	default:
		o.User = nil
		if synapse.MayHaveApplied(err, 1) {
			o.MaybeWrote = true
			o.fail(problem.Errorf(problem.Server, "cannot register %s: %s; the request may still have created it (rerun to see)", o.Name(), r.explain(err)))
			return
		}
		o.fail(problem.Errorf(problem.Server, "cannot register %s: %s", o.Name(), r.explain(err)))
	}
}
