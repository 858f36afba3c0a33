package ansible

// Validation of a module's arguments against its spec: unknown options,
// nulls, defaults, choices, required options and the rules between options.

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Validate checks raw arguments against the spec: it splits off the internal
// keys, refuses unknown options, coerces every value to its declared type the
// way Ansible does, applies defaults and checks choices, required options and
// the spec's constraints. It sends nothing anywhere: all of this happens before
// the module makes its first request.
func Validate(spec Spec, raw map[string]any) (*Params, Internal, error) {
	return ValidateAs(spec, raw, ModuleNaming)
}

// ValidateAs is Validate with messages that name options as n does.
func ValidateAs(spec Spec, raw map[string]any, n Naming) (*Params, Internal, error) {
	internal, args, internalProblems := splitInternal(raw)
	v := validator{problems: internalProblems, n: n}
	p := v.options(spec.Module, nil, spec.Options, args)
	if p != nil {
		v.constraints(spec, p)
	}
	if len(v.problems) > 0 {
		return nil, internal, &ValidationError{Problems: v.problems}
	}
	p.warnings = v.warnings
	return p, internal, nil
}

// internalBools are the boolean _ansible_* keys the module acts on. Ansible
// itself (AnsibleModule._set_internal_properties) fails a module whose
// _ansible_check_mode is not a recognisable boolean; so do we, and a null
// counts as not recognisable: reading a garbled check-mode flag as false
// would turn a dry run into a real one.
var internalBools = map[string]func(*Internal, bool){
	"_ansible_check_mode": func(in *Internal, b bool) { in.CheckMode = b },
	"_ansible_diff":       func(in *Internal, b bool) { in.Diff = b },
	// Refused when garbled like the others; its value is not needed, as
	// Ansible itself censors the result of a no_log task.
	"_ansible_no_log": func(*Internal, bool) {},
}

func splitInternal(raw map[string]any) (Internal, map[string]any, []string) {
	var in Internal
	var problems []string
	args := make(map[string]any, len(raw))
	for k, v := range raw {
		if !strings.HasPrefix(k, "_ansible_") {
			args[k] = v
			continue
		}
		if set, ok := internalBools[k]; ok {
			b, err := parseBool(v)
			if err != nil || v == nil {
				// Fail safe until the run is refused: check mode on.
				in.CheckMode = true
				problems = append(problems, fmt.Sprintf("internal argument %s: Ansible sends a boolean here, got a %s; refusing to guess whether this is a check-mode run", k, kindOf(v)))
				continue
			}
			set(&in, b)
			continue
		}
		if k == "_ansible_verbosity" {
			if n, err := toInt(v); err == nil {
				in.Verbosity = int(n)
			}
		}
	}
	sort.Strings(problems)
	return in, args, problems
}

type validator struct {
	n        Naming
	problems []string
	// warnings are the conversions a run goes on with (a number given
	// for a string), as AnsibleModule's warnings.
	warnings []string
}

func (v *validator) addf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// options validates one level of options. path is nil at the top and e.g.
// users[3] for the sub-options of a list element.
func (v *validator) options(module string, path Path, opts []Option, args map[string]any) *Params {
	p := &Params{values: map[string]any{}}
	byName := map[string]*Option{}
	for i := range opts {
		o := &opts[i]
		byName[o.Name] = o
		for _, a := range o.Aliases {
			byName[a] = o
		}
	}

	var unknown []string
	seen := map[string]string{}   // canonical name -> key used
	nulled := map[string]string{} // canonical name -> key given as null
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		o, ok := byName[key]
		if !ok {
			unknown = append(unknown, key)
			continue
		}
		raw := args[key]
		if raw == nil {
			// A null is an option left out (a template that rendered to
			// nothing): the required and choices checks below still
			// apply to it, defaults fill it in.
			nulled[o.Name] = key
			continue
		}
		if prev, dup := seen[o.Name]; dup {
			v.addf("%s: both %s and %s are given; they are the same option, give only one", v.n.OptionPath(path.With(Step{Option: o.Name})), prev, key)
			continue
		}
		seen[o.Name] = key
		val, err := v.coerce(module, path.With(Step{Option: key}), o, raw)
		if err != "" {
			v.addf("%s", err)
			continue
		}
		p.values[o.Name] = val
		p.given = append(p.given, o.Name)
	}
	if len(unknown) > 0 {
		v.addf("%s", unsupported(module, v.place(path), unknown, opts))
	}

	for i := range opts {
		o := &opts[i]
		if p.Given(o.Name) {
			continue
		}
		_, tried := seen[o.Name] // given, but its value was refused above
		nullKey, isNull := nulled[o.Name]
		if o.Required {
			switch {
			case tried:
			case isNull:
				v.addf("%s: missing required %s (%s is null, and a null counts as not given)", where(module, v.place(path)), v.n.OptionPath(Path{{Option: o.Name}}), nullKey)
			default:
				v.addf("%s: missing required %s", where(module, v.place(path)), v.n.OptionPath(Path{{Option: o.Name}}))
			}
			continue
		}
		if isNull && !tried && len(o.Choices) > 0 {
			// Ansible refuses a null here too: a null is none of the
			// choices. Leaving the option out is how to get its default.
			v.addf("%s: value must be one of %s, got null (leave the option out instead)", v.n.OptionPath(path.With(Step{Option: nullKey})), strings.Join(o.Choices, ", "))
			continue
		}
		if isNull && !tried && o.Default != nil {
			// Ansible refuses a null for an option with a default rather
			// than apply it, and so do we: `protect: "{{ list }}"` that
			// rendered to null must not quietly become "protect nothing"
			// next to exclusive.
			v.addf("%s: null is not a valid %s; leave the option out to use its default (%s)", v.n.OptionPath(path.With(Step{Option: nullKey})), o.Type, describeDefault(o.Default))
			continue
		}
		if o.Default != nil {
			p.values[o.Name] = o.Default
		}
	}
	return p
}

func (v *validator) constraints(spec Spec, p *Params) {
	for _, group := range spec.MutuallyExclusive {
		var given []string
		for _, name := range group {
			if p.Given(name) {
				given = append(given, name)
			}
		}
		if len(given) > 1 {
			v.addf("%s: options %s are mutually exclusive; give only one", spec.Module, v.names(given))
		}
	}
	for _, group := range spec.RequiredOneOf {
		found := false
		for _, name := range group {
			found = found || p.Given(name)
		}
		if !found {
			v.addf("%s: one of these options is required: %s", spec.Module, v.names(group))
		}
	}
	for _, group := range spec.RequiredTogether {
		var given, missing []string
		for _, name := range group {
			if p.Given(name) {
				given = append(given, name)
			} else {
				missing = append(missing, name)
			}
		}
		if len(given) > 0 && len(missing) > 0 {
			v.addf("%s: options %s must be given together (missing: %s)", spec.Module, v.names(group), v.names(missing))
		}
	}
}

// place names where the options at path are: "" at the top, else the list
// element.
func (v *validator) place(path Path) string {
	if len(path) == 0 {
		return ""
	}
	return v.n.ElementPath(path)
}

// names joins top-level option names with ", ", each as the Naming says.
func (v *validator) names(names []string) string {
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = v.n.Name(name)
	}
	return strings.Join(out, ", ")
}

// coerce coerces the value of the option o at path.
func (v *validator) coerce(module string, path Path, o *Option, raw any) (any, string) {
	name := v.n.OptionPath(path)
	val, err := v.scalar(name, o.Type, o.NoLog, raw)
	if o.Type == TypeInt && o.Max != 0 {
		n, _ := val.(int64)
		if errors.Is(err, errOutOfRange) || err == nil && (n < o.Min || n > o.Max) {
			got := "a " + kindOf(raw)
			switch x := raw.(type) {
			case string:
				got = quoteValue(x)
			case json.Number, float64, int, int64:
				got = fmt.Sprint(x)
			}
			return nil, fmt.Sprintf("%s: must be at least %d and at most %d, got %s", name, o.Min, o.Max, got)
		}
	}
	if err != nil {
		return nil, fmt.Sprintf("%s: %v", name, err)
	}
	switch o.Type {
	case TypeList:
		list := val.([]any)
		out := make([]any, 0, len(list))
		last := path[len(path)-1]
		for i, el := range list {
			elPath := append(append(Path{}, path[:len(path)-1]...), Step{Option: last.Option, Elem: true, Index: i})
			elName := v.n.OptionPath(elPath)
			if el == nil {
				return nil, fmt.Sprintf("%s: null is not allowed in a list", elName)
			}
			if o.Elements == "" {
				out = append(out, el)
				continue
			}
			ev, err := v.scalar(elName, o.Elements, o.NoLog, el)
			if err != nil {
				return nil, fmt.Sprintf("%s: %v", elName, err)
			}
			if o.Elements == TypeDict && len(o.Options) > 0 {
				entry := ev.(map[string]any)
				before := len(v.problems)
				elPath[len(elPath)-1].Label = elementLabel(o, entry)
				sub := v.options(module, elPath, o.Options, entry)
				if len(v.problems) > before {
					continue
				}
				out = append(out, sub)
				continue
			}
			if msg := checkChoices(elName, o.Choices, ev); msg != "" {
				return nil, msg
			}
			out = append(out, ev)
		}
		return out, ""
	case TypeDict:
		if len(o.Options) > 0 {
			before := len(v.problems)
			sub := v.options(module, path, o.Options, val.(map[string]any))
			if len(v.problems) > before {
				return nil, ""
			}
			return sub, ""
		}
	}
	if msg := checkChoices(name, o.Choices, val); msg != "" {
		return nil, msg
	}
	return val, ""
}

// scalar coerces one value (an option's, or a list element's) to t, and
// notes a number taken as text. name is how messages refer to the option.
func (v *validator) scalar(name string, t Type, noLog bool, raw any) (any, error) {
	val, err := coerceScalar(t, raw)
	var notText *notTextError
	if errors.As(err, &notText) {
		notText.noLog = noLog
	}
	if err == nil && (t == TypeStr || t == TypePath) && isNumber(raw) {
		v.warnings = append(v.warnings, numberConversion(name, raw, noLog))
	}
	return val, err
}

// elementLabel is the label of a list element in messages: the value of
// the option's ElementName sub-option (users[2] (ex-staff)), when that is
// short plain text: a name that is not would make the message harder to
// read, and the index alone still says which entry it is. "" for none.
func elementLabel(o *Option, entry map[string]any) string {
	if o.ElementName == "" {
		return ""
	}
	for _, sub := range o.Options {
		if sub.Name != o.ElementName {
			continue
		}
		for _, key := range append([]string{sub.Name}, sub.Aliases...) {
			s, ok := entry[key].(string)
			if ok && s != "" && s != InvalidText && len(s) <= 80 && !strings.ContainsAny(s, "()") && strconv.Quote(s) == `"`+s+`"` {
				return s
			}
		}
	}
	return ""
}

// describeDefault shows an option's default in a message.
func describeDefault(d any) string {
	switch x := d.(type) {
	case string:
		if x == "" {
			return `""`
		}
		return x
	case []any:
		if len(x) == 0 {
			return "[]"
		}
	}
	return fmt.Sprint(d)
}

// checkChoices refuses a value that is none of the choices; name is how
// messages refer to the option.
func checkChoices(name string, choices []string, val any) string {
	if len(choices) == 0 {
		return ""
	}
	s := fmt.Sprint(val)
	for _, c := range choices {
		if c == s {
			return ""
		}
	}
	return fmt.Sprintf("%s: value must be one of %s, got %q", name, strings.Join(choices, ", "), s)
}
