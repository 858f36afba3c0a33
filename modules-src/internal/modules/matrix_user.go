package modules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
	"github.com/mxadmin/synapse/modules-src/internal/session"
)

// Names of matrix_user's options that are not per user.
const (
	optUsers       = "users"
	optPepper      = "password_pepper"
	optConcurrency = "concurrency"
	optExclusive   = "exclusive"
	optProtect     = "protect"
	// Exclusive mode's safety threshold; the defaults are documented in
	// plugins/modules/matrix_user.py and the README.
	optMaxDeactivations        = "max_deactivations"
	optMaxDeactivationsPercent = "max_deactivations_percent"
	// optReportUnchanged puts the unchanged users into the users list of
	// the result, which by default carries only the users that need a look.
	optReportUnchanged = "report_unchanged"
	// optMASAdopt lets the MAS backend adopt a half-provisioned account.
	optMASAdopt = "mas_adopt_synapse_accounts"
)

func matrixUserSpec() ansible.Spec {
	opts := userOptionSpec(false)
	opts = append(opts,
		ansible.Option{Name: optUsers, Type: ansible.TypeList, Elements: ansible.TypeDict, Options: userOptionSpec(true), ElementName: optUser},
		ansible.Option{Name: optPepper, Type: ansible.TypeStr, NoLog: true, Default: ""},
		ansible.Option{Name: optConcurrency, Type: ansible.TypeInt, Default: 8, Min: 1, Max: 64},
		ansible.Option{Name: optExclusive, Type: ansible.TypeBool, Default: false},
		ansible.Option{Name: optProtect, Type: ansible.TypeList, Elements: ansible.TypeStr, Default: []any{}},
		ansible.Option{Name: optMaxDeactivations, Type: ansible.TypeInt, Default: 10, Min: 0, Max: 2_000_000},
		ansible.Option{Name: optMaxDeactivationsPercent, Type: ansible.TypeInt, Default: 25, Min: 0, Max: 100},
		ansible.Option{Name: optReportUnchanged, Type: ansible.TypeBool, Default: false},
		ansible.Option{Name: optMASAdopt, Type: ansible.TypeBool, Default: false},
	)
	return ansible.Spec{
		Module:            "mxadmin.synapse.matrix_user",
		Options:           opts,
		MutuallyExclusive: [][]string{{optUser, optUsers}},
		RequiredOneOf:     [][]string{{optUser, optUsers}},
	}
}

// matrixUserOptions are matrix_user's options, decoded once from the
// arguments; prepareUserRun checks them.
type matrixUserOptions struct {
	// user is the user of the single form; in the batch form, the
	// top-level defaults of its entries.
	user userOptions
	// users are the entries of the batch form; batch says it was given.
	users []userOptions
	batch bool
	// perUserGiven names the per-user options given at the top level,
	// which the batch form refuses.
	perUserGiven []string
	pepper       string
	concurrency  int
	exclusive    bool
	protect      []string
	// maxDeactivations and maxDeactivationsPercent bound what one
	// exclusive run may deactivate.
	maxDeactivations        int
	maxDeactivationsPercent int
	// reportUnchanged lists the unchanged users in the result too.
	reportUnchanged bool
	masAdopt        bool
}

// decodeMatrixUser reads the options.
func decodeMatrixUser(p *ansible.Params) matrixUserOptions {
	o := matrixUserOptions{
		user:                    decodeUser(p),
		batch:                   p.Given(optUsers),
		pepper:                  p.String(optPepper),
		concurrency:             p.Int(optConcurrency),
		exclusive:               p.Bool(optExclusive),
		protect:                 p.Strings(optProtect),
		maxDeactivations:        p.Int(optMaxDeactivations),
		maxDeactivationsPercent: p.Int(optMaxDeactivationsPercent),
		reportUnchanged:         p.Bool(optReportUnchanged),
		masAdopt:                p.Bool(optMASAdopt),
	}
	for _, entry := range p.List(optUsers) {
		o.users = append(o.users, decodeUser(entry))
	}
	for _, name := range perUserOnly() {
		if p.Given(name) {
			o.perUserGiven = append(o.perUserGiven, name)
		}
	}
	return o
}

// userRun is everything a matrix_user run needs, checked before the first
// request: the job of a matrix_user run.
type userRun struct {
	matrixUserOptions
	desired []*reconcile.Desired
	run     Run
}

func prepareMatrixUser(in *Input) (Job, error) {
	run, err := prepareUserRun(in.Params, in.Connection)
	if err != nil {
		return nil, err
	}
	run.run = in.Run
	return run, nil
}

// prepareUserRun checks every option and rule that can be checked without
// the server. Whatever it refuses is refused before any request is sent.
func prepareUserRun(p *ansible.Params, conn *session.Options) (*userRun, error) {
	o := decodeMatrixUser(p)
	opts := *conn
	run := &userRun{matrixUserOptions: o}
	var err error
	if run.desired, err = declaredUsers(o); err != nil {
		return nil, err
	}
	// The entries live on in desired; their decoded options are not kept
	// for the whole run (memory of a large list).
	run.users = nil
	mode, err := opts.Mode()
	if err != nil {
		return nil, err
	}
	if err := reconcile.CheckProtectPatterns(run.protect, opts.ServerName); err != nil {
		return nil, err
	}
	if mode == session.ModeMAS {
		if err := checkMASRun(run); err != nil {
			return nil, err
		}
	}
	exclusive := problem.Option(optExclusive)
	if run.exclusive {
		switch {
		case !run.batch:
			return nil, problem.Errorf(problem.Invalid, "%s needs %s: it deactivates the local users a list does not declare", exclusive, problem.Name(optUsers))
		case len(run.desired) == 0:
			return nil, problem.Errorf(problem.Invalid, "%s with an empty list (%s) would deactivate every local account; declare the users to keep", exclusive, problem.Name(optUsers))
		case mode == session.ModeSharedSecret:
			return nil, problem.Errorf(problem.Credentials, "%s needs %s: %s cannot read or deactivate users", exclusive, problem.AdminCredentials{}, problem.Name(optSharedSecret))
		}
	}
	for _, d := range run.desired {
		if err := checkID(d.Localpart, d.Server, opts.ServerName, d.Entry); err != nil {
			return nil, err
		}
		if err := serviceAccountDeclared(d.Localpart, &opts, d.Entry); err != nil {
			return nil, err
		}
		if mode == session.ModeSharedSecret {
			if err := d.CheckSharedSecret(); err != nil {
				return nil, err
			}
		}
	}
	conn.MaxConns = run.concurrency
	// With an admin token (or login) and the shared secret, a service admin
	// whose password no longer logs in gets the derived one again.
	conn.RepairService, conn.Pepper = true, run.pepper
	return run, nil
}

// Do reconciles the declared users.
func (run *userRun) Do(ctx context.Context, sess *session.Session) (ansible.Result, error) {
	if sess.MAS != nil {
		return run.doMAS(ctx, sess)
	}
	if !sess.CanRead() && sess.ServerName == "" && anyFullID(run.desired) {
		if err := sess.LearnServerName(ctx); err != nil {
			return ansible.Result{}, err
		}
	}
	if run.exclusive && sess.ServiceMissing {
		return ansible.Result{}, problem.Errorf(problem.Unverified, "%s cannot be checked: the service admin %s does not exist yet, so nothing can be read; the first run without check mode creates it",
			problem.Option(optExclusive), sess.ServiceAdmin)
	}
	runner := reconcile.Runner{
		Client:           sess.Client,
		Facts:            reconcile.Facts{Me: sess.Me, ServiceAdmin: sess.ServiceAdmin, CanRead: sess.CanRead()},
		ServerName:       sess.ServerName,
		SharedSecret:     sess.SharedSecret,
		Pepper:           run.pepper,
		CheckMode:        run.run.CheckMode,
		Concurrency:      run.concurrency,
		Exclusive:        run.exclusive,
		Protect:          run.protect,
		MaxDeactivations: run.maxDeactivations, MaxDeactivationsPercent: run.maxDeactivationsPercent,
		Explain: sess.Explain,
		// Only the role's register-user extra vars set them.
		Seed:           run.run.Role.Seed,
		SeedReactivate: run.run.Role.Reactivate,
	}
	// The password of the account the run logged in as (admin_password, or
	// the service admin's derived one): its stored hash proves the pepper.
	runner.AdminPassword = sess.OwnPassword()
	outcomes, warnings, err := runner.Run(ctx, run.desired)
	words := run.run.Role.Words()
	if err != nil {
		return ansible.Result{Warnings: renderAll(warnings, words)}, err
	}
	var res ansible.Result
	if run.batch {
		res = batchResult(outcomes, run.run, run.reportUnchanged)
		if run.exclusive {
			res.Set("protected", append([]string{}, runner.Protected...))
		}
		if run.run.Role.FailOnDrift && run.run.CheckMode {
			driftGate(&res, outcomes, words)
		}
	} else {
		res = singleResult(outcomes[0], run.run)
	}
	res.Warnings = append(renderAll(warnings, words), res.Warnings...)
	return res, nil
}

// checkID is the check of a declared user's ID against server_name (when
// given), before any request: reconcile.LocalID, as the run checks it
// against the homeserver's own name.
func checkID(localpart, server, serverName string, entry problem.Entry) error {
	_, err := reconcile.LocalID(localpart, server, reconcile.Homeserver{Name: serverName, Configured: true})
	var m *problem.Message
	switch {
	case err == nil:
		return nil
	case errors.As(err, &m) && m.Code == problem.IDTooLong:
		return problem.Errorf(problem.IDTooLong, "%s: %s", problem.Option(optUser), m).About(entry)
	case m != nil:
		return m.About(entry)
	}
	return err
}

// declaredUsers builds the declarations of either form, refusing bad input
// and duplicates before any request.
func declaredUsers(o matrixUserOptions) ([]*reconcile.Desired, error) {
	if !o.batch {
		d, err := desiredFrom(o.user, problem.Entry{Name: o.user.User}, nil)
		if err != nil {
			return nil, err
		}
		return []*reconcile.Desired{d}, nil
	}
	var problems problemList
	for _, name := range o.perUserGiven {
		problems = append(problems, problem.Errorf(problem.Invalid, "%s is per user: with %s, set it in each entry", problem.Option(name), problem.Name(optUsers)))
	}
	var desired []*reconcile.Desired
	seen := map[string]problem.Entry{}
	for i, entry := range o.users {
		// An entry is named by its user once that is known to be one.
		ref := problem.Entry{List: true, Index: i}
		d, err := desiredFrom(entry, ref, &o.user)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		d.Entry.Name = entry.User
		// The localpart identifies a user whatever the case or form it was
		// written in: John, john and @john:server are one user.
		if prev, dup := seen[d.Localpart]; dup {
			problems = append(problems, problem.Errorf(problem.Invalid, "%s and %s both declare the user %s; declare each user once", prev, ref, d.Localpart))
			continue
		}
		seen[d.Localpart] = ref
		desired = append(desired, d)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return desired, nil
}

func anyFullID(desired []*reconcile.Desired) bool {
	for _, d := range desired {
		if d.Server != "" {
			return true
		}
	}
	return false
}

func singleResult(o *reconcile.Outcome, in Run) ansible.Result {
	words := in.Role.Words()
	res := ansible.Result{Changed: o.Changed(), Warnings: renderAll(o.Warnings, words)}
	res.Set("user", o.User.View())
	res.Set("user_id", o.UserID)
	res.Set("action", string(o.Action))
	res.Set("changes", append([]string{}, o.Changes...))
	res.Set("created", o.Action == reconcile.ActionCreated)
	if o.Err != nil {
		res.Failed = true
		res.Msg = problem.Render(o.Err, words)
		return res
	}
	res.Msg = describeOutcome(o, in.CheckMode, words)
	if in.Diff && o.Action.Changes() {
		name := o.Name().Render(words)
		res.Diff = ansible.Diff{Before: o.Before, After: o.After, BeforeHeader: name, AfterHeader: name}
	}
	return res
}

func describeOutcome(o *reconcile.Outcome, check bool, words Words) string {
	name := o.Name().Render(words)
	verb := string(o.Action)
	if check && o.Action.Changes() {
		verb = "would be " + verb
	}
	switch {
	case o.Action == reconcile.ActionUnchanged:
		return name + " is unchanged"
	case o.Action == reconcile.ActionUnverified:
		return name + " could not be verified (nothing can be read with only " + words.Name(optSharedSecret) + ")"
	case len(o.Changes) > 0 && (o.Action == reconcile.ActionUpdated || o.Action == reconcile.ActionReactivated):
		return fmt.Sprintf("%s %s: %s", name, verb, strings.Join(changeNames(o), ", "))
	}
	return name + " " + verb
}

// changeNames are the changed fields, the password with what it does to the
// user's other sessions.
func changeNames(o *reconcile.Outcome) []string {
	out := make([]string, len(o.Changes))
	for i, c := range o.Changes {
		out[i] = c
		if c == "password" && o.PasswordNote != "" {
			out[i] = "password (" + o.PasswordNote + ")"
		}
	}
	return out
}

// describeChanges says, field by field, how a user differs from its
// declaration (admin true→false), for a message without --diff. The same
// words in check mode and when applying: a check run predicts the result.
func describeChanges(o *reconcile.Outcome) string {
	switch o.Action {
	case reconcile.ActionUnchanged:
		return ""
	case reconcile.ActionUnverified:
		return "could not be verified"
	case reconcile.ActionFailed:
		return "failed"
	}
	var parts []string
	for _, c := range changeNames(o) {
		field, _, _ := strings.Cut(c, " ")
		after, ok := o.After[field]
		if !ok || field == "password" {
			parts = append(parts, c)
			continue
		}
		if before, known := o.Before[field]; known {
			parts = append(parts, fmt.Sprintf("%s %s→%s", field, shortJSON(before), shortJSON(after)))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s", field, shortJSON(after)))
		}
	}
	if o.Action == reconcile.ActionCreated {
		if len(parts) == 0 {
			return "new user"
		}
		return "new user (" + strings.Join(parts, ", ") + ")"
	}
	return strings.Join(parts, ", ")
}

// shortJSON renders a diff value compactly: true, "Bob", null, [...].
func shortJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	data := strings.TrimSpace(b.String())
	const limit = 80
	if len(data) > limit {
		return strings.ToValidUTF8(data[:limit], "") + "…"
	}
	return data
}
