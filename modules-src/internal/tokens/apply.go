package tokens

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Runner reads the backend's tokens, plans and applies.
type Runner struct {
	Client    Client
	CheckMode bool
	// Secret is given every token value read from the backend, for the
	// module to mask; a value the run generates is not given (it is
	// returned once, to the run that made it).
	Secret func(value string)
	// Random is where generated values come from (crypto/rand when nil).
	Random io.Reader
	// Now is the time in milliseconds since the epoch.
	Now func() int64
}

// Done is what happened to one step.
type Done struct {
	*Step
	// Applied: the write was acknowledged (or, in check mode, would be
	// sent). Maybe: sent, and its answer lost.
	Applied, Maybe bool
	// Minted is the value a create generated (returned once).
	Minted string
	// Err is why the step failed; NotSent when it was never sent.
	Err     error
	NotSent bool
}

// Outcome is a run's result.
type Outcome struct {
	Plan  *Plan
	Steps []*Done
	// Err is the first failure (nil when every step applied).
	Err error
}

// Changed reports whether anything was, or may have been, written (in
// check mode: would be).
func (o *Outcome) Changed() bool {
	for _, d := range o.Steps {
		if d.Applied || d.Maybe {
			return true
		}
	}
	return false
}

// Run reconciles decls with the backend. An error before any write (the
// read, the plan, the threshold) is returned as err; failures of writes
// are in the outcome.
func (r *Runner) Run(ctx context.Context, decls []*Desired, o Options) (*Outcome, error) {
	current, err := r.Client.List(ctx)
	if err != nil {
		return nil, problem.Errorf(problem.Server, "cannot read the registration tokens: %s", err)
	}
	for _, t := range current {
		r.secret(t.Value)
	}
	if r.Now != nil {
		o.Now = r.Now()
	}
	plan, err := MakePlan(decls, current, o)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Plan: plan}
	failed := false
	for _, s := range plan.Steps {
		d := &Done{Step: s}
		out.Steps = append(out.Steps, d)
		switch {
		case s.Action != Create && s.Action != Update && s.Action != Delete:
			continue
		case s.Desired == nil && failed:
			// Exclusive mode deletes nothing once a declared entry failed:
			// the picture it decided on may be wrong.
			d.NotSent = true
			d.Err = problem.Errorf(problem.Unverified, "not deleted: an entry before it failed, and %s deletes nothing after a failure", problem.Option(ExclusiveOption))
			continue
		case r.CheckMode:
			d.Applied = true
			continue
		case ctx.Err() != nil:
			d.NotSent = true
			d.Err = problem.Errorf(problem.Interrupted, "not sent: the run was interrupted (%v)", context.Cause(ctx))
			failed = true
			continue
		}
		r.apply(ctx, d)
		if d.Err != nil {
			failed = true
			if out.Err == nil {
				out.Err = d.Err
			}
		}
	}
	return out, nil
}

func (r *Runner) secret(v string) {
	if r.Secret != nil && v != "" {
		r.Secret(v)
	}
}

// apply sends one step's write.
func (r *Runner) apply(ctx context.Context, d *Done) {
	s := d.Step
	fail := func(err error, what string) {
		d.Maybe = r.Client.MayHaveApplied(err)
		text := "%s: cannot %s: %s"
		if d.Maybe {
			text += "; the request may still have been applied (rerun to see)"
		}
		d.Err = problem.Errorf(problem.Server, text, RefOf(s.Desired), what, err)
	}
	switch s.Action {
	case Delete:
		if err := r.Client.Delete(ctx, s.Before.Value); err != nil {
			fail(err, "delete the token")
			return
		}
		d.Applied = true
	case Update:
		after, err := r.Client.Update(ctx, s.Before.Value, s.Change)
		if err != nil {
			fail(err, "update the token")
			return
		}
		d.Applied = true
		s.After = after
	case Create:
		want := *s.After
		if s.Desired.Generated() {
			v, err := r.mint(s.Desired)
			if err != nil {
				d.Err = problem.Errorf(problem.Server, "%s: cannot generate a value: %s", RefOf(s.Desired), err)
				d.NotSent = true
				return
			}
			want.Value, d.Minted = v, v
		}
		created, maybe, err := r.Client.Create(ctx, want)
		switch {
		case err != nil:
			fail(err, "create the token")
			return
		case maybe:
			// The answer was lost and the token exists now: read what is
			// there. A generated value is random, so it is this run's.
			d.Maybe = true
			got, err := r.Client.Get(ctx, want.Value)
			if err != nil || got == nil {
				d.Err = problem.Errorf(problem.Unverified, "%s: the create's answer was lost and the token cannot be read back; rerun to see", RefOf(s.Desired))
				return
			}
			s.After = got
			if !sameInt(got.UsesAllowed, want.UsesAllowed) || !sameInt(got.ExpiryTime, want.ExpiryTime) {
				d.Err = problem.Errorf(problem.Unverified, "%s: the create's answer was lost, and the token that exists now differs from the declaration (made meanwhile by someone else?); rerun to bring it in line", RefOf(s.Desired))
			}
			return
		}
		d.Applied = true
		s.After = created
	}
}

// alphabet is what a generated token's random part is made of: letters
// and digits, so that it never holds Sep and is easy to read out.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// mint makes Name~<Length random characters>, each drawn uniformly from
// alphabet with crypto/rand.
func (r *Runner) mint(d *Desired) (string, error) {
	src := r.Random
	if src == nil {
		src = rand.Reader
	}
	b := make([]byte, d.Length)
	n := big.NewInt(int64(len(alphabet)))
	for i := range b {
		k, err := rand.Int(src, n)
		if err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return d.Name + Sep + string(b), nil
}

// Summary counts a run's steps for its message: "2 created, 1 unchanged".
func (o *Outcome) Summary(check bool) string {
	counts := o.Plan.Counts()
	if len(counts) == 0 {
		return "no registration tokens declared"
	}
	text := ""
	for i, a := range sortedActions(counts) {
		if i > 0 {
			text += ", "
		}
		word := string(a)
		if check && (a == Create || a == Update || a == Delete) {
			word = "would be " + word
		}
		text += fmt.Sprintf("%d %s", counts[a], word)
	}
	return "registration tokens: " + text
}
