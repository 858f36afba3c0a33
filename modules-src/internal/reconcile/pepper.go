package reconcile

import (
	"context"
	"errors"

	"golang.org/x/text/unicode/norm"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// password_pepper is not read from the server: Synapse hashes NFKC(password)
// + pepper, and the module must add the same pepper to compare a declared
// password with the stored hash. A missing or wrong one makes every
// comparison differ, so update_password: always would set (and log out)
// every such user on every run, while the passwords themselves, hashed by
// Synapse with its own pepper, work. So the pepper is checked against what
// Synapse stored: a comparison that matches proves it, and otherwise the
// first password this run sets is sent alone and read back before any
// other. A pepper is one per server, so one check per run is enough, and a
// wrong one costs at most that one write.

// pepperState is what a run knows about password_pepper.
type pepperState int

const (
	// pepperUnknown: not checked yet; the first password set checks it.
	pepperUnknown pepperState = iota
	// pepperProven: a password compared with or set against a stored
	// hash matched.
	pepperProven
	// pepperWrong: a password this run set does not match the hash Synapse
	// stored for it: the pepper is not the server's.
	pepperWrong
	// pepperUnverifiable: this Synapse serves no hashes, or only passwords
	// whose match proves nothing were set.
	pepperUnverifiable
	// passwordsRefused: Synapse refused to set the first password with a
	// 403: it sets none on this server, and no other is sent.
	passwordsRefused
)

// maxPepperProbes bounds the writes sent one at a time for the check: a
// create may find its account taken (nothing set), a read may fail; then
// the next password write is tried, but never more than this many.
const maxPepperProbes = 3

// pepperDecides reports whether a match of password with the stored hash
// proves the pepper. Synapse hashes the first 72 bytes of NFKC(password) +
// pepper; when the password and the declared pepper fill fewer, a match
// means the server's pepper is exactly the declared one. A longer password
// matches under any pepper that differs only past byte 72.
func pepperDecides(password, pepper string) bool {
	return len(norm.NFKC.String(password))+len(pepper) < synapse.BcryptInputLimit
}

// pepperFromComparisons tells what the comparisons of checkPasswords proved:
// one matching password whose match is decisive proves the pepper, and so
// does, in a login run, the admin's own password when its hash came with
// the others. A mismatch proves nothing: the password may have changed, and
// the admin may log in through a password provider (LDAP) that Synapse asks
// before its own hash.
func (r *Runner) pepperFromComparisons(desired []*Desired, compared []int, checks []PasswordCheck, hashes map[string]string) pepperState {
	for _, i := range compared {
		if checks[i] == PasswordSame && pepperDecides(*desired[i].Password(), r.Pepper) {
			return pepperProven
		}
	}
	if hash, ok := hashes[r.Facts.Me]; ok && r.AdminPassword != "" && pepperDecides(r.AdminPassword, r.Pepper) &&
		synapse.PasswordMatches(hash, r.AdminPassword, r.Pepper) {
		return pepperProven
	}
	return pepperUnknown
}

// passwordOf is the password a plan sends, or nil.
func passwordOf(p *Plan) *string {
	if p == nil || p.Err != nil || p.Update == nil {
		return nil
	}
	return p.Update.Password()
}

// probePepper applies, one at a time, the plans that set a password until
// one of them proves or disproves the pepper. It picks first a password
// whose match decides, then the write that costs least if the pepper is
// wrong: a create or a reactivation (no session to log out) before a
// changed password of an active account.
func (r *Runner) probePepper(ctx context.Context, plans []*Plan, outcomes []*Outcome, done []bool, applyOne func(int) error) pepperState {
	for tries := 0; tries < maxPepperProbes; tries++ {
		i := pickProbe(plans, done, r.Pepper)
		if i < 0 {
			return pepperUnknown
		}
		if err := forEach(1, 1, func(int) error { return applyOne(i) })[0]; err != nil {
			outcomes[i].fail(err)
		}
		done[i] = true
		if outcomes[i].passwordRefused {
			return passwordsRefused
		}
		if outcomes[i].passwordSet == nil {
			continue // nothing was set: it failed, or its account appeared meanwhile
		}
		if state := r.verifyPepper(ctx, outcomes[i], *outcomes[i].passwordSet); state != pepperUnknown {
			return state
		}
	}
	return pepperUnknown
}

func pickProbe(plans []*Plan, done []bool, pepper string) int {
	best, bestRank := -1, 0
	for i, p := range plans {
		pw := passwordOf(p)
		if pw == nil || done[i] || p.Action == ActionUnchanged {
			continue
		}
		rank := 2 // a password change logs its user out
		switch {
		case p.Create:
			rank = 0
		case p.Current != nil && p.Current.Deactivated:
			rank = 1
		}
		if !pepperDecides(*pw, pepper) {
			rank += 10
		}
		if best < 0 || rank < bestRank {
			best, bestRank = i, rank
		}
	}
	return best
}

// verifyPepper reads back the hash of the password just set for o.
func (r *Runner) verifyPepper(ctx context.Context, o *Outcome, password string) pepperState {
	hashes, err := r.Client.PasswordHashes(ctx, r.Facts.Me, o.UserID)
	switch {
	case errors.Is(err, synapse.ErrHashesUnavailable):
		return pepperUnverifiable
	case err != nil:
		o.Warnings = append(o.Warnings, problem.Errorf(problem.Password, "%s could not be checked against the password just set for %s: %s", problem.Name("password_pepper"), o.UserID, r.explain(err)))
		return pepperUnknown
	}
	hash, ok := hashes[o.UserID]
	if !ok {
		return pepperUnknown
	}
	same, err := synapse.ComparePassword(ctx, hash, password, r.Pepper)
	switch {
	case err != nil:
		// A hash too costly to compare, or the run's end: nothing is known.
		o.Warnings = append(o.Warnings, problem.Errorf(problem.Password, "%s could not be checked against the password just set for %s: %s", problem.Name("password_pepper"), o.UserID, err))
		return pepperUnknown
	case !same:
		o.fail(problem.Errorf(problem.Password, "%s: its password was set, but it does not match the hash Synapse stored for it with %s: %s", o.UserID, problem.Name("password_pepper"), wrongPepper))
		return pepperWrong
	case pepperDecides(password, r.Pepper):
		return pepperProven
	}
	// The match of a password that fills bcrypt's 72 bytes proves nothing;
	// the probe picks decisive ones first, so none is left to try.
	return pepperUnverifiable
}

// wrongPepper says what a wrong password_pepper does and how to fix it.
var wrongPepper = problem.Errorf(problem.Password, "%s is not this Synapse's pepper (password_config.pepper in its homeserver.yaml; \"\" when it has none). "+
	"Passwords set still work (Synapse adds its own pepper), but every comparison of %s: always would differ, "+
	"setting the password again and logging the user out on every run; set %s to the server's pepper",
	problem.Name("password_pepper"), problem.Name("update_password"), problem.Name("password_pepper"))

// holdPasswords keeps back every password still to be sent once Synapse
// refused the first one with a 403: the others would be refused the same
// way, and a create would leave an account without its password.
func (r *Runner) holdPasswords(plans []*Plan, outcomes []*Outcome, done []bool) {
	refused := ""
	for i, o := range outcomes {
		if done[i] && o.passwordRefused {
			refused = o.UserID
		}
	}
	for i, p := range plans {
		if done[i] || passwordOf(p) == nil {
			continue
		}
		done[i] = true
		outcomes[i].fromPlan(p)
		outcomes[i].User = p.Current
		what := "its password was not sent"
		if p.Create {
			what = "it was not created (it would have been left without its password)"
		}
		outcomes[i].fail(problem.Errorf(problem.Server, "%s: %s: Synapse refused to set the password of %s with a 403, and sets none on this server when its password login or local password database is off (password_config.enabled, password_config.localdb_enabled): leave %s out of the declaration",
			p.UserID, what, refused, problem.Name("password")))
	}
}

// holdComparedPasswords keeps back, once the pepper is known to be wrong,
// every password that was to be set because a comparison said it differs:
// that comparison used the wrong pepper. Creates and reactivations set
// their password whatever a comparison says, so they go ahead.
func (r *Runner) holdComparedPasswords(plans []*Plan, outcomes []*Outcome, done []bool) {
	for i, p := range plans {
		if done[i] || passwordOf(p) == nil || p.Create || p.Current == nil || p.Current.Deactivated ||
			p.Desired.UpdatePassword != PasswordAlways {
			continue
		}
		done[i] = true
		outcomes[i].fromPlan(p)
		outcomes[i].User = p.Current
		outcomes[i].fail(problem.Errorf(problem.Password, "%s: nothing was sent: its password was compared with the stored hash using %s, and %s", p.UserID, problem.Name("password_pepper"), wrongPepper))
	}
}
