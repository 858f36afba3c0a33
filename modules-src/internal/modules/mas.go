package modules

import (
	"context"
	"fmt"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/mas"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
	"github.com/mxadmin/synapse/modules-src/internal/session"
)

// checkMASRun refuses, before any request, what matrix_user cannot do on
// a homeserver that delegates to MAS (docs/mas.md has the table).
func checkMASRun(run *userRun) error {
	return reconcile.CheckMAS(run.desired)
}

// doMAS reconciles the declared users through MAS's admin API, with the
// same results as the Synapse backend.
func (run *userRun) doMAS(ctx context.Context, sess *session.Session) (ansible.Result, error) {
	runner := reconcile.MASRunner{
		Client:      sess.MAS,
		Profiles:    sess.Client,
		ServerName:  sess.ServerName,
		CheckMode:   run.run.CheckMode,
		Concurrency: run.concurrency,
		Adopt:       run.masAdopt,
		Exclusive:   run.exclusive, Protect: run.protect,
		MaxDeactivations: run.maxDeactivations, MaxDeactivationsPercent: run.maxDeactivationsPercent,
		Seed:           run.run.Role.Seed,
		SeedReactivate: run.run.Role.Reactivate,
	}
	outcomes, err := runner.Run(ctx, run.desired)
	if err != nil {
		return ansible.Result{}, err
	}
	if run.batch {
		res := batchResult(outcomes, run.run, run.reportUnchanged)
		if run.run.Role.FailOnDrift && run.run.CheckMode {
			driftGate(&res, outcomes, run.run.Role.Words())
		}
		return res, nil
	}
	return singleResult(outcomes[0], run.run), nil
}

// applyMASAdmin sets MAS's admin flag of an existing user when it differs.
func applyMASAdmin(ctx context.Context, c *mas.Client, id, localpart string, want bool, in Run) ansible.Result {
	words := in.Role.Words()
	fail := func(msg string) ansible.Result { return ansible.Result{Failed: true, Msg: msg} }
	u, err := c.UserByUsername(ctx, localpart)
	if err != nil {
		return fail(fmt.Sprintf("cannot read %s from MAS: %s", id, problem.Render(err, words)))
	}
	if u == nil {
		return fail(fmt.Sprintf("user %s does not exist in MAS; matrix_user_admin never creates users (mxadmin.synapse.matrix_user does)", id))
	}
	before := u.Admin
	res := ansible.Result{Changed: before != want}
	res.Set("user_id", id)
	res.Set("admin", want)
	res.Set("deactivated", u.Deactivated())
	if !res.Changed {
		res.Msg = adminMsg(id, want, "already")
		return res
	}
	if in.Diff {
		res.Diff = ansible.Diff{Before: map[string]any{"admin": before}, After: map[string]any{"admin": want}, BeforeHeader: id, AfterHeader: id}
	}
	if in.CheckMode {
		res.Msg = adminMsg(id, want, "would")
		return res
	}
	if _, err := c.SetAdmin(ctx, string(u.ID), want); err != nil {
		res.Failed, res.Changed, res.Diff = true, false, nil
		res.Msg = fmt.Sprintf("%s: %s", adminMsg(id, want, "cannot"), problem.Render(err, words))
		res.Set("admin", before)
		return res
	}
	res.Msg = adminMsg(id, want, "now")
	return res
}
