package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/mas"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// MASClient is every call the MAS backend makes: MAS's admin API
// (*mas.Client in a run).
type MASClient interface {
	UserByUsername(ctx context.Context, username string) (*mas.User, error)
	CreateUser(ctx context.Context, u mas.NewUser) (*mas.User, error)
	SetAdmin(ctx context.Context, id string, admin bool) (*mas.User, error)
	Lock(ctx context.Context, id string) (*mas.User, error)
	Unlock(ctx context.Context, id string) (*mas.User, error)
	Deactivate(ctx context.Context, id string, erase bool) (*mas.User, error)
	Reactivate(ctx context.Context, id string) (*mas.User, error)
	ListUsers(ctx context.Context, pageSize int) ([]mas.User, int, error)
	UserEmails(ctx context.Context, id string) ([]mas.Email, error)
	AddUserEmail(ctx context.Context, id, email string) error
	DeleteUserEmail(ctx context.Context, emailID string) error
	SetPassword(ctx context.Context, id, password string, skipCheck bool) error
	CompatLogin(ctx context.Context, username, password string) (token string, match bool, err error)
	CompatLogout(ctx context.Context, token string) error
}

var _ MASClient = (*mas.Client)(nil)

// ProfileReader reads the profile Synapse keeps under MAS (*synapse.Client:
// its public profile endpoint, which needs no token).
type ProfileReader interface {
	Profile(ctx context.Context, userID string) (*synapse.Profile, error)
}

// masFields says, for every field of the fields table, what the MAS
// backend does with it: applied through a MAS endpoint ("" reason), or
// refused before any request, with the reason the message gives.
var masFields = map[string]string{
	"admin":    "", // POST /users/<id>/set-admin (MAS's flag; Synapse's own admin stays false)
	"locked":   "", // POST /users/<id>/lock, /unlock
	"password": "", // POST /users/<id>/set-password; update_password=always verifies through MAS's compatibility login
	// Given to MAS's create; for an existing user, read from Synapse's
	// public profile, and a difference fails (MASRunner.profile).
	"displayname":   "",
	"avatar_url":    "",
	"threepids":     "", // MAS's user-emails (email only; an msisdn is refused by CheckMAS)
	"external_ids":  "MAS's upstream links (upstream-oauth-links) are not managed by the MAS backend yet",
	"user_type":     "it stays in Synapse, whose admin API the MAS backend does not use yet",
	"ratelimit":     "it stays in Synapse, whose admin API the MAS backend does not use yet",
	"shadow_banned": "it stays in Synapse, whose admin API the MAS backend does not use yet",
	"suspended":     "it stays in Synapse, whose admin API the MAS backend does not use yet",
}

// CheckMAS refuses, before any request, what the MAS backend cannot
// apply: a field it does not manage, update_password=always (MAS exposes
// no password hashes to compare with).
func CheckMAS(desired []*Desired) error {
	for _, d := range desired {
		declared := d.Declared()
		sort.Strings(declared)
		for _, name := range declared {
			reason, known := masFields[name]
			if !known {
				reason = "the MAS backend does not manage it"
			}
			if reason != "" {
				return problem.Errorf(problem.Unsupported, "%s cannot be managed on a homeserver that delegates to MAS: %s; leave it out of the declaration", problem.Name(name), reason).About(d.Entry)
			}
		}
		if v, ok := d.Value("threepids"); ok {
			for _, t := range v.([]synapse.Threepid) {
				if t.Medium != "email" {
					return problem.Errorf(problem.Unsupported, "%s: a %s of medium %s cannot be managed on a homeserver that delegates to MAS, which keeps email addresses only", problem.Name("threepids"), problem.Name("threepids"), t.Medium).About(d.Entry)
				}
			}
		}
		if v, ok := d.Value("locked"); ok && v.(bool) && d.UpdatePassword == PasswordAlways && d.Password() != nil {
			return problem.Errorf(problem.Unsupported, "%s=always cannot be kept for a locked user on a homeserver that delegates to MAS: the password is verified by logging in through MAS, which refuses a locked user; use %s=on_create",
				problem.Name("update_password"), problem.Name("update_password")).About(d.Entry)
		}
	}
	return nil
}

// MASRunner brings declared users to their state through MAS's admin API.
// It gives the same outcomes as Runner, so that the modules' results have
// the same shapes whatever the backend.
type MASRunner struct {
	Client MASClient
	// Profiles reads the display name and avatar, which stay in Synapse.
	Profiles   ProfileReader
	ServerName string
	CheckMode  bool
	// Concurrency bounds the users handled at once.
	Concurrency int
	// Exclusive deactivates every active MAS user the list does not
	// declare, except legacy guests and users a Protect pattern matches,
	// within the threshold (Runner's).
	Exclusive               bool
	Protect                 []string
	MaxDeactivations        int
	MaxDeactivationsPercent int
	// Adopt creates in MAS a declared user that Synapse has and MAS does
	// not (MAS's create with skip_homeserver_check); without it, such a
	// user fails (createError).
	Adopt bool
	// Seed and SeedReactivate are Runner's (the register-user extra vars).
	Seed           bool
	SeedReactivate bool

	// LoginLimitWait overrides loginLimitWait (tests).
	LoginLimitWait time.Duration
	// loginMu keeps the password checks one at a time: MAS's login rate
	// limit allows a burst of 3 per address by default.
	loginMu sync.Mutex
}

// loginLimitWait is how long a password check waits after MAS's login
// rate limit refused it, once: MAS refills one login every 20 s by default
// and says no Retry-After.
const loginLimitWait = 21 * time.Second

// verifyPassword reports whether password is the user's, through MAS's
// compatibility login, ending the session at once (MAS deletes its device
// in Synapse within about a second).
func (r *MASRunner) verifyPassword(ctx context.Context, id, username, password string) (bool, error) {
	r.loginMu.Lock()
	defer r.loginMu.Unlock()
	wait := loginLimitWait
	if r.LoginLimitWait > 0 {
		wait = r.LoginLimitWait
	}
	for attempt := 0; ; attempt++ {
		token, match, err := r.Client.CompatLogin(ctx, username, password)
		if mas.StatusOf(err) == http.StatusTooManyRequests && attempt == 0 {
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-time.After(wait):
				continue
			}
		}
		if mas.StatusOf(err) == http.StatusTooManyRequests {
			return false, problem.Errorf(problem.Server, "MAS's login rate limit refused the check of %s's password (%s), also after waiting %s: %s=always logs in once per user, and MAS allows 3 logins per address and then one every 20 s by default; raise rate_limiting.login.per_ip in MAS's config (e.g. burst: 100, per_second: 10 for the loopback the module runs on) or use %s=on_create",
				id, err, wait, problem.Name("update_password"), problem.Name("update_password"))
		}
		if err != nil || !match {
			return false, err
		}
		// Logged in: the password matches. End the session now, however
		// the run goes on; a failed logout is reported, not ignored.
		logoutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.Client.CompatLogout(logoutCtx, token); err != nil {
			return true, problem.Errorf(problem.Server, "checked %s's password through MAS's login, but its logout failed (the session is left in MAS: end it with MAS's admin API, compat-sessions): %s", id, err)
		}
		return true, nil
	}
}

// Run reads each declared user from MAS, then creates or updates it.
func (r *MASRunner) Run(ctx context.Context, desired []*Desired) ([]*Outcome, error) {
	if err := CheckMAS(desired); err != nil {
		return nil, err
	}
	outcomes := make([]*Outcome, len(desired))
	for i, d := range desired {
		outcomes[i] = &Outcome{Entry: d.Entry}
		id, err := LocalID(d.Localpart, d.Server, Homeserver{Name: r.ServerName, Configured: true})
		if err != nil {
			outcomes[i].fail(about(err, d.Entry))
			continue
		}
		outcomes[i].UserID = id
	}
	var undeclared []*mas.User
	if r.Exclusive {
		var err error
		if undeclared, err = r.undeclared(ctx, desired); err != nil {
			return nil, err
		}
	}
	errs := forEach(len(desired), r.Concurrency, func(i int) error {
		if outcomes[i].Err != nil {
			return nil
		}
		r.reconcile(ctx, desired[i], outcomes[i])
		return nil
	})
	for i, err := range errs {
		if err != nil {
			outcomes[i].fail(err)
		}
	}
	for _, u := range undeclared {
		o := &Outcome{Undeclared: true, UserID: r.userID(u.Username),
			Action: ActionDeactivated, Changes: []string{stateDeactivated},
			Before: map[string]any{stateDeactivated: false}, After: map[string]any{stateDeactivated: true}}
		outcomes = append(outcomes, o)
		if r.CheckMode {
			p := *u
			p.DeactivatedAt = &now
			o.User = masAccount(o.UserID, &p)
			continue
		}
		after, err := r.Client.Deactivate(ctx, string(u.ID), false)
		if err != nil {
			failWrite(o, err)
			continue
		}
		o.Wrote = true
		o.User = masAccount(o.UserID, after)
	}
	return outcomes, nil
}

// now stands for a time MAS sets, in a check-mode prediction.
var now = "now"

func (r *MASRunner) userID(username string) string { return "@" + username + ":" + r.ServerName }

// undeclared lists MAS's users (cursor paging) and picks the active ones
// the list does not declare, protected ones and legacy guests excepted;
// more than the threshold allows fails before any write. Application
// service users (bridges' puppets) are Synapse's, not MAS's: never listed.
func (r *MASRunner) undeclared(ctx context.Context, desired []*Desired) ([]*mas.User, error) {
	patterns, err := compileProtect(r.Protect, r.ServerName)
	if err != nil {
		return nil, err
	}
	users, _, err := r.Client.ListUsers(ctx, listPageSize)
	if err != nil {
		return nil, fmt.Errorf("listing MAS's users for %s: %w", problem.Name("exclusive"), err)
	}
	declared := map[string]bool{}
	for _, d := range desired {
		declared[strings.ToLower(d.Localpart)] = true
	}
	var out []*mas.User
	deactivatable, protectedN := 0, 0
	for i := range users {
		u := &users[i]
		if u.Deactivated() || u.LegacyGuest {
			continue
		}
		if protected(r.userID(u.Username), patterns) {
			protectedN++
			continue
		}
		deactivatable++
		if !declared[strings.ToLower(u.Username)] {
			out = append(out, u)
		}
	}
	if limit := DeactivationLimit(r.MaxDeactivations, r.MaxDeactivationsPercent, deactivatable); len(out) > limit {
		names := make([]string, 0, 6)
		for _, u := range out {
			if len(names) == 5 {
				names = append(names, "...")
				break
			}
			names = append(names, r.userID(u.Username))
		}
		return nil, problem.Errorf(problem.Invalid, "%s would deactivate %d of the %d MAS accounts it may deactivate (%s), more than %s=%d and %s=%d%% allow (at most %d); nothing was changed. Declare them, protect them (%s), or raise the limits; %d protected accounts are never touched",
			problem.Name("exclusive"), len(out), deactivatable, strings.Join(names, ", "), problem.Name("max_deactivations"), r.MaxDeactivations, problem.Name("max_deactivations_percent"), r.MaxDeactivationsPercent, limit, problem.Name("protect"), protectedN)
	}
	return out, nil
}

// masAccount is the account a MAS user shows in results.
func masAccount(id string, u *mas.User) *Account {
	if u == nil {
		return nil
	}
	a := &Account{ID: id, Deactivated: u.Deactivated(), values: map[string]any{}}
	a.set("admin", u.Admin)
	a.set("locked", u.Locked())
	return a
}

func (r *MASRunner) reconcile(ctx context.Context, d *Desired, o *Outcome) {
	u, err := r.Client.UserByUsername(ctx, d.Localpart)
	if err != nil {
		o.fail(err)
		return
	}
	var steps []step
	flag := func(field string, current bool, apply func(id string, v bool) (*mas.User, error)) {
		v, ok := d.Value(field)
		if !ok || v.(bool) == current {
			return
		}
		want := v.(bool)
		steps = append(steps, step{field, current, want, func(id string) (*mas.User, error) { return apply(id, want) }})
	}
	setAdmin := func(id string, v bool) (*mas.User, error) { return r.Client.SetAdmin(ctx, id, v) }
	setLocked := func(id string, v bool) (*mas.User, error) {
		if v {
			return r.Client.Lock(ctx, id)
		}
		return r.Client.Unlock(ctx, id)
	}
	o.Before, o.After = map[string]any{}, map[string]any{}
	switch {
	case u == nil && d.State == StateAbsent:
		o.Action = ActionUnchanged
		return
	case u == nil:
		o.Action = ActionCreated
		o.Before = nil
		flag("admin", false, setAdmin)
		flag("locked", false, setLocked)
		predicted := &mas.User{Username: d.Localpart}
		for _, name := range []string{"displayname", "avatar_url"} {
			if v, ok := d.Value(name); ok {
				o.After[name] = v
			}
		}
		o.Changes = d.Declared()
		for _, s := range steps {
			o.After[s.field] = s.after
		}
		if r.CheckMode {
			for _, s := range steps {
				if s.field == "admin" {
					predicted.Admin = true
				}
				if s.field == "locked" {
					now := "now"
					predicted.LockedAt = &now
				}
			}
			o.User = withProfile(masAccount(o.UserID, predicted), d)
			return
		}
		nu := mas.NewUser{Username: d.Localpart}
		adopt := false
		if v, ok := d.Value("displayname"); ok {
			name := v.(string)
			nu.DisplayName = &name
		}
		if v, ok := d.Value("avatar_url"); ok {
			avatar := v.(string)
			nu.AvatarURL = &avatar
		}
		created, err := r.Client.CreateUser(ctx, nu)
		if r.Adopt && isReserved(err) {
			// Half-provisioned, and the user asked to adopt it.
			nu.SkipHomeserverCheck, adopt = true, true
			created, err = r.Client.CreateUser(ctx, nu)
		}
		if err != nil {
			o.fail(createError(o.UserID, err))
			return
		}
		if adopt {
			o.Warnings = append(o.Warnings, problem.Errorf(problem.Note, "%s existed in Synapse but not in MAS: MAS adopted Synapse's account (%s)", o.UserID, problem.Name("mas_adopt_synapse_accounts")))
		}
		o.Wrote = true
		id := string(created.ID)
		if pw := d.Password(); pw != nil {
			if err := r.Client.SetPassword(ctx, id, *pw, false); err != nil {
				o.fail(passwordError(o.UserID, err))
				return
			}
		}
		after := created
		if v, ok := d.Value("threepids"); ok {
			for _, t := range v.([]synapse.Threepid) {
				if err := r.Client.AddUserEmail(ctx, id, t.Address); err != nil {
					failWrite(o, err)
					return
				}
			}
		}
		for _, s := range steps {
			if after, err = s.apply(id); err != nil {
				failWrite(o, err)
				return
			}
		}
		o.User = withProfile(masAccount(o.UserID, after), d)
		return
	case d.State == StateAbsent:
		if u.Deactivated() {
			o.Action, o.Before, o.After = ActionUnchanged, nil, nil
			o.User = masAccount(o.UserID, u)
			return
		}
		o.Action, o.Changes = ActionDeactivated, []string{"deactivated"}
		o.Before["deactivated"], o.After["deactivated"] = false, true
		if r.CheckMode {
			now := "now"
			p := *u
			p.DeactivatedAt = &now
			o.User = masAccount(o.UserID, &p)
			return
		}
		after, err := r.Client.Deactivate(ctx, string(u.ID), d.Erase)
		if err != nil {
			failWrite(o, err)
			return
		}
		o.Wrote = true
		o.User = masAccount(o.UserID, after)
		o.User.Erased = d.Erase
		return
	}
	reactivate := u.Deactivated()
	if reactivate && r.Seed && !r.SeedReactivate {
		o.fail(problem.Errorf(problem.Invalid, "%s is deactivated; the register-user command does not bring back a deactivated account unless asked to (see the role's docs)", o.UserID))
		return
	}
	profile, err := r.profile(ctx, d, o.UserID)
	if err != nil {
		o.fail(err)
		return
	}
	if r.Seed && d.Password() != nil && d.UpdatePassword != PasswordAlways {
		o.Warnings = append(o.Warnings, problem.Errorf(problem.Note, "%s exists, so the password given was not applied: on a homeserver that delegates to MAS, a password is set only when the user is created (MAS exposes no password hashes to compare with)", o.UserID))
	}
	flag("admin", u.Admin, setAdmin)
	flag("locked", u.Locked(), setLocked)
	if pw := d.Password(); pw != nil && d.UpdatePassword == PasswordAlways {
		password := *pw
		setPassword := func(id string) (*mas.User, error) {
			if err := r.Client.SetPassword(ctx, id, password, false); err != nil {
				return nil, passwordError(o.UserID, err)
			}
			return r.Client.UserByUsername(ctx, d.Localpart)
		}
		switch {
		case reactivate:
			// A deactivated user cannot log in: the password is set (the
			// rerun then verifies it).
			steps = append(steps, step{"password", passwordHidden, passwordChanged, setPassword})
		case u.Locked():
			o.fail(problem.Errorf(problem.Unsupported, "%s is locked, so its password cannot be verified through MAS's login (%s=always); unlock it first, or use %s=on_create",
				o.UserID, problem.Name("update_password"), problem.Name("update_password")))
			return
		default:
			match, err := r.verifyPassword(ctx, o.UserID, d.Localpart, password)
			if err != nil {
				o.fail(err)
				return
			}
			if !match {
				steps = append(steps, step{"password", passwordHidden, passwordChanged, setPassword})
			}
		}
		if len(steps) > 0 && steps[len(steps)-1].field == "password" {
			o.PasswordNote = "other sessions are kept: MAS's set-password ends none"
		}
	}
	if v, ok := d.Value("threepids"); ok {
		step, current, err := r.emailStep(ctx, string(u.ID), d.Localpart, v.([]synapse.Threepid))
		if err != nil {
			o.fail(err)
			return
		}
		profile = profile.with("threepids", current)
		if step != nil {
			steps = append(steps, *step)
		}
	}
	if reactivate {
		o.Changes = append(o.Changes, "deactivated")
		o.Before["deactivated"], o.After["deactivated"] = true, false
	}
	for _, s := range steps {
		o.Changes = append(o.Changes, s.field)
		o.Before[s.field], o.After[s.field] = s.before, s.after
	}
	switch {
	case reactivate:
		o.Action = ActionReactivated
	case len(steps) > 0:
		o.Action = ActionUpdated
	default:
		o.Action, o.Before, o.After = ActionUnchanged, nil, nil
		o.User = profile.on(masAccount(o.UserID, u))
		return
	}
	if r.CheckMode {
		p := *u
		if reactivate {
			p.DeactivatedAt = nil
		}
		for _, s := range steps {
			switch s.field {
			case "admin":
				p.Admin = s.after.(bool)
			case "locked":
				if s.after.(bool) {
					now := "now"
					p.LockedAt = &now
				} else {
					p.LockedAt = nil
				}
			}
		}
		o.User = withSteps(profile.on(masAccount(o.UserID, &p)), steps)
		return
	}
	after := u
	var err2 error
	if reactivate {
		if after, err2 = r.Client.Reactivate(ctx, string(u.ID)); err2 != nil {
			failWrite(o, err2)
			return
		}
		o.Wrote = true
	}
	for _, s := range steps {
		if after, err2 = s.apply(string(u.ID)); err2 != nil {
			failWrite(o, err2)
			return
		}
		o.Wrote = true
	}
	o.User = withSteps(profile.on(masAccount(o.UserID, after)), steps)
}

// withSteps shows in an account the values of the steps MAS's user does
// not carry (the emails).
func withSteps(a *Account, steps []step) *Account {
	for _, s := range steps {
		if s.field == "threepids" {
			a.set(s.field, s.after)
		}
	}
	return a
}

// step is one change of the plan of a user, in the order they are applied.
type step struct {
	field  string
	before any
	after  any
	apply  func(id string) (*mas.User, error)
}

// masProfile is what was read of a user's declared fields that MAS's user
// does not carry (the profile in Synapse, the emails).
type masProfile map[string]any

// on shows them in an account.
func (p masProfile) on(a *Account) *Account {
	for k, v := range p {
		a.set(k, v)
	}
	return a
}

// with is p with one more value.
func (p masProfile) with(name string, v any) masProfile {
	if p == nil {
		p = masProfile{}
	}
	p[name] = v
	return p
}

// emailStep compares a user's MAS emails with the declared ones (email
// addresses compare without regard to case, as MAS does) and plans the
// additions and removals.
func (r *MASRunner) emailStep(ctx context.Context, id, localpart string, declared []synapse.Threepid) (*step, []synapse.Threepid, error) {
	emails, err := r.Client.UserEmails(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	current := make([]synapse.Threepid, 0, len(emails))
	have := map[string]mas.Email{}
	for _, e := range emails {
		current = append(current, synapse.Threepid{Medium: "email", Address: e.Email})
		have[strings.ToLower(e.Email)] = e
	}
	sortThreepids(current)
	want := map[string]bool{}
	var add []string
	for _, t := range declared {
		key := strings.ToLower(t.Address)
		want[key] = true
		if _, ok := have[key]; !ok {
			add = append(add, t.Address)
		}
	}
	var remove []string
	for key, e := range have {
		if !want[key] {
			remove = append(remove, string(e.ID))
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		return nil, current, nil
	}
	sort.Strings(remove)
	return &step{"threepids", current, declared, func(userID string) (*mas.User, error) {
		for _, addr := range add {
			if err := r.Client.AddUserEmail(ctx, userID, addr); err != nil {
				return nil, err
			}
		}
		for _, emailID := range remove {
			if err := r.Client.DeleteUserEmail(ctx, emailID); err != nil {
				return nil, err
			}
		}
		return r.Client.UserByUsername(ctx, localpart)
	}}, current, nil
}

// withProfile shows the declared profile of a new user.
func withProfile(a *Account, d *Desired) *Account {
	for _, name := range []string{"displayname", "avatar_url", "threepids"} {
		if v, ok := d.Value(name); ok {
			a.set(name, v)
		}
	}
	return a
}

// profile reads the declared profile fields of an existing user from
// Synapse and fails when they differ from the declaration: under MAS a
// change needs Synapse's admin API with a token MAS issues for the run,
// which the MAS backend does not do yet.
func (r *MASRunner) profile(ctx context.Context, d *Desired, id string) (masProfile, error) {
	var names []string
	for _, name := range []string{"displayname", "avatar_url"} {
		if _, ok := d.Value(name); ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	if r.Profiles == nil {
		return nil, problem.Errorf(problem.Unsupported, "%s cannot be read on this homeserver", problem.Name(names[0]))
	}
	p, err := r.Profiles.Profile(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading the profile of %s from Synapse: %w", id, err)
	}
	if p == nil {
		p = &synapse.Profile{}
	}
	got := map[string]string{"displayname": deref(p.DisplayName), "avatar_url": deref(p.AvatarURL)}
	out := masProfile{}
	for _, name := range names {
		v, _ := d.Value(name)
		out[name] = got[name]
		if v.(string) != got[name] {
			return nil, problem.Errorf(problem.Unsupported, "%s of %s is %q in Synapse, not the declared %q: on a homeserver that delegates to MAS, the MAS backend sets it only when it creates the user (changing it needs Synapse's admin API with a token MAS issues, not done yet); change it in a Matrix client, or leave %s out",
				problem.Name(name), id, got[name], v, problem.Name(name))
		}
	}
	return out, nil
}

// createError explains a create MAS refused: the name exists (raced in
// since the read), or Synapse has the account and MAS does not (the
// half-provisioned case, which is never adopted silently).
func createError(id string, err error) error {
	var e *mas.Error
	if errors.As(err, &e) && e.Status == http.StatusConflict {
		if isReserved(err) {
			return problem.Errorf(problem.Server, "%s exists in Synapse but not in MAS (half-provisioned: created behind MAS's back, e.g. through Synapse's admin API before Synapse 1.163): %s; MAS can adopt Synapse's account (its create with skip_homeserver_check), which this module does only with %s=true", id, err, problem.Name("mas_adopt_synapse_accounts"))
		}
		return problem.Errorf(problem.Server, "%s was created by someone else since it was read: %s; nothing was changed, run again", id, err)
	}
	return err
}

// passwordError names MAS's password policy when it refused the password.
func passwordError(id string, err error) error {
	var e *mas.Error
	if errors.As(err, &e) && e.Status == http.StatusBadRequest {
		return problem.Errorf(problem.Invalid, "%s was created, but MAS refused its %s: %s (MAS's passwords.minimum_complexity, a zxcvbn score); give a stronger password", id, problem.Name("password"), err)
	}
	return err
}

// isReserved reports MAS's refusal of a name Synapse holds.
func isReserved(err error) bool {
	var e *mas.Error
	return errors.As(err, &e) && e.Status == http.StatusConflict && strings.Contains(strings.Join(e.Titles, " "), "reserved by the homeserver")
}

// failWrite records a write MAS did not acknowledge: one whose answer was
// lost (no answer, a 5xx, an answer that is not MAS's) may have been
// applied, and the outcome says changed so that a rerun checks it; one
// MAS refused (a 4xx) was not.
func failWrite(o *Outcome, err error) {
	o.fail(err)
	var refused *mas.Error
	var foreign *httpapi.ResponseError
	var unreachable *httpapi.UnreachableError
	switch {
	case errors.As(err, &refused):
		o.MaybeWrote = refused.Status >= 500
	case errors.As(err, &foreign):
		o.MaybeWrote = foreign.Status >= 500 || foreign.Status < 300
	case errors.As(err, &unreachable):
		o.MaybeWrote = true
	}
}
