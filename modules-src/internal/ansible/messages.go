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

// where is the place of a message: the list element, or the module.
func where(module, place string) string {
	if place == "" {
		return module
	}
	return place
}

// maxUnknownShown bounds the unknown names one message lists.
const maxUnknownShown = 20

// unsupported refuses unknown options at place (the list element, "" at
// the top).
func unsupported(module, place string, unknown []string, opts []Option) string {
	var supported, names []string
	for _, o := range opts {
		s := o.Name
		if len(o.Aliases) > 0 {
			s += " (" + strings.Join(o.Aliases, ", ") + ")"
		}
		supported = append(supported, s)
		names = append(names, o.Name)
		names = append(names, o.Aliases...)
	}
	sort.Strings(supported)
	// Bounded: an args file can hold a million unknown keys, and each
	// guess costs a distance per valid name.
	shown := make([]string, min(len(unknown), maxUnknownShown))
	for i, k := range unknown[:len(shown)] {
		switch guess := closestName(k, names); {
		case k == InvalidText:
			shown[i] = "(a name that is not valid UTF-8)"
		case guess != "":
			shown[i] = k + " (did you mean " + guess + "?)"
		default:
			shown[i] = k
		}
	}
	if rest := len(unknown) - len(shown); rest > 0 {
		shown = append(shown, fmt.Sprintf("and %d more", rest))
	}
	if place == "" {
		return fmt.Sprintf("Unsupported parameters for (%s) module: %s. Supported parameters include: %s.",
			module, strings.Join(shown, ", "), strings.Join(supported, ", "))
	}
	word := "parameters"
	if len(unknown) == 1 {
		word = "parameter"
	}
	return fmt.Sprintf("%s: unsupported %s %s. Supported parameters include: %s.",
		place, word, strings.Join(shown, ", "), strings.Join(supported, ", "))
}

// closestName is the valid name an unknown one was most likely meant to be:
// the nearest by edit distance (display_name for displayname, Password for
// password), or else a valid name the unknown one contains
// (initial_password for password). "" when nothing is close enough to be a
// useful guess.
func closestName(unknown string, names []string) string {
	key := strings.ToLower(unknown)
	if key == "" || utf8.RuneCountInString(key) > 64 {
		return ""
	}
	// At most a third of the name's length (at least 1, at most 3) may
	// differ: "colour" is no typo of "locked".
	limit := min(max(utf8.RuneCountInString(key)/3, 1), 3)
	best, bestDist := "", limit+1
	for _, n := range names {
		if d := editDistance(key, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return best
	}
	for _, n := range names {
		if len(n) >= 4 && strings.Contains(key, n) && len(n) > len(best) {
			best = n
		}
	}
	return best
}

// editDistance is the number of single-character insertions, deletions,
// substitutions and swaps of neighbours that turn a into b (the optimal
// string alignment distance): a swap (usre, nmae) is one typo, not two.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: the one before the previous is needed for swaps.
	older, prev, cur := make([]int, len(rb)+1), make([]int, len(rb)+1), make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], older[j-2]+1)
			}
		}
		older, prev, cur = prev, cur, older
	}
	return prev[len(rb)]
}
