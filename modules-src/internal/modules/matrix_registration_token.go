package modules

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/session"
	"github.com/mxadmin/synapse/modules-src/internal/tokens"
)

// matrix_registration_token's own options.
const (
	optToken       = tokens.ValueOption
	optTokenName   = tokens.NameOption
	optTokenLength = tokens.LengthOption
	optUsesAllowed = tokens.UsesOption
	optExpiryTime  = tokens.ExpiryOption
	optTokens      = tokens.ListOption
	optShowToken   = "show_token"
	optMaxDeletes  = tokens.MaxDeletionsOption
	optMaxDelPct   = tokens.MaxDeletionsPercentOption
	optAllowEmpty  = "allow_empty"
)

// tokenEntryOptions are the options of one token: those of the single
// form, and of each entry of tokens.
func tokenEntryOptions() []ansible.Option {
	return []ansible.Option{
		{Name: optToken, Type: ansible.TypeStr, NoLog: true},
		{Name: optTokenName, Type: ansible.TypeStr},
		{Name: optTokenLength, Type: ansible.TypeInt, Default: tokens.DefaultRandom, Min: tokens.MinRandom, Max: tokens.MaxValue - 2},
		{Name: optUsesAllowed, Type: ansible.TypeInt},
		{Name: optExpiryTime, Type: ansible.TypeRaw},
		{Name: optState, Type: ansible.TypeStr, Choices: []string{"present", "absent"}, Default: "present"},
	}
}

func matrixRegistrationTokenSpec() ansible.Spec {
	opts := tokenEntryOptions()
	opts = append(opts,
		ansible.Option{Name: optTokens, Type: ansible.TypeList, Elements: ansible.TypeDict, Options: tokenEntryOptions(), ElementName: optTokenName},
		ansible.Option{Name: optShowToken, Type: ansible.TypeBool, Default: false},
		ansible.Option{Name: optExclusive, Type: ansible.TypeBool, Default: false},
		ansible.Option{Name: optAllowEmpty, Type: ansible.TypeBool, Default: false},
		ansible.Option{Name: optMaxDeletes, Type: ansible.TypeInt, Default: 10, Min: 0, Max: 1_000_000},
		ansible.Option{Name: optMaxDelPct, Type: ansible.TypeInt, Default: 25, Min: 0, Max: 100},
	)
	return ansible.Spec{
		Module:            "mxadmin.synapse.matrix_registration_token",
		Options:           opts,
		MutuallyExclusive: [][]string{{optToken, optTokens}, {optTokenName, optTokens}},
		RequiredOneOf:     [][]string{{optToken, optTokenName, optTokens}},
	}
}

// tokenShown are the declared values show_token lets through the result's
// scrub: with show_token, the task says the tokens are meant to be seen.
func tokenShown(p *ansible.Params) []string {
	if !p.Bool(optShowToken) {
		return nil
	}
	var out []string
	if v := p.String(optToken); v != "" {
		out = append(out, v)
	}
	for _, e := range p.List(optTokens) {
		if v := e.String(optToken); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// tokenJob is one matrix_registration_token run.
type tokenJob struct {
	decls []*tokens.Desired
	opts  tokens.Options
	show  bool
	batch bool
	run   Run
}

func prepareMatrixRegistrationToken(in *Input) (Job, error) {
	p := in.Params
	j := &tokenJob{show: p.Bool(optShowToken), batch: p.Given(optTokens), run: in.Run}
	j.opts = tokens.Options{Exclusive: p.Bool(optExclusive), MaxDeletions: p.Int(optMaxDeletes), MaxDeletionsPercent: p.Int(optMaxDelPct)}
	if j.batch {
		for _, name := range []string{optUsesAllowed, optExpiryTime, optTokenLength, optState} {
			if p.Given(name) {
				return nil, problem.Errorf(problem.Invalid, "%s is an option of each entry of %s, not of the whole list: set it in the entries", problem.Option(name), problem.Name(optTokens))
			}
		}
		for i, e := range p.List(optTokens) {
			d, err := declaredToken(e, i)
			if err != nil {
				return nil, err
			}
			j.decls = append(j.decls, d)
		}
	} else {
		d, err := declaredToken(p, -1)
		if err != nil {
			return nil, err
		}
		j.decls = []*tokens.Desired{d}
	}
	if err := tokens.Check(j.decls); err != nil {
		return nil, err
	}
	for _, d := range j.decls {
		// A name is public (it is how the result and messages name the
		// token): the scrub must not shred it where it meets a piece of
		// another token's value.
		ansible.AddPublicWords(d.Name)
	}
	if j.opts.Exclusive {
		present := 0
		for _, d := range j.decls {
			if !d.Absent {
				present++
			}
		}
		switch {
		case !j.batch:
			return nil, problem.Errorf(problem.Invalid, "%s needs %s: it deletes the tokens a list does not declare", problem.Option(optExclusive), problem.Name(optTokens))
		case present == 0 && !p.Bool(optAllowEmpty):
			return nil, problem.Errorf(problem.Invalid, "%s with no token declared present would delete every registration token of the server; declare the tokens to keep, or set %s: true if that is meant", problem.Option(optExclusive), problem.Name(optAllowEmpty))
		}
	}
	mode, err := in.Connection.Mode()
	if err != nil {
		return nil, err
	}
	if mode == session.ModeSharedSecret {
		// Only with service_account "": otherwise the shared secret logs in
		// as the collection's service admin, which can manage tokens.
		return nil, problem.Errorf(problem.Credentials, "registration tokens need %s, or %s with %s, or the service admin (%s is \"\"): %s alone can only register users",
			problem.Name(optAdminToken), problem.Name(optAdminUser), problem.Name(optAdminPassword), problem.Name(optServiceAcct), problem.Name(optSharedSecret))
	}
	return j, nil
}

// declaredToken decodes one token's options; index is -1 for the single
// form.
func declaredToken(p *ansible.Params, index int) (*tokens.Desired, error) {
	d := &tokens.Desired{Index: index, Value: p.String(optToken), Name: p.String(optTokenName), Length: p.Int(optTokenLength), Absent: p.String(optState) == "absent"}
	if d.Length == 0 {
		d.Length = tokens.DefaultRandom
	}
	if p.Given(optUsesAllowed) {
		n := int64(p.Int(optUsesAllowed))
		d.UsesAllowed = &n
	}
	var bad string
	if d.ExpiryTime, bad = tokens.ParseExpiry(p.Value(optExpiryTime)); bad != "" {
		return nil, problem.Errorf(problem.Invalid, "%s: %s: %s", tokens.RefOf(d), problem.Option(optExpiryTime), bad)
	}
	return d, nil
}

// Do reads the tokens, plans, and applies (check mode: only reads).
func (j *tokenJob) Do(ctx context.Context, sess *session.Session) (ansible.Result, error) {
	words := j.run.Role.Words()
	var client tokens.Client = tokens.SynapseClient{C: sess.Client}
	if sess.MAS != nil {
		// MAS's own tokens (docs/registration-tokens.md, "Under MAS"):
		// Synapse's token endpoints are not there when it delegates.
		client = tokens.NewMASClient(sess.MAS)
	}
	r := &tokens.Runner{
		Client:    client,
		CheckMode: j.run.CheckMode,
		Now:       func() int64 { return time.Now().UnixMilli() },
		Secret: func(v string) {
			if !j.show {
				ansible.AddSecret(j.secretPart(v))
			}
		},
	}
	out, err := r.Run(ctx, j.decls, j.opts)
	if err != nil {
		return ansible.Result{}, sess.Explain(err)
	}
	res := ansible.Result{Changed: out.Changed()}
	views := make([]map[string]any, 0, len(out.Steps))
	var diffs []ansible.Diff
	for _, d := range out.Steps {
		views = append(views, tokenView(d, j.show, words))
		if j.run.Diff && (d.Applied || d.Maybe) {
			label := tokens.RefOf(d.Desired).Render(words)
			diffs = append(diffs, ansible.Diff{Before: diffSide(d.Before, d.Before != nil), After: diffSide(d.After, d.Action != tokens.Delete), BeforeHeader: label, AfterHeader: label})
		}
	}
	res.Set("tokens", views)
	if len(diffs) > 0 {
		res.Diff = diffs
	}
	res.Msg = out.Summary(j.run.CheckMode)
	if out.Err != nil {
		res.Failed = true
		res.Msg = problem.Render(sess.Explain(out.Err), words) + " (" + res.Msg + ")"
	}
	return res, nil
}

// secretPart is what of a token value read from the server the result's
// scrub must mask: all of it, but for a value that begins with a declared
// name and Sep, the part after them (the name is public: the result and
// the messages name the token by it).
func (j *tokenJob) secretPart(v string) string {
	if name, rest, ok := strings.Cut(v, tokens.Sep); ok && rest != "" {
		for _, d := range j.decls {
			if d.Name == name {
				return rest
			}
		}
	}
	return v
}

// tokenView is one token in the result. Its value is shown only when the
// run generated it (once), or with show_token.
func tokenView(d *tokens.Done, show bool, words Words) map[string]any {
	t := d.After
	if t == nil {
		t = d.Before
	}
	v := map[string]any{
		"action":  string(d.Action),
		"changes": append([]string{}, d.Changes...),
		"state":   "present",
	}
	if d.Action == tokens.Delete || d.Action == tokens.NotThere {
		v["state"] = "absent"
	}
	if d.Desired != nil {
		v["declared"] = true
		v["name"] = nil
		if d.Desired.Name != "" {
			v["name"] = d.Desired.Name
		}
		v["entry"] = tokens.RefOf(d.Desired).Render(words)
	} else {
		v["declared"] = false
		v["name"] = nil
	}
	switch {
	case d.Minted != "":
		v["token"] = d.Minted
	case t == nil || t.Value == "":
		v["token"] = nil
	case show:
		v["token"] = t.Value
	default:
		v["token"] = ansible.Redacted
	}
	if d.NotSent || (d.Err != nil && !d.Maybe) {
		// Nothing was applied: the token is as it was.
		t = d.Before
		if d.Action == tokens.Create {
			v["state"] = "absent"
			if d.Minted != "" && d.NotSent {
				v["token"] = nil
			}
		}
	}
	if d.Err != nil {
		v["failed"] = true
		v["msg"] = problem.Render(d.Err, words)
	}
	v["uses_allowed"], v["expiry_time"], v["expiry_time_iso"], v["pending"], v["completed"] = nil, nil, nil, 0, 0
	if t != nil {
		if t.UsesAllowed != nil {
			v["uses_allowed"] = *t.UsesAllowed
		}
		if t.ExpiryTime != nil {
			v["expiry_time"] = *t.ExpiryTime
			v["expiry_time_iso"] = tokens.ISO(*t.ExpiryTime)
		}
		v["pending"], v["completed"] = t.Pending, t.Completed
	}
	return v
}

// diffSide is a token in the diff: never its value; expiry in both forms.
func diffSide(t *tokens.Token, present bool) map[string]any {
	if t == nil || !present {
		return map[string]any{"state": "absent"}
	}
	uses := "unlimited"
	if t.UsesAllowed != nil {
		uses = strconv.FormatInt(*t.UsesAllowed, 10)
	}
	expiry := "never"
	if t.ExpiryTime != nil {
		expiry = fmt.Sprintf("%d (%s)", *t.ExpiryTime, tokens.ISO(*t.ExpiryTime))
	}
	return map[string]any{"state": "present", "uses_allowed": uses, "expiry_time": expiry}
}
