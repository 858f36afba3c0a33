package modules

import (
	"context"
	"fmt"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
	"github.com/mxadmin/synapse/modules-src/internal/session"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

func matrixUserAdminSpec() ansible.Spec {
	return ansible.Spec{
		Module: "mxadmin.synapse.matrix_user_admin",
		Options: []ansible.Option{
			{Name: optUser, Type: ansible.TypeStr, Required: true, Aliases: []string{"username"}},
			{Name: optAdmin, Type: ansible.TypeBool, Required: true},
		},
	}
}

// adminJob is one matrix_user_admin run: grant or revoke server admin on an
// existing user. It replaces scripts that wrote the flag into Synapse's
// database with SQL.
type adminJob struct {
	ref       string // the user as written
	localpart string
	server    string // "" for a localpart
	want      bool
	run       Run
}

// prepareMatrixUserAdmin checks the user and the credentials before any
// request.
func prepareMatrixUserAdmin(in *Input) (Job, error) {
	p, opts := in.Params, in.Connection
	j := &adminJob{ref: p.String(optUser), want: p.Bool(optAdmin), run: in.Run}
	var err error
	j.localpart, j.server, err = reconcile.ParseUserRef(j.ref)
	if err != nil {
		return nil, problem.Errorf(problem.Invalid, "%s: %s", problem.Option(optUser), err)
	}
	mode, err := opts.Mode()
	if err != nil {
		return nil, err
	}
	if mode == session.ModeSharedSecret {
		return nil, problem.Errorf(problem.Credentials, "matrix_user_admin needs %s, or %s with %s: %s can create users but cannot read or change the admin status of an existing one",
			problem.Name(optAdminToken), problem.Name(optAdminUser), problem.Name(optAdminPassword), problem.Name(optSharedSecret))
	}
	if err := checkID(j.localpart, j.server, opts.ServerName, problem.Entry{}); err != nil {
		return nil, err
	}
	if err := serviceAccountDeclared(j.localpart, opts, problem.Entry{}); err != nil {
		return nil, err
	}
	return j, nil
}

// Do reads the user and sets the flag when it differs.
func (j *adminJob) Do(ctx context.Context, sess *session.Session) (ansible.Result, error) {
	if sess.ServiceMissing {
		return ansible.Result{}, problem.Errorf(problem.Unverified, "the admin status of %s cannot be checked: the service admin %s does not exist yet, so nothing can be read; the first run without check mode creates it",
			j.ref, sess.ServiceAdmin)
	}
	id, err := reconcile.LocalID(j.localpart, j.server, reconcile.Homeserver{Name: sess.ServerName})
	if err != nil {
		return ansible.Result{}, err
	}
	if sess.MAS != nil {
		return applyMASAdmin(ctx, sess.MAS, id, j.localpart, j.want, j.run), nil
	}
	return applyAdmin(ctx, sess.Client, adminTarget{id: id, want: j.want, me: sess.Me, explain: sess.Explain}, j.run), nil
}

// adminClient is what granting or revoking admin needs from Synapse.
type adminClient interface {
	reconcile.UserReader
	SetAdmin(ctx context.Context, userID string, admin bool) error
}

// adminTarget is one matrix_user_admin run once the session is open.
type adminTarget struct {
	id      string
	want    bool
	me      string // the admin the module acts as
	explain func(error) error
}

// applyAdmin reads the user, compares, and sets the flag only when it
// differs (never in check mode, never demoting the module's own admin).
func applyAdmin(ctx context.Context, c adminClient, t adminTarget, in Run) ansible.Result {
	words := in.Role.Words()
	fail := func(msg string) ansible.Result { return ansible.Result{Failed: true, Msg: msg} }
	explain := func(err error) string { return problem.Render(t.explain(err), words) }
	id, want := t.id, t.want
	// The admin flag endpoint answers false for a user that does not
	// exist, so existence is checked with the user endpoint (and a legacy
	// mixed-case account is found and managed under its own ID).
	cur, err := reconcile.FindUser(ctx, c, id)
	if err != nil {
		return fail(fmt.Sprintf("cannot read %s: %s", id, explain(err)))
	}
	if cur == nil {
		return fail(fmt.Sprintf("user %s does not exist; matrix_user_admin never creates users (mxadmin.synapse.matrix_user does)", id))
	}
	id = cur.Name
	before := bool(cur.Admin)
	res := ansible.Result{Changed: before != want}
	res.Set("user_id", id)
	res.Set("admin", want)
	res.Set("deactivated", bool(cur.Deactivated))
	if !res.Changed {
		res.Msg = adminMsg(id, want, "already")
		return res
	}
	if strings.EqualFold(id, t.me) && !want {
		return fail(fmt.Sprintf("refusing to demote %s: it is the admin this module authenticates as, and Synapse forbids demoting yourself; demote it with another admin's credentials", id))
	}
	if in.Diff {
		res.Diff = ansible.Diff{Before: map[string]any{"admin": before}, After: map[string]any{"admin": want}, BeforeHeader: id, AfterHeader: id}
	}
	if in.CheckMode {
		res.Msg = adminMsg(id, want, "would")
		return res
	}
	if ctx.Err() != nil {
		// Interrupted before the write: nothing was sent.
		return fail(fmt.Sprintf("%s: not sent, the run was interrupted (%v)", adminMsg(id, want, "cannot"), context.Cause(ctx)))
	}
	if err := c.SetAdmin(ctx, id, want); err != nil {
		// changed only when the write may have been applied all the same
		// (no answer, a 5xx): then the message says so.
		res.Failed, res.Changed = true, synapse.MayHaveApplied(err, 1)
		res.Msg = fmt.Sprintf("%s: %s", adminMsg(id, want, "cannot"), explain(err))
		if res.Changed {
			res.Msg += "; the request may still have been applied (rerun to see)"
		} else {
			res.Diff = nil
			res.Set("admin", before)
		}
		return res
	}
	res.Msg = adminMsg(id, want, "now")
	return res
}

// adminMsg says what happens to id's admin flag, in words that read right
// for both directions ("is no longer", not "is now not").
func adminMsg(id string, admin bool, when string) string {
	if admin {
		switch when {
		case "already":
			return id + " is already a server admin"
		case "would":
			return id + " would be made a server admin"
		case "cannot":
			return "cannot make " + id + " a server admin"
		}
		return id + " is now a server admin"
	}
	switch when {
	case "already":
		return id + " is already not a server admin"
	case "would":
		return id + " would no longer be a server admin"
	case "cannot":
		return "cannot revoke server admin from " + id
	}
	return id + " is no longer a server admin"
}
