package reconcile

import (
	"net/http"

	"golang.org/x/text/unicode/norm"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// explainLongPassword names a known Synapse bug when a write that carried a
// password failed with a 500: Synapse 1.140.x ships bcrypt 5, which raises
// on input over 72 bytes, so a password that is longer than that together
// with the pepper (as Synapse hashes it: NFKC, then the pepper, UTF-8) makes
// every PUT with it fail. Fixed in Synapse 1.141.
func (r *Runner) explainLongPassword(p *Plan, o *Outcome) {
	if o.Err == nil || synapse.StatusOf(o.Err) != http.StatusInternalServerError {
		return
	}
	pw := passwordOf(p)
	if pw == nil || len(norm.NFKC.String(*pw)+r.Pepper) <= synapse.BcryptInputLimit {
		return
	}
	o.Err = problem.Errorf(problem.Server, "%s; the password with %s is longer than %d bytes, which Synapse 1.140.x cannot hash (its bug, fixed in 1.141): upgrade Synapse, or use a shorter password", o.Err, problem.Name("password_pepper"), synapse.BcryptInputLimit)
}
