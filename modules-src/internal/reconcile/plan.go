package reconcile

import (
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Action is what a run does, or in check mode would do, to one user.
type Action string

// The outcomes a user can have; a batch result counts them.
const (
	ActionUnchanged   Action = "unchanged"
	ActionCreated     Action = "created"
	ActionUpdated     Action = "updated"
	ActionDeactivated Action = "deactivated"
	ActionReactivated Action = "reactivated"
	ActionFailed      Action = "failed"
	// ActionUnverified: nothing could be read (only the shared secret was
	// given) and check mode may not write, so nothing is known.
	ActionUnverified Action = "unverified"
)

// Changes reports whether the action modifies the server.
func (a Action) Changes() bool {
	return a == ActionCreated || a == ActionUpdated || a == ActionDeactivated || a == ActionReactivated
}

// PasswordCheck is what is known about a declared password compared with the
// stored one.
type PasswordCheck int

// The results of comparing a declared password with the stored hash.
const (
	PasswordNotChecked PasswordCheck = iota // not needed (on_create, new user)
	PasswordSame
	PasswordDifferent
	PasswordUnreadable // the server does not expose hashes
)

// Facts are what planning needs to know about the run.
type Facts struct {
	// Me is the admin the module acts as; "" with only the shared secret.
	Me string
	// ServiceAdmin is the collection's service admin (session), which
	// exclusive mode never deactivates, whoever the module acts as; "" when
	// service_account is off.
	ServiceAdmin string
	// CanRead is false when only the shared secret is given: users can be
	// registered but not read or modified.
	CanRead bool
}

// Plan is the set of requests that bring one user to its declared state.
// It holds the password to send, so it is never put into a result: results
// are built from the views it offers (Changes, Before, After, Predicted).
type Plan struct {
	UserID  string
	Desired *Desired
	Current *Account // nil: the user does not exist (or cannot be read)
	Action  Action
	// Changes names the fields that change, in report order.
	Changes []string

	// Register creates the user with the shared secret.
	Register *synapse.Registration
	// Create creates the user with a PUT that carries nothing
	// (synapse.Client.CreateUser), so that it cannot change an account
	// that appeared since it was read; Update and Writes then set the
	// rest, the password included, only if that PUT created the account.
	Create bool
	// Update is the body of a PUT that modifies the user (after Create,
	// everything a PUT can set on the new account); nil for none.
	Update synapse.UserUpdate
	// Writes are the fields set with endpoints of their own, after the
	// PUT (Synapse needs the account to exist), in report order.
	Writes []FieldWrite
	// Deactivate deactivates the user last (erasing it with Erase).
	Deactivate bool
	Erase      bool

	// Predicted is the user as it will be once the plan is applied.
	Predicted *Account
	// Before and After show the declared fields for --diff.
	Before, After map[string]any

	// PasswordUnverified is set when a password is sent without knowing
	// whether it differs, because the server does not expose hashes.
	PasswordUnverified bool
	// PasswordKept is set when a declared password is not sent to an
	// existing account because update_password is on_create.
	PasswordKept bool
	// PasswordNote says what sending the password does to the user's other
	// sessions; "" when no password of an active account is sent.
	PasswordNote string
	Warnings     []*problem.Message
	// Err is set when the declaration cannot be applied; nothing is sent.
	Err error
}

// FieldWrite is a field set with an endpoint of its own.
type FieldWrite struct {
	Field *Field
	Value any
}

// Password markers shown in diffs instead of any password.
const (
	passwordHidden  = "********"
	passwordChanged = "******** (changed)"
	passwordSet     = "******** (set)"
)

// PlanUser compares one declared user with its current state and decides
// the requests to send. It is pure: everything it needs has been read (a
// declared field the current account has no value for is sent).
func PlanUser(d *Desired, id string, current *Account, pw PasswordCheck, f Facts) *Plan {
	p := &Plan{UserID: id, Desired: d, Current: current}
	switch {
	case !f.CanRead:
		planRegister(p, d)
	case current == nil:
		planCreate(p, d)
	case d.State == StateAbsent:
		planDeactivate(p, d, current, f)
	default:
		planModify(p, d, current, pw, f)
	}
	if p.Err == nil && p.Action != ActionUnchanged {
		p.Before, p.After = diffViews(d, current, p.Predicted, p)
	}
	return p
}

func planRegister(p *Plan, d *Desired) {
	if err := d.CheckSharedSecret(); err != nil {
		p.Err = err
		return
	}
	if d.Password() == nil {
		p.Err = problem.Errorf(problem.Credentials, "%s is required when only %s is given: shared-secret registration needs one", problem.Name("password"), problem.Name("registration_shared_secret"))
		return
	}
	reg := &synapse.Registration{Localpart: d.Localpart}
	a := newAccount(p.UserID, d.Localpart)
	// Nothing can be read with only the shared secret: what a
	// registration does not set is not known.
	a.forget("threepids")
	a.forget("external_ids")
	for _, f := range fields {
		if v, ok := d.Value(f.Name); ok && f.Register != nil {
			f.Register(v, reg)
			if !f.Secret {
				a.set(f.Name, v)
			}
		}
	}
	p.Register = reg
	p.Action = ActionCreated
	p.Changes = d.Declared()
	p.Predicted = a
}

func planCreate(p *Plan, d *Desired) {
	p.Action = ActionCreated
	p.Create = true
	a := newAccount(p.UserID, d.Localpart)
	if d.State == StateAbsent {
		// Creating the account deactivated reserves the ID: Synapse never
		// lets anyone register a deactivated user's ID again. A create
		// ignores "deactivated", so it is a request of its own.
		p.Deactivate, p.Erase = true, d.Erase
		p.Changes = []string{stateDeactivated}
		if d.Erase {
			p.Changes = append(p.Changes, stateErased)
		}
		a.deactivate(d.Erase)
		p.Predicted = a
		return
	}
	p.Update, p.Writes = CreateRest(d, a)
	for _, name := range d.Declared() {
		if f := mustField(name); !f.Secret {
			v, _ := d.Value(name)
			a.set(name, v)
		}
	}
	p.Changes = d.Declared()
	p.Predicted = a
}

// CreateRest is what gives an account just created (created, as Synapse
// answered the create) everything the declaration sets: the PUT that sets
// the password and each declared field of the PUT's body that differs
// from what Synapse gave the new account (nil when there is none), and
// the fields with endpoints of their own that differ from a new account's.
func CreateRest(d *Desired, created *Account) (synapse.UserUpdate, []FieldWrite) {
	body := synapse.UserUpdate{}
	var writes []FieldWrite
	for _, f := range fields {
		v, ok := d.Value(f.Name)
		if !ok {
			continue
		}
		cur, known := created.Value(f.Name)
		if !known && f.Zero != nil {
			cur, known = f.Zero, true // a new account's, which no answer carries
		}
		if !f.Secret && known && equal(v, cur) {
			continue
		}
		if f.Synapse.Key != "" {
			f.body(v, body)
		} else {
			writes = append(writes, FieldWrite{Field: f, Value: v})
		}
	}
	if body.Password() != nil {
		// The account is this run's and a moment old: no session of it
		// exists to log out.
		body.Set("logout_devices", false)
	}
	if len(body) == 0 {
		body = nil
	}
	return body, writes
}

func planDeactivate(p *Plan, d *Desired, cur *Account, f Facts) {
	a := cur.clone()
	switch {
	case !cur.Deactivated:
		if f.Me != "" && p.UserID == f.Me {
			p.Err = problem.Errorf(problem.SelfGuard, "refusing to deactivate %s: it is the admin this module authenticates as", p.UserID)
			return
		}
		p.Action = ActionDeactivated
		p.Deactivate, p.Erase = true, d.Erase
		p.Changes = []string{stateDeactivated}
		if d.Erase && !cur.Erased {
			p.Changes = append(p.Changes, stateErased)
		}
	case d.Erase && !cur.Erased:
		// Already deactivated but not erased: erasing is a second
		// deactivation with erase set.
		p.Action = ActionUpdated
		p.Deactivate, p.Erase = true, true
		p.Changes = []string{stateErased}
	default:
		p.Action = ActionUnchanged
	}
	if p.Deactivate {
		a.deactivate(p.Erase)
	}
	p.Predicted = a
}

func planModify(p *Plan, d *Desired, cur *Account, pw PasswordCheck, f Facts) {
	upd := synapse.UserUpdate{}
	var changes []string
	self := f.Me != "" && p.UserID == f.Me
	a := cur.clone()

	for _, fld := range fields {
		v, declared := d.Value(fld.Name)
		if !declared || fld.Secret {
			continue
		}
		if now, known := cur.Value(fld.Name); known && equal(v, now) {
			continue
		}
		if self && fld.SelfGuard != nil {
			if err := fld.SelfGuard(v, p.UserID); err != nil {
				p.Err = err
				return
			}
		}
		if fld.Synapse.Key != "" {
			fld.body(v, upd)
		} else {
			p.Writes = append(p.Writes, FieldWrite{Field: fld, Value: v})
		}
		a.set(fld.Name, v)
		changes = append(changes, fld.Name)
	}
	if pwd := d.Password(); pwd != nil {
		send := false
		switch {
		case cur.Deactivated:
			// Deactivation removed the password: a reactivated account
			// gets the declared one whatever update_password says.
			send = true
		case d.UpdatePassword == PasswordAlways:
			switch pw {
			case PasswordSame:
			case PasswordUnreadable:
				send, p.PasswordUnverified = true, true
			default:
				send = true
			}
		}
		if send {
			mustField("password").body(*pwd, upd)
			upd.Set("logout_devices", d.LogoutDevices)
			changes = append(changes, "password")
			if !cur.Deactivated {
				p.PasswordNote = logoutNote(d.LogoutDevices)
			}
		} else if d.UpdatePassword != PasswordAlways {
			p.PasswordKept = true
		}
	}
	p.Action = ActionUpdated
	if cur.Deactivated {
		upd.Set(stateDeactivated, false)
		changes = append(changes, stateDeactivated)
		a.Deactivated, a.Erased = false, false
		p.Action = ActionReactivated
		if d.Password() == nil {
			p.Warnings = append(p.Warnings, problem.Errorf(problem.Note, "%s is reactivated without a password: deactivation removed it, so the account cannot log in with one until a password is set", p.UserID))
		}
	}
	if len(changes) == 0 {
		p.Action = ActionUnchanged
		a = cur
	}
	if len(upd) > 0 {
		p.Update = upd
	}
	p.Changes = ordered(changes)
	p.Predicted = a
}

// logoutNote says what a password change does to the user's other sessions
// (Synapse's logout_devices).
func logoutNote(logout bool) string {
	if logout {
		return "logs the user out of their other sessions"
	}
	return "keeps the user's other sessions logged in (logout_devices is false)"
}

// CheckSharedSecret refuses, before any request, what a run with only the
// registration shared secret can neither apply nor verify: a deactivation,
// and the fields a shared-secret registration cannot set.
func (d *Desired) CheckSharedSecret() error {
	if d.State == StateAbsent {
		return problem.Errorf(problem.Credentials, "%s=absent needs %s: %s can only create users",
			problem.Name("state"), problem.AdminCredentials{}, problem.Name("registration_shared_secret")).About(d.Entry)
	}
	if rest := d.Unsettable(); len(rest) > 0 {
		return problem.Errorf(problem.Credentials, "%s cannot be set with only %s (a shared-secret registration sets only %s); give %s",
			andNames(rest), problem.Name("registration_shared_secret"), andNames(registrableFields()), problem.AdminCredentials{}).About(d.Entry)
	}
	return nil
}

// Unsettable lists the declared fields that shared-secret registration
// cannot set.
func (d *Desired) Unsettable() []string {
	var out []string
	for _, f := range fields {
		if _, ok := d.Value(f.Name); ok && f.Register == nil {
			out = append(out, f.Name)
		}
	}
	return out
}

// Declared lists every field the declaration manages, in report order.
func (d *Desired) Declared() []string {
	var out []string
	for _, f := range fields {
		if _, ok := d.Value(f.Name); ok {
			out = append(out, f.Name)
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
