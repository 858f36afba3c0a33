package ansible

// Coercion of one argument value to its option type, following Ansible's
// check_type_* rules.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

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
	case "", TypeRaw:
		return raw, nil
	}
	return nil, fmt.Errorf("unknown option type %q", t)
}

// toStr takes a string as it is and a number as its text, as Ansible does.
// A boolean, a list or a dict is refused: Ansible would make them "True",
// "['a', 'b']" or "{'a': 1}", which is never what was meant (an unquoted YAML
// yes/no/on/off is a boolean, a password written as a list is a mistake).
func toStr(raw any) (string, error) {
	switch x := raw.(type) {
	case string:
		return x, nil
	case json.Number, float64, int, int64:
		return scalarString(x), nil
	}
	return "", &notTextError{value: raw}
}

// notTextError is a boolean, list or dict given for a string option. Its
// message shows a boolean's value unless the option is no_log.
type notTextError struct {
	value any
	noLog bool
}

func (e *notTextError) Error() string {
	if b, ok := e.value.(bool); ok {
		got := "a boolean"
		if !e.noLog {
			got = fmt.Sprintf("the boolean %t", b)
		}
		return fmt.Sprintf("expected a string, got %s (YAML reads unquoted yes/no, true/false and on/off as booleans); quote the value", got)
	}
	return fmt.Sprintf("expected a string, got a %s; quote the whole value if it is meant as text", kindOf(e.value))
}

// numberConversion is the warning for a number given for a string option,
// worded as Ansible's own warning was (ansible-core 2.8 to 2.10; since 2.11
// AnsibleModule converts without a word, and 2.19 dropped the setting): YAML
// reads an unquoted 0123 as 83 and 1.10 as 1.1, so the text may not be what
// was written. A no_log option's value is not shown.
func numberConversion(name string, raw any, noLog bool) string {
	kind := "int"
	if s := scalarString(raw); strings.ContainsAny(s, ".eE") {
		kind = "float"
	}
	if noLog {
		return fmt.Sprintf("%s: a number (type %s) was converted to a string; if this does not look like what you expect, quote the entire value to ensure it does not change (YAML reads an unquoted 0123 as 83 and 1.10 as 1.1)", name, kind)
	}
	return fmt.Sprintf("%s: the value %s (type %s) was converted to %q (type string); if this does not look like what you expect, quote the entire value to ensure it does not change (YAML reads an unquoted 0123 as 83 and 1.10 as 1.1)", name, scalarString(raw), kind, scalarString(raw))
}

func isNumber(raw any) bool {
	switch raw.(type) {
	case json.Number, float64, int, int64:
		return true
	}
	return false
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
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
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
