package modules

import (
	"fmt"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
)

// summaryOrder is the order outcomes are counted in the batch message.
var summaryOrder = []reconcile.Action{
	reconcile.ActionCreated, reconcile.ActionUpdated, reconcile.ActionReactivated,
	reconcile.ActionDeactivated, reconcile.ActionUnchanged, reconcile.ActionUnverified, reconcile.ActionFailed,
}

// maxFailuresInMsg and maxUserWarnings keep the message and the warnings of
// a large batch readable; every failure and warning is still in the users
// list.
const (
	maxFailuresInMsg = 5
	maxUserWarnings  = 10
)

// batchResult is the result of the batch form. Its users list carries the
// users that changed (or would), failed, could not be verified or have a
// warning; an unchanged user adds only to summary unless reportUnchanged.
// At 100,000 declared users a no-op's per-user list is most of what Ansible
// spends its time on (pickling it from the worker, unpickling and
// registering it), and of no use to anyone.
func batchResult(outcomes []*reconcile.Outcome, in Run, reportUnchanged bool) ansible.Result {
	var res ansible.Result
	words := in.Role.Words()
	summary := map[string]int{}
	for _, a := range summaryOrder {
		if a != reconcile.ActionUnverified {
			summary[string(a)] = 0
		}
	}
	users := []map[string]any{}
	var diffs []ansible.Diff
	var failures, userWarnings []string
	for _, o := range outcomes {
		summary[string(o.Action)]++
		if o.Action == reconcile.ActionUnchanged && o.Err == nil && len(o.Warnings) == 0 && !reportUnchanged {
			continue
		}
		ref := reconcile.UndeclaredRef
		if !o.Undeclared {
			ref = problem.Module.Entry(o.Entry)
		}
		name := o.Name().Render(words)
		entry := map[string]any{"user": name, "ref": ref, "action": string(o.Action), "changes": append([]string{}, o.Changes...),
			"detail": describeChanges(o)}
		if o.Err != nil {
			msg := o.RenderErr(words)
			entry["error"] = msg
			failures = append(failures, msg)
		}
		if len(o.Warnings) > 0 {
			warnings := o.RenderWarnings(words)
			entry["warnings"] = warnings
			userWarnings = append(userWarnings, warnings...)
		}
		users = append(users, entry)
		if o.Changed() {
			res.Changed = true
		}
		if in.Diff && o.Action.Changes() && o.Err == nil {
			diffs = append(diffs, ansible.Diff{Before: o.Before, After: o.After, BeforeHeader: name, AfterHeader: name})
		}
	}
	res.Warnings = userWarnings
	if len(userWarnings) > maxUserWarnings {
		res.Warnings = append(userWarnings[:maxUserWarnings:maxUserWarnings],
			fmt.Sprintf("%d more warnings about single users are in the warnings of the users list", len(userWarnings)-maxUserWarnings))
	}
	res.Set("users", users)
	res.Set("summary", summary)
	if len(diffs) > 0 {
		res.Diff = diffs
	}

	var counts []string
	for _, a := range summaryOrder {
		if n := summary[string(a)]; n > 0 {
			word := string(a)
			if in.CheckMode && a.Changes() {
				word = "would be " + word
			}
			counts = append(counts, fmt.Sprintf("%d %s", n, word))
		}
	}
	if len(counts) == 0 {
		counts = []string{"no users declared"}
	}
	res.Msg = strings.Join(counts, ", ")
	if len(failures) > 0 {
		res.Failed = true
		shown := failures
		if len(shown) > maxFailuresInMsg {
			shown = shown[:maxFailuresInMsg]
		}
		res.Msg += ". Failed: " + strings.Join(shown, "; ")
		if len(failures) > len(shown) {
			res.Msg += fmt.Sprintf("; and %d more (see users)", len(failures)-len(shown))
		}
	}
	return res
}

// driftGate is the message of the role's drift gate
// (matrix_users_fail_on_drift) for a check run in which the server differs
// from the declaration, or could not be read, naming per user what differs;
// the role's last task fails with it. That task stays a task of its own
// (run after the module task succeeded) so that --diff still shows the
// module task's diff: Ansible shows no diff of a failed task. A run that
// failed already says why, and has no drift message.
func driftGate(res *ansible.Result, outcomes []*reconcile.Outcome, words Words) {
	if res.Failed {
		return
	}
	var differ, unverified []string
	for _, o := range outcomes {
		switch {
		case o.Action == reconcile.ActionUnverified:
			unverified = append(unverified, o.Name().Render(words))
		case o.Action != reconcile.ActionUnchanged:
			differ = append(differ, o.Name().Render(words)+": "+describeChanges(o))
		}
	}
	var msg []string
	if len(differ) > 0 {
		msg = append(msg, fmt.Sprintf("Synapse differs from the declared users (%s): %s.", res.Msg, strings.Join(differ, "; ")))
	}
	if len(unverified) > 0 {
		what := fmt.Sprintf("Could not verify %d declared user(s)", len(unverified))
		if len(differ) == 0 {
			what += " (" + res.Msg + ")"
		}
		msg = append(msg, what+": "+strings.Join(unverified, ", ")+". "+problem.Errorf(problem.Credentials,
			"With only %s nothing can be read until the service admin (%s) exists, which the first run without check mode creates; or set %s to check them.", problem.Name(optSharedSecret), problem.Name(optServiceAcct), problem.AdminCredentials{}).Render(words))
	}
	res.Set("drift_msg", strings.Join(msg, " "))
}
