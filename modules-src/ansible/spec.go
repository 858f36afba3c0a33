package ansible

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Type is an Ansible option type, named as in argument_spec and DOCUMENTATION.
type Type string

// The option types this package coerces values to.
const (
	TypeStr   Type = "str"
	TypeBool  Type = "bool"
	TypeInt   Type = "int"
	TypeFloat Type = "float"
	TypeList  Type = "list"
	TypeDict  Type = "dict"
	TypePath  Type = "path"
	TypeRaw   Type = "raw"
)

// Option describes one module option the way an Ansible argument_spec does.
// The modules' docs-only .py files document the same fields; a test compares
// the two so that they cannot drift apart.
type Option struct {
	Name     string
	Type     Type
	Elements Type // element type of a list
	Required bool
	Default  any
	Choices  []string
	NoLog    bool
	Aliases  []string
	// Min and Max bound an int option when Max is not 0; the message of a
	// value outside them states the range.
	Min, Max int64
	// Options are the sub-options of a dict, or of each dict element of a list.
	Options []Option
}

// Spec is the argument spec of one module.
type Spec struct {
	// Module is the name shown in messages, e.g. "mxadmin.synapse.matrix_user".
	Module            string
	Options           []Option
	MutuallyExclusive [][]string
	RequiredOneOf     [][]string
	RequiredTogether  [][]string
}

// Internal holds the _ansible_* keys a module acts on. Every other
// _ansible_* key is ignored, as new ansible-core releases add more of them.
type Internal struct {
	CheckMode bool
	Diff      bool
	Verbosity int
	NoLog     bool
}

// ValidationError lists every problem found in the arguments, so that a user
// fixes them all in one go instead of one per run.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

// Validate checks raw arguments against the spec: it splits off the internal
// keys, refuses unknown options, coerces every value to its declared type the
// way Ansible does, applies defaults and checks choices, required options and
// the spec's constraints. It sends nothing anywhere: all of this happens before
// the module makes its first request.
func Validate(spec Spec, raw map[string]any) (*Params, Internal, error) {
	internal, args, internalProblems := splitInternal(raw)
	v := validator{problems: internalProblems}
	p := v.options(spec.Module, "", spec.Options, args)
	if p != nil {
		v.constraints(spec, p)
	}
	if len(v.problems) > 0 {
		return nil, internal, &ValidationError{Problems: v.problems}
	}
	return p, internal, nil
}

// SecretValues returns the values of every no_log option in the raw
// arguments, at any depth. The result writer scrubs them from all output as a
// last line of defence, the way Ansible masks no_log values.
func SecretValues(spec Spec, raw map[string]any) []string {
	var out []string
	collectSecrets(spec.Options, raw, &out)
	return out
}

func collectSecrets(opts []Option, raw map[string]any, out *[]string) {
	for _, o := range opts {
		for _, key := range append([]string{o.Name}, o.Aliases...) {
			val, ok := raw[key]
			if !ok || val == nil {
				continue
			}
			if o.NoLog {
				if s := scalarString(val); s != "" {
					*out = append(*out, s)
				}
			}
			if len(o.Options) == 0 {
				continue
			}
			// The same coercion validation applies, so that secrets in a
			// dict written as a string (users: ["user=a password=b"]) or a
			// list written as one are found as validation will read them.
			coerced, err := coerceScalar(o.Type, val)
			if err != nil {
				continue
			}
			switch x := coerced.(type) {
			case map[string]any:
				collectSecrets(o.Options, x, out)
			case []any:
				for _, el := range x {
					if m, err := coerceScalar(o.Elements, el); err == nil {
						if m, ok := m.(map[string]any); ok {
							collectSecrets(o.Options, m, out)
						}
					}
				}
			}
		}
	}
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// internalBools are the boolean _ansible_* keys the module acts on. Ansible
// itself (AnsibleModule._set_internal_properties) fails a module whose
// _ansible_check_mode is not a recognisable boolean; so do we, and a null
// counts as not recognisable: reading a garbled check-mode flag as false
// would turn a dry run into a real one.
var internalBools = map[string]func(*Internal, bool){
	"_ansible_check_mode": func(in *Internal, b bool) { in.CheckMode = b },
	"_ansible_diff":       func(in *Internal, b bool) { in.Diff = b },
	"_ansible_no_log":     func(in *Internal, b bool) { in.NoLog = b },
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
	problems []string
}

func (v *validator) addf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// options validates one level of options. path is "" at the top and e.g.
// "users[3]" for the sub-options of a list element.
func (v *validator) options(module, path string, opts []Option, args map[string]any) *Params {
	p := &Params{path: path, values: map[string]any{}, given: map[string]bool{}}
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
			v.addf("%s: both %s and %s are given; they are the same option, give only one", describe(path, o.Name), prev, key)
			continue
		}
		seen[o.Name] = key
		val, err := v.coerce(module, join(path, o.Name), o, raw)
		if err != "" {
			v.addf("%s", err)
			continue
		}
		p.values[o.Name] = val
		p.given[o.Name] = true
	}
	if len(unknown) > 0 {
		v.addf("%s", unsupported(module, path, unknown, opts))
	}

	for i := range opts {
		o := &opts[i]
		if p.given[o.Name] {
			continue
		}
		_, tried := seen[o.Name] // given, but its value was refused above
		nullKey, isNull := nulled[o.Name]
		if o.Required {
			switch {
			case tried:
			case isNull:
				v.addf("%s: missing required option %s (%s is null, and a null counts as not given)", where(module, path), o.Name, nullKey)
			default:
				v.addf("%s: missing required option %s", where(module, path), o.Name)
			}
			continue
		}
		if isNull && !tried && len(o.Choices) > 0 {
			// Ansible refuses a null here too: a null is none of the
			// choices. Leaving the option out is how to get its default.
			v.addf("option %s: value must be one of %s, got null (leave the option out instead)", join(path, nullKey), strings.Join(o.Choices, ", "))
			continue
		}
		if isNull && !tried && o.Default != nil {
			// Ansible refuses a null for an option with a default rather
			// than apply it, and so do we: `protect: "{{ list }}"` that
			// rendered to null must not quietly become "protect nothing"
			// next to exclusive.
			v.addf("option %s: null is not a valid %s; leave the option out to use its default (%s)", join(path, nullKey), o.Type, describeDefault(o.Default))
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
			if p.given[name] {
				given = append(given, name)
			}
		}
		if len(given) > 1 {
			v.addf("%s: options %s are mutually exclusive; give only one", where(spec.Module, ""), strings.Join(given, ", "))
		}
	}
	for _, group := range spec.RequiredOneOf {
		found := false
		for _, name := range group {
			found = found || p.given[name]
		}
		if !found {
			v.addf("%s: one of these options is required: %s", where(spec.Module, ""), strings.Join(group, ", "))
		}
	}
	for _, group := range spec.RequiredTogether {
		var given, missing []string
		for _, name := range group {
			if p.given[name] {
				given = append(given, name)
			} else {
				missing = append(missing, name)
			}
		}
		if len(given) > 0 && len(missing) > 0 {
			v.addf("%s: options %s must be given together (missing: %s)", where(spec.Module, ""), strings.Join(group, ", "), strings.Join(missing, ", "))
		}
	}
}

func (v *validator) coerce(module, name string, o *Option, raw any) (any, string) {
	val, err := coerceScalar(o.Type, raw)
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
			return nil, fmt.Sprintf("option %s: must be at least %d and at most %d, got %s", name, o.Min, o.Max, got)
		}
	}
	if err != nil {
		return nil, fmt.Sprintf("option %s: %v", name, err)
	}
	switch o.Type {
	case TypeList:
		list := val.([]any)
		out := make([]any, 0, len(list))
		for i, el := range list {
			elName := fmt.Sprintf("%s[%d]", name, i)
			if el == nil {
				return nil, fmt.Sprintf("option %s: null is not allowed in a list", elName)
			}
			if o.Elements == "" {
				out = append(out, el)
				continue
			}
			ev, err := coerceScalar(o.Elements, el)
			if err != nil {
				return nil, fmt.Sprintf("option %s: %v", elName, err)
			}
			if o.Elements == TypeDict && len(o.Options) > 0 {
				before := len(v.problems)
				sub := v.options(module, elName, o.Options, ev.(map[string]any))
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
			sub := v.options(module, name, o.Options, val.(map[string]any))
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
	return fmt.Sprintf("option %s: value must be one of %s, got %q", name, strings.Join(choices, ", "), s)
}

// coerceScalar converts one value to t following Ansible's check_type_*
// rules, so that `admin=yes` on the command line and `admin: true` in YAML
// mean the same thing.
func coerceScalar(t Type, raw any) (any, error) {
	if s, ok := raw.(string); ok && s == InvalidText {
		return nil, errInvalidText
	}
	switch t {
	case TypeStr:
		return toStr(raw)
	case TypePath:
		s, err := toStr(raw)
		if err != nil {
			return nil, err
		}
		return expandPath(s), nil
	case TypeBool:
		return parseBool(raw)
	case TypeInt:
		return toInt(raw)
	case TypeFloat:
		return toFloat(raw)
	case TypeList:
		switch x := raw.(type) {
		case []any:
			return x, nil
		case string:
			// Ansible splits a string on commas: protect=a,b from the CLI.
			parts := strings.Split(x, ",")
			out := make([]any, len(parts))
			for i, s := range parts {
				out[i] = s
			}
			return out, nil
		case json.Number:
			return []any{x.String()}, nil
		}
		return nil, fmt.Errorf("expected a list, got a %s", kindOf(raw))
	case TypeDict:
		switch x := raw.(type) {
		case map[string]any:
			return x, nil
		case string:
			return parseDictString(x)
		}
		return nil, fmt.Errorf("expected a dict, got a %s", kindOf(raw))
	case TypeRaw, "":
		return raw, nil
	}
	return nil, fmt.Errorf("unknown option type %q", t)
}

func toStr(raw any) (string, error) {
	switch x := raw.(type) {
	case string:
		return x, nil
	case json.Number, bool, float64:
		// Ansible converts scalars to their Python string form: a YAML
		// password of 12345 is the string "12345".
		return scalarString(x), nil
	}
	return "", fmt.Errorf("expected a string, got a %s", kindOf(raw))
}

var (
	boolTrue  = map[string]bool{"y": true, "yes": true, "on": true, "1": true, "true": true, "t": true, "1.0": true}
	boolFalse = map[string]bool{"n": true, "no": true, "off": true, "0": true, "false": true, "f": true, "0.0": true}
)

func parseBool(raw any) (bool, error) {
	switch x := raw.(type) {
	case bool:
		return x, nil
	case string, json.Number, float64:
		s := strings.ToLower(strings.TrimSpace(scalarString(x)))
		if boolTrue[s] {
			return true, nil
		}
		if boolFalse[s] {
			return false, nil
		}
		return false, fmt.Errorf("%s is not a valid boolean; use one of yes/no, true/false, on/off, 1/0", quoteValue(x))
	}
	return false, fmt.Errorf("expected a boolean, got a %s", kindOf(raw))
}

// maxInt bounds every int option: no option of this collection needs more,
// and a bound here keeps any later conversion (seconds to a time.Duration,
// int64 to int on a 32-bit build) from wrapping around. Options check their
// own, narrower ranges on top.
const maxInt = 1<<31 - 1

var errOutOfRange = errors.New("out of range")

func toInt(raw any) (int64, error) {
	n, err := toInt64(raw)
	if err == nil && (n > maxInt || n < -maxInt) {
		return 0, fmt.Errorf("%d is %w (at most %d either way)", n, errOutOfRange, maxInt)
	}
	return n, err
}

func toInt64(raw any) (int64, error) {
	switch x := raw.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		// A valid JSON number that does not fit an int64 or a float64
		// is out of range, not malformed.
		f, err := x.Float64()
		switch {
		case err != nil || math.Abs(f) > maxInt:
			return 0, fmt.Errorf("%s is %w (at most %d either way)", x, errOutOfRange, maxInt)
		case f != math.Trunc(f):
			return 0, fmt.Errorf("%s is not a whole number", x)
		}
		return int64(f), nil
	case float64:
		if math.Abs(x) > maxInt {
			return 0, fmt.Errorf("%v is %w (at most %d either way)", x, errOutOfRange, maxInt)
		}
		if x == math.Trunc(x) {
			return int64(x), nil
		}
		return 0, fmt.Errorf("%v is not a whole number", x)
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s is %w (at most %d either way)", quoteValue(x), errOutOfRange, maxInt)
		}
		if err != nil {
			return 0, fmt.Errorf("%s is not a whole number", quoteValue(x))
		}
		return n, nil
	}
	return 0, fmt.Errorf("expected an integer, got a %s", kindOf(raw))
}

func toFloat(raw any) (float64, error) {
	switch x := raw.(type) {
	case json.Number:
		return x.Float64()
	case float64:
		return x, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("%s is not a number", quoteValue(x))
		}
		return f, nil
	}
	return 0, fmt.Errorf("expected a number, got a %s", kindOf(raw))
}

// parseDictString accepts what Ansible accepts for a dict given as a string:
// a JSON object, or space-separated key=value pairs.
func parseDictString(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("expected a dict; the string is not a valid JSON object")
		}
		return m, nil
	}
	m := map[string]any{}
	for _, field := range strings.Fields(s) {
		k, val, ok := strings.Cut(field, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("expected a dict, got a string that is neither a JSON object nor key=value pairs")
		}
		m[k] = val
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("expected a dict, got an empty string")
	}
	return m, nil
}

func expandPath(s string) string {
	if s == "~" || strings.HasPrefix(s, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			s = home + s[1:]
		}
	}
	return os.ExpandEnv(s)
}

// quoteValue shows a short user value in a message; a long one only by its
// length. Only values of options that are not no_log reach messages.
func quoteValue(v any) string {
	s := scalarString(v)
	if len(s) > 40 {
		// Not cut: a cut would leave part of a value where the result
		// scrub may no longer recognise a secret in it.
		return fmt.Sprintf("(a value of %d characters)", utf8.RuneCountInString(s))
	}
	return strconv.Quote(s)
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "dict"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func describe(path, name string) string { return "option " + join(path, name) }

func where(module, path string) string {
	if path == "" {
		return module
	}
	return path
}

func unsupported(module, path string, unknown []string, opts []Option) string {
	var supported []string
	for _, o := range opts {
		s := o.Name
		if len(o.Aliases) > 0 {
			s += " (" + strings.Join(o.Aliases, ", ") + ")"
		}
		supported = append(supported, s)
	}
	sort.Strings(supported)
	for i, k := range unknown {
		if k == InvalidText {
			unknown[i] = "(a name that is not valid UTF-8)"
		}
	}
	if path == "" {
		return fmt.Sprintf("Unsupported parameters for (%s) module: %s. Supported parameters include: %s.",
			module, strings.Join(unknown, ", "), strings.Join(supported, ", "))
	}
	return fmt.Sprintf("%s: unsupported parameters %s. Supported parameters include: %s.",
		path, strings.Join(unknown, ", "), strings.Join(supported, ", "))
}
