package modules

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/audit"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
	"github.com/mxadmin/synapse/modules-src/internal/session"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// The options of matrix_user_info.
const (
	optInfoAdmins      = "admins"
	optInfoDeactivated = "deactivated"
	optInfoUserTypes   = "user_types"
	optInfoInactiveFor = "inactive_for"
	optInfoDetails     = "details"
	optInfoCountsOnly  = "counts_only"
)

// maxInfoUsers bounds the users filter: more names than a server has
// accounts is a mistake, and each is held in memory.
const maxInfoUsers = 1_000_000

func matrixUserInfoSpec() ansible.Spec {
	return ansible.Spec{
		Module: "mxadmin.synapse.matrix_user_info",
		Options: []ansible.Option{
			{Name: optUsers, Type: ansible.TypeList, Elements: ansible.TypeStr},
			{Name: optInfoAdmins, Type: ansible.TypeBool},
			{Name: optInfoDeactivated, Type: ansible.TypeBool, Default: false},
			{Name: optInfoUserTypes, Type: ansible.TypeList, Elements: ansible.TypeStr},
			{Name: optInfoInactiveFor, Type: ansible.TypeStr},
			{Name: optInfoDetails, Type: ansible.TypeBool, Default: false},
			{Name: optInfoCountsOnly, Type: ansible.TypeBool, Default: false},
			{Name: optConcurrency, Type: ansible.TypeInt, Default: 8, Min: 1, Max: 64},
		},
	}
}

// infoJob is one matrix_user_info run. It only reads: the module is
// read-only in the skeleton (its clients refuse every write), and the job
// reads through audit.SynapseReads or, on a homeserver that delegates to
// MAS, audit.MASReads, neither of which has a method that writes.
type infoJob struct {
	users      []userRef // the users filter, resolved once the server name is known
	filter     audit.Filter
	details    bool
	countsOnly bool
	conc       int
}

type userRef struct{ localpart, server, written string }

// prepareMatrixUserInfo checks every filter before any request.
func prepareMatrixUserInfo(in *Input) (Job, error) {
	p, opts := in.Params, in.Connection
	j := &infoJob{details: p.Bool(optInfoDetails), countsOnly: p.Bool(optInfoCountsOnly), conc: p.Int(optConcurrency)}
	mode, err := opts.Mode()
	if err != nil {
		return nil, err
	}
	if mode == session.ModeSharedSecret {
		// Only with service_account "": otherwise the shared secret logs in
		// as the collection's service admin, which reads.
		return nil, problem.Errorf(problem.Credentials, "matrix_user_info needs %s, or %s with %s, or the service admin (%s is \"\"): %s alone can create users but cannot read any",
			problem.Name(optAdminToken), problem.Name(optAdminUser), problem.Name(optAdminPassword), problem.Name(optServiceAcct), problem.Name(optSharedSecret))
	}
	if mode == session.ModeMAS {
		// MAS holds no user type, application service, shadow ban, rate
		// limit or device count: a filter or a detail on them would answer
		// with a guess.
		if p.Given(optInfoUserTypes) {
			return nil, problem.Errorf(problem.Unsupported, "%s cannot be used on a homeserver that delegates authentication to MAS: MAS holds no user type or application service of an account (docs/audit.md); leave it out",
				problem.Option(optInfoUserTypes))
		}
		if j.details {
			return nil, problem.Errorf(problem.Unsupported, "%s cannot be true on a homeserver that delegates authentication to MAS: MAS holds no rate-limit override, application service or device count of an account (docs/audit.md); leave it out or set it to false",
				problem.Option(optInfoDetails))
		}
	}
	opts.MaxConns = j.conc
	names := p.Strings(optUsers)
	if len(names) > maxInfoUsers {
		return nil, problem.Errorf(problem.Invalid, "%s: %d names, more than the %d this module takes", problem.Option(optUsers), len(names), maxInfoUsers)
	}
	for i, ref := range names {
		local, server, err := reconcile.ParseUserRef(ref)
		if err != nil {
			return nil, problem.Errorf(problem.Invalid, "%s[%d]: %s", problem.Option(optUsers), i, err)
		}
		if err := checkID(local, server, opts.ServerName, problem.Entry{}); err != nil {
			return nil, err
		}
		j.users = append(j.users, userRef{local, server, ref})
	}
	j.filter.Admins = p.OptBool(optInfoAdmins)
	// Defaults to false (the active accounts): always a filter.
	deactivated := p.Bool(optInfoDeactivated)
	j.filter.Deactivated = &deactivated
	if types := p.Strings(optInfoUserTypes); p.Given(optInfoUserTypes) {
		if len(types) == 0 {
			return nil, problem.Errorf(problem.Invalid, "%s is empty, which no account matches: leave it out for every type, or name types (%s, %s, bot, support)",
				problem.Option(optInfoUserTypes), audit.RegularType, audit.AppserviceType)
		}
		j.filter.UserTypes = map[string]bool{}
		for i, t := range types {
			t = strings.ToLower(strings.TrimSpace(t))
			if t == "" || len(t) > 255 || strings.ContainsFunc(t, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
				return nil, problem.Errorf(problem.Invalid, "%s[%d]: a user type is a word such as %s, %s, bot or support, not %q",
					problem.Option(optInfoUserTypes), i, audit.RegularType, audit.AppserviceType, types[i])
			}
			j.filter.UserTypes[t] = true
		}
	}
	if s := p.String(optInfoInactiveFor); p.Given(optInfoInactiveFor) {
		cutoff, err := audit.Cutoff(s, time.Now())
		if err != nil {
			return nil, problem.Errorf(problem.Invalid, "%s: %s", problem.Option(optInfoInactiveFor), err)
		}
		j.filter.InactiveBefore = cutoff
	}
	return j, nil
}

// infoMemoryLimit is the soft memory limit of an info run: the pages of the
// user list are decoded into Users (a map of keys each) and dropped, and
// without a limit the garbage collector lets that garbage double the heap
// of 100,000 accounts before it collects. A soft limit only makes it collect
// sooner; a larger answer is never refused by it.
const infoMemoryLimit = 120 << 20

// Do reads the accounts and answers; nothing here can write.
func (j *infoJob) Do(ctx context.Context, sess *session.Session) (ansible.Result, error) {
	debug.SetMemoryLimit(infoMemoryLimit)
	if len(j.users) > 0 {
		j.filter.Users = map[string]bool{}
		for _, u := range j.users {
			id, err := reconcile.LocalID(u.localpart, u.server, reconcile.Homeserver{Name: sess.ServerName})
			if err != nil {
				return ansible.Result{}, err
			}
			j.filter.Users[strings.ToLower(id)] = true
		}
	}
	var reader audit.Reader
	if sess.MAS != nil {
		var reads audit.MASReads = sess.MAS
		reader = audit.MASReader{Client: reads, ServerName: sess.ServerName, PageSize: 1000}
	} else {
		var reads audit.SynapseReads = sess.Client
		reader = audit.SynapseReader{Client: reads, PageSize: 1000}
	}
	ans, err := audit.Ask(ctx, reader, audit.Query{Filter: j.filter, Details: j.details, Concurrency: j.conc})
	if err != nil {
		if errors.Is(err, synapse.ErrUserListChanged) {
			return ansible.Result{}, err
		}
		return ansible.Result{}, problem.Errorf(problem.Server, "reading the accounts: %s", sess.Explain(err))
	}
	res := ansible.Result{}
	res.Set("counts", ans.Counts)
	res.Set("listed", ans.Listed)
	missing := ans.Missing
	if missing == nil {
		missing = []string{}
	}
	res.Set("missing", missing)
	if !j.countsOnly {
		views := make([]audit.AccountView, 0, len(ans.Accounts))
		for _, a := range ans.Accounts {
			views = append(views, audit.View(a, j.filter.InactiveBefore))
		}
		res.Set("accounts", views)
	}
	res.Msg = fmt.Sprintf("%d of the %d accounts of %s match", ans.Counts.Total, ans.Listed, sess.ServerName)
	if len(missing) > 0 {
		res.Msg += fmt.Sprintf("; %d of the users asked for have no account", len(missing))
	}
	return res, nil
}
