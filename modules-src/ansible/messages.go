package ansible

// The wording shared by validation messages: option paths, quoted values,
// kinds of JSON values, and the list of supported options.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

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
