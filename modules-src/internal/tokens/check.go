package tokens

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Synapse's rules for a token value: 1 to 64 characters of
// [A-Za-z0-9._~-] (its error text says [A-Za-z0-9-_], but it takes . and ~
// too).
const (
	MaxValue = 64
	// MinRandom and DefaultRandom bound a generated token's random part:
	// 8 characters of 62 are about 48 bits, 24 about 143.
	MinRandom     = 8
	DefaultRandom = 24
)

var (
	valueChars = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	nameChars  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// Option names of an entry.
const (
	UsesOption   = "uses_allowed"
	ExpiryOption = "expiry_time"
	LengthOption = "length"
)

// Check refuses, before any request, what no backend would take or what
// cannot be told apart: bad values and names, a generated token that would
// not fit, a negative or zero uses_allowed, the same token or name twice.
// (An expiry in the past is refused when the plan would send it: a token
// that already has it is left alone.)
func Check(decls []*Desired) error {
	values := map[string]*Desired{}
	names := map[string]*Desired{}
	for _, d := range decls {
		ref := RefOf(d)
		switch {
		case d.Value != "" && d.Name != "":
			return problem.Errorf(problem.Invalid, "%s: give %s or %s, not both: a declared value is the token; a name makes the module generate one", ref, problem.Name(ValueOption), problem.Name(NameOption))
		case d.Value == "" && d.Name == "":
			return problem.Errorf(problem.Invalid, "%s: give %s (the value) or %s (to generate one)", ref, problem.Name(ValueOption), problem.Name(NameOption))
		}
		if d.Value != "" {
			if n := len(d.Value); n > MaxValue || !valueChars.MatchString(d.Value) {
				// The value is a secret: the message says what is wrong,
				// not what it is.
				return problem.Errorf(problem.Invalid, "%s: %s must be 1 to %d characters of A-Z, a-z, 0-9 and . _ ~ - (Synapse's rule); the value given has %d characters%s", ref, problem.Option(ValueOption), MaxValue, len([]rune(d.Value)), badCharsNote(d.Value))
			}
			if other := values[d.Value]; other != nil {
				return problem.Errorf(problem.Invalid, "%s: the same token as %s (a token is declared once)", ref, RefOf(other))
			}
			values[d.Value] = d
		} else {
			if !nameChars.MatchString(d.Name) {
				return problem.Errorf(problem.Invalid, "%s: %s must be characters of A-Z, a-z, 0-9 and . _ - (no ~, which separates the name from the generated part)", ref, problem.Option(NameOption))
			}
			if d.Length < MinRandom {
				return problem.Errorf(problem.Invalid, "%s: %s must be at least %d, got %d", ref, problem.Option(LengthOption), MinRandom, d.Length)
			}
			if total := len(d.Name) + len(Sep) + d.Length; total > MaxValue {
				return problem.Errorf(problem.Invalid, "%s: %s (%d characters), %s and %s random characters make %d characters; Synapse takes at most %d: shorten the name or lower %s", ref, problem.Option(NameOption), len(d.Name), Sep, strconv.Itoa(d.Length), total, MaxValue, problem.Name(LengthOption))
			}
			if other := names[d.Name]; other != nil {
				return problem.Errorf(problem.Invalid, "%s: the same %s as %s (a name identifies one generated token)", ref, problem.Name(NameOption), RefOf(other))
			}
			names[d.Name] = d
		}
		if d.UsesAllowed != nil {
			switch {
			case *d.UsesAllowed < 0:
				return problem.Errorf(problem.Invalid, "%s: %s must be 0 or more (null for unlimited), got %d", ref, problem.Option(UsesOption), *d.UsesAllowed)
			case *d.UsesAllowed == 0 && !d.Absent:
				return problem.Errorf(problem.Invalid, "%s: %s: 0 does not stop sign-ups: Synapse reads 0 as unlimited when someone signs up with the token (seen on 1.90 to 1.163); to stop a token, set %s: absent", ref, problem.Option(UsesOption), problem.Name("state"))
			}
		}
	}
	// A declared value that looks like a declared name's generated token
	// would be found as that name's token too.
	for v, d := range values {
		if name, _, ok := strings.Cut(v, Sep); ok && names[name] != nil {
			return problem.Errorf(problem.Invalid, "%s: its value begins with %s%s, which is how the token named %s is found: the same token twice; rename one", RefOf(d), name, Sep, name)
		}
	}
	return nil
}

// badCharsNote says which kinds of characters a value has that Synapse
// refuses, without quoting them (the value is a secret).
func badCharsNote(v string) string {
	var space, other bool
	for _, r := range v {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			space = true
		case r > 127 || !valueChars.MatchString(string(r)):
			other = true
		}
	}
	switch {
	case space && other:
		return ", with spaces and other characters outside the set"
	case space:
		return ", with spaces"
	case other:
		return ", with characters outside the set"
	}
	return ""
}

// ParseExpiry reads an expiry_time as an Ansible user writes it: null
// (never), epoch milliseconds (a number, or digits in a string, as Synapse
// stores it), or an ISO 8601 date-time with an offset
// (2026-12-31T23:59:59Z, 2026-12-31T23:59:59+01:00; a space may stand for
// the T). A date-time without an offset is refused: whose midnight it means
// is not known. The result is milliseconds since the epoch.
func ParseExpiry(raw any) (*int64, string) {
	switch x := raw.(type) {
	case nil:
		return nil, ""
	case bool:
		return nil, "expected epoch milliseconds or an ISO 8601 date-time with an offset, got a boolean"
	case json.Number:
		return parseMillis(x.String())
	case float64:
		if x != math.Trunc(x) {
			return nil, "epoch milliseconds must be a whole number"
		}
		return parseMillis(strconv.FormatFloat(x, 'f', -1, 64))
	case int:
		return parseMillis(strconv.Itoa(x))
	case int64:
		return parseMillis(strconv.FormatInt(x, 10))
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return nil, "an empty string; leave it out or give null for a token that never expires"
		}
		if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T ") {
			return parseMillis(s)
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00"} {
			if t, err := time.Parse(layout, s); err == nil {
				ms := t.UnixMilli()
				if t.Sub(time.UnixMilli(ms)) != 0 {
					return nil, "a date-time finer than a millisecond (Synapse keeps milliseconds)"
				}
				return &ms, ""
			}
		}
		if _, err := time.Parse("2006-01-02T15:04:05", strings.Replace(s, " ", "T", 1)); err == nil {
			return nil, "a date-time without an offset; add one (Z for UTC, or +01:00)"
		}
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return nil, "cannot read " + strconv.Quote(s) + " as epoch milliseconds or an ISO 8601 date-time with an offset (2026-12-31T23:59:59Z)"
	}
	return nil, "expected epoch milliseconds or an ISO 8601 date-time with an offset"
}

func parseMillis(s string) (*int64, string) {
	if strings.ContainsAny(s, ".eE") {
		return nil, "epoch milliseconds must be a whole number"
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		return nil, "cannot read " + strconv.Quote(s) + " as epoch milliseconds"
	case ms < 0:
		return nil, "epoch milliseconds must not be negative"
	case ms > 253402300799999:
		// After 9999-12-31: seconds or microseconds by mistake.
		return nil, "beyond the year 9999: epoch milliseconds, not microseconds"
	case ms < 100000000000:
		// Before 1973: most likely seconds where milliseconds are meant.
		return nil, strconv.FormatInt(ms, 10) + " is before 1973 in milliseconds: epoch seconds? multiply by 1000"
	}
	return &ms, ""
}
