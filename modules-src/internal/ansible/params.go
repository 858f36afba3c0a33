package ansible

import "slices"

// Params are validated, coerced module arguments. An option that was left
// out (or given as null) is "not given": modules manage only what the task
// declares, so every accessor exists in a plain form (default applied) and an
// optional form that returns nil when the option was not given.
type Params struct {
	values map[string]any
	// given names the options the task set: a few per list entry, so a
	// slice rather than a second map (100,000 entries of a users list each
	// hold one of these).
	given []string
	// warnings (top level only) are what validation let through with a
	// warning, for the module's result.
	warnings []string
}

// Warnings are the warnings of validation (a number taken as a string), to
// be added to the module's result as AnsibleModule adds its own.
func (p *Params) Warnings() []string { return p.warnings }

// Given reports whether the task set the option (defaults do not count).
func (p *Params) Given(name string) bool { return slices.Contains(p.given, name) }

// String returns a str or path option, or "" when it has no value.
func (p *Params) String(name string) string {
	s, _ := p.values[name].(string)
	return s
}

// OptString returns a str option, or nil when the task did not give it.
func (p *Params) OptString(name string) *string {
	if !p.Given(name) {
		return nil
	}
	s := p.String(name)
	return &s
}

// Bool returns a bool option, false when it has no value.
func (p *Params) Bool(name string) bool {
	b, _ := p.values[name].(bool)
	return b
}

// OptBool returns a bool option, or nil when the task did not give it.
func (p *Params) OptBool(name string) *bool {
	if !p.Given(name) {
		return nil
	}
	b := p.Bool(name)
	return &b
}

// Int returns an int option, 0 when it has no value.
func (p *Params) Int(name string) int {
	switch n := p.values[name].(type) {
	case int64:
		return int(n)
	case int:
		return n
	}
	return 0
}

// Strings returns a list option whose elements are strings.
func (p *Params) Strings(name string) []string {
	list, _ := p.values[name].([]any)
	out := make([]string, 0, len(list))
	for _, el := range list {
		if s, ok := el.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// List returns a list option whose elements are dicts with sub-options.
func (p *Params) List(name string) []*Params {
	list, _ := p.values[name].([]any)
	out := make([]*Params, 0, len(list))
	for _, el := range list {
		if sub, ok := el.(*Params); ok {
			out = append(out, sub)
		}
	}
	return out
}

// Value is an option's value as validation coerced it, for code that
// handles options generically: a dict's or list element's sub-options are
// a map[string]any (of the sub-options given or defaulted), nil when the
// option has no value.
func (p *Params) Value(name string) any { return plainValue(p.values[name]) }

func plainValue(v any) any {
	switch x := v.(type) {
	case *Params:
		m := make(map[string]any, len(x.values))
		for k, val := range x.values {
			m[k] = plainValue(val)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = plainValue(el)
		}
		return out
	}
	return v
}
