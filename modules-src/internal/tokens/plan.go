package tokens

import (
	"sort"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Action is what a step does to one token.
type Action string

// The actions.
const (
	Create    Action = "created"
	Update    Action = "updated"
	Delete    Action = "deleted"
	Unchanged Action = "unchanged"
	// NotThere: declared absent and does not exist.
	NotThere Action = "absent"
)

// Step is the plan for one token: a declared one, or (Desired nil) one
// exclusive mode deletes.
type Step struct {
	Desired *Desired
	// Before is the token as read; nil when it does not exist.
	Before *Token
	// After is the token as the step leaves it (nil: deleted or absent).
	// A generated token's value is made when the step is applied.
	After  *Token
	Action Action
	// Change is what an update sends.
	Change Change
	// Changes name the fields that differ, in report order.
	Changes []string
}

// Plan is what a run does, in order: the declared entries, then the
// undeclared tokens exclusive mode deletes.
type Plan struct {
	Steps []*Step
	// Undeclared counts the exclusive deletions among Steps.
	Undeclared int
}

// Options are the run's choices beyond the declaration.
type Options struct {
	Exclusive bool
	// MaxDeletions and MaxDeletionsPercent bound what exclusive mode may
	// delete in one run (of the tokens the backend has).
	MaxDeletions        int
	MaxDeletionsPercent int
	// Now is the time in milliseconds since the epoch, for the check of
	// expiries Synapse would refuse.
	Now int64
}

// Option names the plan's messages refer to.
const (
	ExclusiveOption           = "exclusive"
	MaxDeletionsOption        = "max_deletions"
	MaxDeletionsPercentOption = "max_deletions_percent"
)

// MakePlan compares the declaration with the tokens the backend has.
func MakePlan(decls []*Desired, current []Token, o Options) (*Plan, error) {
	byValue := make(map[string]*Token, len(current))
	for i := range current {
		byValue[current[i].Value] = &current[i]
	}
	claimed := map[string]bool{}
	p := &Plan{}
	for _, d := range decls {
		cur, err := find(d, current, byValue)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			claimed[cur.Value] = true
		}
		s, err := planOne(d, cur, o.Now)
		if err != nil {
			return nil, err
		}
		p.Steps = append(p.Steps, s)
	}
	if !o.Exclusive {
		return p, nil
	}
	var undeclared []*Token
	for i := range current {
		if !claimed[current[i].Value] {
			undeclared = append(undeclared, &current[i])
		}
	}
	if n := len(undeclared); n > 0 {
		limit := DeletionLimit(o.MaxDeletions, o.MaxDeletionsPercent, len(current))
		if n > limit {
			return nil, problem.Errorf(problem.Threshold,
				"%s would delete %d undeclared registration tokens of the %d the server has, more than this run allows (%s: %d, %s: %d%%, so at most %d); nothing was changed. Declare the tokens to keep, or raise %s or %s if these deletions are meant",
				problem.Option(ExclusiveOption), n, len(current), problem.Name(MaxDeletionsOption), o.MaxDeletions, problem.Name(MaxDeletionsPercentOption), o.MaxDeletionsPercent, limit,
				problem.Name(MaxDeletionsOption), problem.Name(MaxDeletionsPercentOption))
		}
	}
	for _, t := range undeclared {
		p.Steps = append(p.Steps, &Step{Before: t, Action: Delete, Changes: []string{"state"}})
		p.Undeclared++
	}
	return p, nil
}

// DeletionLimit is how many undeclared tokens one exclusive run may
// delete: at most maxCount, and at most maxPercent of the tokens there
// are, rounded up so that one deletion is always possible (unless a limit
// is 0).
func DeletionLimit(maxCount, maxPercent, total int) int {
	return min(maxCount, (maxPercent*total+99)/100)
}

// find is the current token a declared entry names: its value, or for a
// generated token the one whose value begins with its name and Sep.
func find(d *Desired, current []Token, byValue map[string]*Token) (*Token, error) {
	if !d.Generated() {
		return byValue[d.Value], nil
	}
	var found []*Token
	prefix := d.Name + Sep
	for i := range current {
		if strings.HasPrefix(current[i].Value, prefix) {
			found = append(found, &current[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	return nil, problem.Errorf(problem.Unresolved, "%s: the server has %d tokens whose value begins with %s%s, and a name identifies one: delete the extra ones, or declare each by its %s", RefOf(d), len(found), d.Name, Sep, problem.Name(ValueOption))
}

// planOne is the step of one declared entry.
func planOne(d *Desired, cur *Token, now int64) (*Step, error) {
	s := &Step{Desired: d, Before: cur}
	if d.Absent {
		if cur == nil {
			s.Action = NotThere
			return s, nil
		}
		s.Action, s.Changes = Delete, []string{"state"}
		return s, nil
	}
	past := func() error {
		return problem.Errorf(problem.Invalid, "%s: %s %s is in the past, and the module sets no expiry in the past (Synapse refuses one; MAS would take it and make the token invalid at once; it is kept only on a token that already has it); give a later one, null for never, or %s: absent to remove the token",
			RefOf(d), problem.Option(ExpiryOption), ISO(*d.ExpiryTime), problem.Name("state"))
	}
	if cur == nil {
		if d.ExpiryTime != nil && *d.ExpiryTime <= now {
			return nil, past()
		}
		s.Action = Create
		s.After = &Token{Value: d.Value, UsesAllowed: d.UsesAllowed, ExpiryTime: d.ExpiryTime}
		s.Changes = []string{"state"}
		return s, nil
	}
	after := *cur
	if !sameInt(cur.UsesAllowed, d.UsesAllowed) {
		s.Change.SetUses, s.Change.UsesAllowed = true, d.UsesAllowed
		after.UsesAllowed = d.UsesAllowed
		s.Changes = append(s.Changes, UsesOption)
	}
	if !sameInt(cur.ExpiryTime, d.ExpiryTime) {
		if d.ExpiryTime != nil && *d.ExpiryTime <= now {
			return nil, past()
		}
		s.Change.SetExpiry, s.Change.ExpiryTime = true, d.ExpiryTime
		after.ExpiryTime = d.ExpiryTime
		s.Changes = append(s.Changes, ExpiryOption)
	}
	s.After = &after
	s.Action = Unchanged
	if !s.Change.Empty() {
		s.Action = Update
	}
	return s, nil
}

func sameInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// Changed reports whether the plan writes anything.
func (p *Plan) Changed() bool {
	for _, s := range p.Steps {
		if s.Action == Create || s.Action == Update || s.Action == Delete {
			return true
		}
	}
	return false
}

// Counts counts the steps by action.
func (p *Plan) Counts() map[Action]int {
	out := map[Action]int{}
	for _, s := range p.Steps {
		out[s.Action]++
	}
	return out
}

// sortedActions is the order counts are reported in.
func sortedActions(m map[Action]int) []Action {
	order := map[Action]int{Create: 0, Update: 1, Delete: 2, Unchanged: 3, NotThere: 4}
	out := make([]Action, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return order[out[i]] < order[out[j]] })
	return out
}
