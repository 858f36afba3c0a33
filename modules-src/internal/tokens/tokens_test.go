package tokens

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake is a backend in memory that records writes.
type fake struct {
	tokens map[string]Token
	writes []string
	// failOn makes a write to the value fail; lose makes a create's answer
	// lost after it applied.
	failOn string
	lose   bool
}

func newFake(ts ...Token) *fake {
	f := &fake{tokens: map[string]Token{}}
	for _, t := range ts {
		f.tokens[t.Value] = t
	}
	return f
}

var errRefused = errors.New("refused")

func (f *fake) List(context.Context) ([]Token, error) {
	var out []Token
	for _, t := range f.tokens {
		out = append(out, t)
	}
	return out, nil
}

func (f *fake) Get(_ context.Context, v string) (*Token, error) {
	if t, ok := f.tokens[v]; ok {
		return &t, nil
	}
	return nil, nil
}

func (f *fake) Create(_ context.Context, t Token) (*Token, bool, error) {
	f.writes = append(f.writes, "create "+t.Value)
	if t.Value == f.failOn {
		return nil, false, errRefused
	}
	if _, ok := f.tokens[t.Value]; ok {
		return nil, false, errors.New("exists")
	}
	f.tokens[t.Value] = t
	if f.lose {
		return nil, true, nil
	}
	return &t, false, nil
}

func (f *fake) Update(_ context.Context, v string, c Change) (*Token, error) {
	f.writes = append(f.writes, "update "+v)
	if v == f.failOn {
		return nil, errRefused
	}
	t := f.tokens[v]
	if c.SetUses {
		t.UsesAllowed = c.UsesAllowed
	}
	if c.SetExpiry {
		t.ExpiryTime = c.ExpiryTime
	}
	f.tokens[v] = t
	return &t, nil
}

func (f *fake) Delete(_ context.Context, v string) error {
	f.writes = append(f.writes, "delete "+v)
	delete(f.tokens, v)
	return nil
}

func (f *fake) MayHaveApplied(error) bool { return false }

func n(v int64) *int64 { return &v }

const now = 1_800_000_000_000

func run(t *testing.T, f *fake, check bool, o Options, decls ...*Desired) (*Outcome, error) {
	t.Helper()
	for i, d := range decls {
		if d.Index == 0 {
			d.Index = i
		}
	}
	require.NoError(t, Check(decls))
	var secrets []string
	r := &Runner{Client: f, CheckMode: check, Now: func() int64 { return now }, Secret: func(v string) { secrets = append(secrets, v) }}
	out, err := r.Run(context.Background(), decls, o)
	for _, tok := range f.tokens {
		if out != nil && !created(out, tok.Value) {
			assert.Contains(t, secrets, tok.Value, "every value read is handed to Secret")
		}
	}
	return out, err
}

func created(o *Outcome, v string) bool {
	for _, d := range o.Steps {
		if d.Minted == v || (d.Action == Create && d.Desired != nil && d.Desired.Value == v) {
			return true
		}
	}
	return false
}

func TestPlanSendsOnlyTheDifference(t *testing.T) {
	f := newFake(
		Token{Value: "same", UsesAllowed: n(3), Completed: 2, Pending: 1},
		Token{Value: "more", UsesAllowed: n(1), Completed: 1},
		Token{Value: "gone"},
	)
	decls := []*Desired{
		{Value: "same", UsesAllowed: n(3)},
		{Value: "more", UsesAllowed: n(5), ExpiryTime: n(now + 1000)},
		{Value: "new", ExpiryTime: n(now + 5000)},
		{Value: "gone", Absent: true},
		{Value: "never", Absent: true},
	}
	out, err := run(t, f, false, Options{}, decls...)
	require.NoError(t, err)
	require.NoError(t, out.Err)
	var actions []Action
	for _, s := range out.Steps {
		actions = append(actions, s.Action)
	}
	assert.Equal(t, []Action{Unchanged, Update, Create, Delete, NotThere}, actions)
	assert.Equal(t, []string{"update more", "create new", "delete gone"}, f.writes)
	assert.Equal(t, []string{UsesOption, ExpiryOption}, out.Steps[1].Changes)
	assert.Equal(t, "registration tokens: 1 created, 1 updated, 1 deleted, 1 unchanged, 1 absent", out.Summary(false))
	assert.True(t, out.Changed())

	f.writes = nil
	out, err = run(t, f, false, Options{}, decls...)
	require.NoError(t, err)
	assert.False(t, out.Changed(), "a rerun writes nothing")
	assert.Empty(t, f.writes)
}

func TestCheckModeWritesNothing(t *testing.T) {
	f := newFake(Token{Value: "a", UsesAllowed: n(1)}, Token{Value: "b"})
	out, err := run(t, f, true, Options{Exclusive: true, MaxDeletions: 10, MaxDeletionsPercent: 100},
		&Desired{Value: "a", UsesAllowed: n(2)}, &Desired{Name: "inv", Length: 10})
	require.NoError(t, err)
	assert.True(t, out.Changed())
	assert.Empty(t, f.writes)
	assert.Equal(t, "registration tokens: 1 would be created, 1 would be updated, 1 would be deleted", out.Summary(true))
	assert.Empty(t, out.Steps[1].Minted, "check mode makes no value")
}

func TestGeneratedTokenIsFoundByItsName(t *testing.T) {
	f := newFake(Token{Value: "other~abcdefgh"})
	d := &Desired{Name: "inv", Length: 12, UsesAllowed: n(1)}
	out, err := run(t, f, false, Options{}, d)
	require.NoError(t, err)
	minted := out.Steps[0].Minted
	assert.Regexp(t, `^inv~[A-Za-z0-9]{12}$`, minted)
	out, err = run(t, f, false, Options{}, d)
	require.NoError(t, err)
	assert.Equal(t, Unchanged, out.Steps[0].Action)
	assert.Empty(t, out.Steps[0].Minted)
	assert.Equal(t, minted, out.Steps[0].Before.Value)

	f.tokens["inv~second00"] = Token{Value: "inv~second00"}
	_, err = run(t, f, false, Options{}, d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 tokens whose value begins with inv~")
}

func TestExclusiveThreshold(t *testing.T) {
	f := newFake(Token{Value: "k"}, Token{Value: "x1"}, Token{Value: "x2"}, Token{Value: "x3"})
	_, err := run(t, f, false, Options{Exclusive: true, MaxDeletions: 10, MaxDeletionsPercent: 50}, &Desired{Value: "k"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "would delete 3 undeclared registration tokens of the 4")
	assert.Contains(t, err.Error(), "at most 2")
	assert.Empty(t, f.writes)
	_, err = run(t, f, false, Options{Exclusive: true, MaxDeletions: 2, MaxDeletionsPercent: 100}, &Desired{Value: "k"})
	require.Error(t, err)
	out, err := run(t, f, false, Options{Exclusive: true, MaxDeletions: 3, MaxDeletionsPercent: 75}, &Desired{Value: "k"})
	require.NoError(t, err)
	assert.Equal(t, 3, out.Plan.Undeclared)
	assert.Len(t, f.tokens, 1)
	assert.Equal(t, 1, DeletionLimit(10, 1, 3), "one deletion is always possible unless a limit is 0")
	assert.Equal(t, 0, DeletionLimit(0, 100, 3))
}

func TestExclusiveDeletesNothingAfterAFailure(t *testing.T) {
	f := newFake(Token{Value: "k", UsesAllowed: n(1)}, Token{Value: "x"})
	f.failOn = "k"
	out, err := run(t, f, false, Options{Exclusive: true, MaxDeletions: 10, MaxDeletionsPercent: 100}, &Desired{Value: "k", UsesAllowed: n(2)})
	require.NoError(t, err)
	require.Error(t, out.Err)
	assert.Equal(t, []string{"update k"}, f.writes)
	assert.True(t, out.Steps[1].NotSent)
	assert.Contains(t, out.Steps[1].Err.Error(), "deletes nothing after a failure")
}

func TestPastExpiryIsRefusedOnlyWhenItWouldBeSent(t *testing.T) {
	past := n(now - 1000)
	f := newFake(Token{Value: "old", ExpiryTime: past})
	out, err := run(t, f, false, Options{}, &Desired{Value: "old", ExpiryTime: n(now - 1000)})
	require.NoError(t, err)
	assert.False(t, out.Changed(), "a token that expired as declared is as declared")
	_, err = run(t, f, false, Options{}, &Desired{Value: "old", ExpiryTime: n(now - 5000)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "option expiry_time")
	_, err = run(t, f, false, Options{}, &Desired{Value: "fresh", ExpiryTime: past})
	require.Error(t, err)
	assert.Empty(t, f.writes)
}

func TestLostCreateAnswerIsReadBack(t *testing.T) {
	f := newFake()
	f.lose = true
	out, err := run(t, f, false, Options{}, &Desired{Name: "inv", Length: 8})
	require.NoError(t, err)
	require.NoError(t, out.Err)
	assert.True(t, out.Steps[0].Maybe)
	assert.True(t, out.Changed())
	assert.NotEmpty(t, out.Steps[0].Minted, "the value made is returned: it is random, so this run's")
}

func TestInterruptedRunSendsNothing(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &Runner{Client: f, Now: func() int64 { return now }}
	out, err := r.Run(ctx, []*Desired{{Value: "a"}}, Options{})
	require.NoError(t, err)
	assert.True(t, out.Steps[0].NotSent)
	assert.Empty(t, f.writes)
}

func TestCheckRefusesBeforeAnyRequest(t *testing.T) {
	cases := map[string]struct {
		d    []*Desired
		want string
	}{
		"bad char":      {[]*Desired{{Value: "a b"}}, "with spaces"},
		"too long":      {[]*Desired{{Value: strings.Repeat("a", 65)}}, "65 characters"},
		"both":          {[]*Desired{{Value: "a", Name: "b", Length: 8}}, "not both"},
		"neither":       {[]*Desired{{}}, "give token"},
		"negative":      {[]*Desired{{Value: "a", UsesAllowed: n(-1)}}, "0 or more"},
		"zero":          {[]*Desired{{Value: "a", UsesAllowed: n(0)}}, "reads 0 as unlimited"},
		"dup value":     {[]*Desired{{Value: "a"}, {Index: 1, Value: "a"}}, "the same token as"},
		"dup name":      {[]*Desired{{Name: "n", Length: 8}, {Index: 1, Name: "n", Length: 8}}, "the same name"},
		"name in value": {[]*Desired{{Name: "n", Length: 8}, {Index: 1, Value: "n~whatever"}}, "begins with n~"},
		"tilde name":    {[]*Desired{{Name: "a~b", Length: 8}}, "no ~"},
		"short random":  {[]*Desired{{Name: "a", Length: 4}}, "at least 8"},
		"too long name": {[]*Desired{{Name: strings.Repeat("n", 60), Length: 8}}, "at most 64"},
	}
	for name, c := range cases {
		err := Check(c.d)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), c.want, name)
		for _, d := range c.d {
			if d.Value != "" && len(d.Value) >= 4 {
				assert.NotContains(t, err.Error(), d.Value, "%s: a value is never quoted", name)
			}
		}
	}
	require.NoError(t, Check([]*Desired{{Value: "a", UsesAllowed: n(0), Absent: true}}), "0 is harmless on a token to delete")
}

func TestParseExpiry(t *testing.T) {
	ok := map[any]int64{
		"2026-12-31T23:59:59Z":          1798761599000,
		"2026-12-31T23:59:59+01:00":     1798757999000,
		"2026-12-31 23:59:59Z":          1798761599000,
		"2026-12-31T23:59:59.250Z":      1798761599250,
		"1798761599000":                 1798761599000,
		int64(1798761599000):            1798761599000,
		float64(1798761599000):          1798761599000,
		" 2026-12-31T23:59:59.000000Z ": 1798761599000,
	}
	for in, want := range ok {
		got, bad := ParseExpiry(in)
		require.Empty(t, bad, "%v", in)
		assert.Equal(t, want, *got, "%v", in)
	}
	got, bad := ParseExpiry(nil)
	assert.Nil(t, got)
	assert.Empty(t, bad)
	for in, want := range map[any]string{
		"2026-12-31T23:59:59":          "without an offset",
		"2026-12-31":                   "cannot read",
		"":                             "empty",
		true:                           "boolean",
		"1798761599":                   "epoch seconds?",
		"1798761599000000":             "microseconds",
		float64(1.5e12 + 0.5):          "whole number",
		"2026-12-31T23:59:59.0000001Z": "finer than a millisecond",
		"soon":                         "cannot read",
		strings.Repeat("9", 30):        "cannot read",
	} {
		_, bad := ParseExpiry(in)
		assert.Contains(t, bad, want, "%v", in)
	}
	_, bad = ParseExpiry([]any{"2026-12-31T23:59:59Z"})
	assert.Contains(t, bad, "expected epoch milliseconds")
	assert.Equal(t, "2026-12-31T23:59:59Z", ISO(1798761599000))
	assert.Equal(t, "2026-12-31T23:59:59.250Z", ISO(1798761599250))
}
