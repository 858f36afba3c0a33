package reconcile

import (
	"slices"

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
	// CanRead is false when only the shared secret is given: users can be
	// registered but not read or modified.
	CanRead bool
	// LockUnsupported is true when the server cannot lock users (Synapse
	// before 1.91: its user API has no "locked", and a PUT ignores it).
	LockUnsupported bool
}

// Plan is the set of requests that bring one user to its declared state.
// It holds the password to send, so it is never put into a result: results
// are built from the views it offers (Changes, Before, After, Predicted).
type Plan struct {
	UserID  string
	Desired *Desired
	Current *synapse.User // nil: the user does not exist (or cannot be read)
	Action  Action
	// Changes names the fields that change, in a fixed order.
	Changes []string

	// Register creates the user with the shared secret.
	Register *synapse.Registration
	// Create creates the user with a PUT that carries nothing
	// (synapse.Client.CreateUser), so that it cannot change an account
	// that appeared since it was read; Update then sets the rest, the
	// password included, only if that PUT created the account.
	Create bool
	// Update is the body of a PUT that modifies the user: after Create,
	// everything the declaration sets on the new account.
	Update *synapse.UserUpdate
	// Deactivate deactivates the user last (erasing it with Erase).
	Deactivate bool
	Erase      bool

	// Predicted is the user as it will be once the plan is applied.
	Predicted *synapse.User
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

// Password markers shown in diffs instead of any password.
const (
	passwordHidden  = "********"
	passwordChanged = "******** (changed)"
	passwordSet     = "******** (set)"
)

// PlanUser compares one declared user with its current state and decides
// the requests to send. It is pure: everything it needs has been read.
func PlanUser(d *Desired, id string, current *synapse.User, pw PasswordCheck, f Facts) *Plan {
	p := &Plan{UserID: id, Desired: d, Current: current}
	if f.CanRead && f.LockUnsupported && d.Locked != nil && *d.Locked {
		// Sending it would report a change on every run and lock nobody.
		p.Err = problem.Errorf(problem.Unsupported, "%s: this Synapse cannot lock users (its admin API has no \"locked\"; locking needs Synapse 1.91 or later), so %s was left alone: remove %s: true or upgrade Synapse",
			problem.Name("locked"), d.Entry, problem.Name("locked"))
		return p
	}
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
	if d.Password == nil {
		p.Err = problem.Errorf(problem.Credentials, "%s is required when only %s is given: shared-secret registration needs one", problem.Name("password"), problem.Name("registration_shared_secret"))
		return
	}
	reg := &synapse.Registration{Localpart: d.Localpart, Password: *d.Password, Displayname: d.Displayname}
	if d.Admin != nil {
		reg.Admin = *d.Admin
	}
	if d.UserType != nil {
		reg.UserType = *d.UserType
	}
	p.Register = reg
	p.Action = ActionCreated
	p.Changes = declaredFields(d, true)
	u := newUser(p.UserID, d.Localpart)
	u.Admin = synapse.Flag(reg.Admin)
	if reg.UserType != "" {
		u.UserType = &reg.UserType
	}
	if d.Displayname != nil {
		u.Displayname = emptyToNil(*d.Displayname)
	}
	u.Detailed = false
	p.Predicted = u
}

func planCreate(p *Plan, d *Desired) {
	p.Action = ActionCreated
	p.Create = true
	u := newUser(p.UserID, d.Localpart)
	if d.State == StateAbsent {
		// Creating the account deactivated reserves the ID: Synapse never
		// lets anyone register a deactivated user's ID again. A create
		// ignores "deactivated", so it is a request of its own.
		p.Deactivate, p.Erase = true, d.Erase
		p.Changes = []string{"deactivated"}
		if d.Erase {
			p.Changes = append(p.Changes, "erased")
		}
		applyDeactivation(u, d.Erase)
		p.Predicted = u
		return
	}
	p.Update = CreateRest(d, u)
	if p.Update != nil {
		applyUpdate(u, *p.Update)
	}
	p.Changes = declaredFields(d, false)
	p.Predicted = u
}

// CreateRest is the PUT that gives an account just created (created, as
// Synapse answered the create) everything the declaration sets: the
// password, and each declared field that differs from what Synapse gave the
// new account. nil when there is nothing to send.
func CreateRest(d *Desired, created *synapse.User) *synapse.UserUpdate {
	body := synapse.UserUpdate{}
	send := false
	for _, f := range fields {
		if f.given == nil || !f.given(d) || f.differs != nil && !f.differs(d, created) {
			continue
		}
		f.send(d, &body)
		send = true
	}
	if !send {
		return nil
	}
	if body.Password != nil {
		// The account is this run's and a moment old: no session of it
		// exists to log out.
		logout := false
		body.LogoutDevices = &logout
	}
	return &body
}

func planDeactivate(p *Plan, d *Desired, cur *synapse.User, f Facts) {
	u := cloneUser(cur)
	switch {
	case !bool(cur.Deactivated):
		if f.Me != "" && p.UserID == f.Me {
			p.Err = problem.Errorf(problem.SelfGuard, "refusing to deactivate %s: it is the admin this module authenticates as", p.UserID)
			return
		}
		p.Action = ActionDeactivated
		p.Deactivate, p.Erase = true, d.Erase
		p.Changes = []string{"deactivated"}
		if d.Erase && !bool(cur.Erased) {
			p.Changes = append(p.Changes, "erased")
		}
	case d.Erase && !bool(cur.Erased):
		// Already deactivated but not erased: erasing is a second
		// deactivation with erase set.
		p.Action = ActionUpdated
		p.Deactivate, p.Erase = true, true
		p.Changes = []string{"erased"}
	default:
		p.Action = ActionUnchanged
	}
	if p.Deactivate {
		applyDeactivation(u, p.Erase)
	}
	p.Predicted = u
}

func planModify(p *Plan, d *Desired, cur *synapse.User, pw PasswordCheck, f Facts) {
	upd := synapse.UserUpdate{}
	var changes []string
	self := f.Me != "" && p.UserID == f.Me

	for _, fld := range fields {
		if fld.differs == nil || !fld.given(d) || !fld.differs(d, cur) {
			continue
		}
		if self && fld.selfGuard != nil {
			if err := fld.selfGuard(d, p.UserID); err != nil {
				p.Err = err
				return
			}
		}
		fld.send(d, &upd)
		changes = append(changes, fld.name)
	}
	if d.Password != nil {
		send := false
		switch {
		case bool(cur.Deactivated):
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
			upd.Password, changes = d.Password, append(changes, "password")
			logout := d.LogoutDevices
			upd.LogoutDevices = &logout
			if !bool(cur.Deactivated) {
				p.PasswordNote = logoutNote(logout)
			}
		} else if d.UpdatePassword != PasswordAlways {
			p.PasswordKept = true
		}
	}
	p.Action = ActionUpdated
	if bool(cur.Deactivated) {
		f := false
		upd.Deactivated, changes = &f, append(changes, "deactivated")
		p.Action = ActionReactivated
		if d.Password == nil {
			p.Warnings = append(p.Warnings, problem.Errorf(problem.Note, "%s is reactivated without a password: deactivation removed it, so the account cannot log in with one until a password is set", p.UserID))
		}
	}
	u := cloneUser(cur)
	if len(changes) == 0 {
		p.Action = ActionUnchanged
	} else {
		p.Update = &upd
		applyUpdate(u, upd)
	}
	p.Changes = ordered(changes)
	p.Predicted = u
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
		if f.given != nil && f.given(d) && !f.registrable {
			out = append(out, f.name)
		}
	}
	return out
}

// Declared lists every field the declaration manages, in report order.
func (d *Desired) Declared() []string {
	return declaredFields(d, false)
}

func newUser(id, localpart string) *synapse.User {
	// Synapse gives a new user its localpart as display name unless one is set.
	name := localpart
	return &synapse.User{Name: id, Displayname: &name, Threepids: []synapse.Threepid{}, ExternalIDs: []synapse.ExternalID{}, Detailed: true}
}

func cloneUser(u *synapse.User) *synapse.User {
	c := *u
	c.Threepids = slices.Clone(u.Threepids)
	c.ExternalIDs = slices.Clone(u.ExternalIDs)
	return &c
}

// applyUpdate predicts the effect of a PUT on u.
func applyUpdate(u *synapse.User, upd synapse.UserUpdate) {
	if upd.Displayname != nil {
		u.Displayname = emptyToNil(*upd.Displayname)
	}
	if upd.AvatarURL != nil {
		u.AvatarURL = emptyToNil(*upd.AvatarURL)
	}
	if upd.UserType != nil {
		u.UserType = emptyToNil(*upd.UserType)
	}
	if upd.Admin != nil {
		u.Admin = synapse.Flag(*upd.Admin)
	}
	if upd.Locked != nil {
		u.Locked = synapse.Flag(*upd.Locked)
	}
	if upd.Deactivated != nil {
		u.Deactivated = synapse.Flag(*upd.Deactivated)
		if !*upd.Deactivated {
			u.Erased = false
		}
	}
	if upd.Threepids != nil {
		u.Threepids = slices.Clone(*upd.Threepids)
	}
	if upd.ExternalIDs != nil {
		u.ExternalIDs = slices.Clone(*upd.ExternalIDs)
	}
}

// applyDeactivation predicts what Synapse's deactivation does: it removes
// the password and the threepids, and erasing also removes the profile.
func applyDeactivation(u *synapse.User, erase bool) {
	u.Deactivated = true
	u.Threepids = []synapse.Threepid{}
	if erase {
		u.Erased = true
		u.Displayname, u.AvatarURL = nil, nil
	}
}

func sameThreepids(want, have []synapse.Threepid) bool {
	h := make([]synapse.Threepid, len(have))
	copy(h, have)
	sortThreepids(h)
	return slices.Equal(want, h)
}

func sameExternalIDs(want, have []synapse.ExternalID) bool {
	h := make([]synapse.ExternalID, len(have))
	copy(h, have)
	sortExternalIDs(h)
	return slices.Equal(want, h)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func emptyToNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
