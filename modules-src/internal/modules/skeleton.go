package modules

import (
	"context"
	"errors"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/session"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Module is one Ansible module served by the binary: a name, a spec and a
// Prepare. Everything else a run needs is done once, here, for every
// module (run): validation of the arguments, the connection options,
// opening the session and closing it however the run ends (logging out),
// check mode, the hint when Synapse cannot be reached, the retries in the
// result, and the rendering of messages in the user's words.
type Module struct {
	Name string
	// Spec is the module's own options and the rules between them; the
	// skeleton adds the connection options every module shares.
	Spec func() ansible.Spec
	// Prepare decodes the options and checks everything that can be
	// checked without a server. It returns the job to run once a session
	// is open, or an error: what it refuses is refused before any request.
	Prepare func(in *Input) (Job, error)
	// Shown, when set, are the values of no_log options that the task
	// asked to see in the result (matrix_registration_token's show_token):
	// the result's scrub leaves them alone.
	Shown func(p *ansible.Params) []string
	// ReadOnly modules (the _info modules) run every time as check mode
	// runs: the session's client refuses every write before it is sent.
	ReadOnly bool
	// MAS says the module works on a homeserver that delegates to MAS (a
	// MAS backend of its own); a module without it fails there, naming
	// why, rather than send Synapse requests with no token.
	MAS bool
}

// Input is what Prepare gets.
type Input struct {
	Params *ansible.Params
	// Connection are the connection options, decoded and checked. Prepare
	// may tune them for its job (MaxConns for concurrent requests).
	Connection *session.Options
	Run        Run
}

// Job is a prepared module run, done with an open session. It returns the
// result of every outcome it can describe; an error fails the run with its
// message (and the warnings gathered so far).
type Job interface {
	Do(ctx context.Context, s *session.Session) (ansible.Result, error)
}

// Run is how a module was started: Ansible's check and diff modes, and,
// when a role wraps the module, the role's description of the run. It is a
// parameter of Prepare and of the job, never a context value.
type Run struct {
	CheckMode bool
	Diff      bool
	Verbosity int
	Role      Role
}

// fullSpec is the module's spec with the connection options and their rules.
func (m Module) fullSpec() ansible.Spec {
	spec := m.Spec()
	spec.Options = append(connectionOptions(), spec.Options...)
	spec.MutuallyExclusive = append(append([][]string{}, connectionMutuallyExclusive...), spec.MutuallyExclusive...)
	spec.RequiredTogether = append(append([][]string{}, connectionRequiredTogether...), spec.RequiredTogether...)
	return spec
}

// run does one module run on validated options: it prepares the job,
// opens the session, does the job, and closes the session (a login is
// logged out whatever happens, a panic included).
func (m Module) run(ctx context.Context, p *ansible.Params, run Run) ansible.Result {
	words := run.Role.Words()
	conn, err := connectionFrom(p)
	if err != nil {
		return ansible.Fail(problem.Render(err, words))
	}
	job, err := m.Prepare(&Input{Params: p, Connection: &conn, Run: run})
	if err != nil {
		return ansible.Fail(problem.Render(err, words))
	}
	// Check mode only reads: the session removes no stale device, and
	// its client refuses every write (session.Options.CheckMode).
	conn.CheckMode = run.CheckMode || m.ReadOnly
	warnings := renderAll(conn.Warnings(), words)
	fail := func(err error) ansible.Result {
		return ansible.Result{Failed: true, Msg: problem.Render(err, words), Warnings: warnings}
	}
	sess, err := session.Open(ctx, conn)
	if err != nil {
		if unreachable := (*synapse.UnreachableError)(nil); errors.As(err, &unreachable) {
			err = problem.Errorf(problem.Server, "%s; check %s", err, problem.Name(optHomeserverURL))
		}
		return fail(err)
	}
	defer sess.Close(ctx)
	if sess.MAS != nil && !m.MAS {
		return fail(problem.Errorf(problem.Unsupported, "mxadmin.synapse.%s does not support homeservers that delegate authentication to MAS yet (docs/mas.md)", m.Name))
	}
	warnings = append(warnings, renderAll(sess.Warnings, words)...)
	if err := sess.VerifyServerName(ctx); err != nil {
		return fail(err)
	}
	res, err := job.Do(ctx, sess)
	if err != nil {
		return fail(err)
	}
	res.Warnings = append(warnings, res.Warnings...)
	// Creating the service admin or resetting its password is a write
	// like any other (in check mode: would be).
	if sess.ChangedService() && !res.Failed {
		res.Changed = true
	}
	return res
}
