package reconcile

import (
	"fmt"
	"strings"
)

// Protect patterns are our own glob, not path.Match: there '*' stops at '/',
// so 'bot-*' would not cover @bot-relay/irc, and a protect pattern that
// misses an account lets exclusive mode deactivate it. Here '*' matches any
// run of characters (every character a localpart or server name may hold:
// / . = + - _ : included), '?' one character, '[a-z]' and '[!a-z]' (or
// '[^a-z]') a character class, and '\' makes the next character literal.
// Matching a little too much only keeps an account; matching too little
// removes one, so the pattern errs on the wide side.

type globKind int

const (
	globLiteral globKind = iota
	globAny              // ?
	globStar             // *
	globClass            // [...]
)

type globRange struct{ lo, hi rune }

type globToken struct {
	kind    globKind
	literal rune
	negate  bool
	ranges  []globRange
}

// ProtectPattern is one compiled protect pattern.
type ProtectPattern struct {
	raw    string
	tokens []globToken
}

// CompileProtect compiles a protect pattern, lower-cased as user IDs are.
func CompileProtect(pattern string) (ProtectPattern, error) {
	p := ProtectPattern{raw: pattern}
	rs := []rune(strings.ToLower(pattern))
	if len(rs) == 0 {
		return p, fmt.Errorf("option protect: empty pattern")
	}
	bad := func(why string) (ProtectPattern, error) {
		return p, fmt.Errorf("option protect: %q is not a valid pattern: %s (* matches any characters, ? one, [a-z] one of a class, \\ escapes)", pattern, why)
	}
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '*':
			// Consecutive stars are one star.
			if n := len(p.tokens); n == 0 || p.tokens[n-1].kind != globStar {
				p.tokens = append(p.tokens, globToken{kind: globStar})
			}
		case '?':
			p.tokens = append(p.tokens, globToken{kind: globAny})
		case '\\':
			if i+1 == len(rs) {
				return bad("it ends with \\")
			}
			i++
			p.tokens = append(p.tokens, globToken{kind: globLiteral, literal: rs[i]})
		case '[':
			tok := globToken{kind: globClass}
			j := i + 1
			if j < len(rs) && (rs[j] == '!' || rs[j] == '^') {
				tok.negate = true
				j++
			}
			closed := false
			for first := true; j < len(rs); first = false {
				c := rs[j]
				if c == ']' && !first {
					closed = true
					break
				}
				if c == '\\' {
					if j+1 == len(rs) {
						return bad("it ends with \\")
					}
					j++
					c = rs[j]
				}
				rg := globRange{c, c}
				if j+2 < len(rs) && rs[j+1] == '-' && rs[j+2] != ']' {
					hi := rs[j+2]
					if hi == '\\' {
						if j+3 >= len(rs) {
							return bad("it ends with \\")
						}
						hi = rs[j+3]
						j++
					}
					if hi < c {
						return bad(fmt.Sprintf("the range %c-%c is reversed", c, hi))
					}
					rg.hi = hi
					j += 2
				}
				tok.ranges = append(tok.ranges, rg)
				j++
			}
			if !closed {
				return bad("a [ is not closed by ]")
			}
			p.tokens = append(p.tokens, tok)
			i = j
		default:
			p.tokens = append(p.tokens, globToken{kind: globLiteral, literal: r})
		}
	}
	return p, nil
}

func (t globToken) matches(r rune) bool {
	switch t.kind {
	case globAny:
		return true
	case globLiteral:
		return t.literal == r
	case globClass:
		in := false
		for _, rg := range t.ranges {
			if r >= rg.lo && r <= rg.hi {
				in = true
				break
			}
		}
		return in != t.negate
	}
	return false
}

// Match reports whether the pattern matches all of s (lower-cased first).
// It backtracks only to the last star, so it runs in O(len(pattern) ×
// len(s)) at worst, whatever the pattern.
func (p ProtectPattern) Match(s string) bool {
	rs := []rune(strings.ToLower(s))
	ti, si := 0, 0
	star, starSi := -1, 0
	for si < len(rs) {
		switch {
		case ti < len(p.tokens) && p.tokens[ti].kind == globStar:
			star, starSi = ti, si
			ti++
		case ti < len(p.tokens) && p.tokens[ti].matches(rs[si]):
			ti++
			si++
		case star >= 0:
			starSi++
			ti, si = star+1, starSi
		default:
			return false
		}
	}
	for ti < len(p.tokens) && p.tokens[ti].kind == globStar {
		ti++
	}
	return ti == len(p.tokens)
}

// String is the pattern as written.
func (p ProtectPattern) String() string { return p.raw }

// CheckProtectPatterns refuses malformed protect patterns before any request.
func CheckProtectPatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := CompileProtect(p); err != nil {
			return err
		}
	}
	return nil
}

// protected reports whether a protect pattern matches the user, by full ID
// (@bot-*:example.com) or by localpart (bot-*), case-insensitively.
func protected(userID string, patterns []ProtectPattern) bool {
	localpart := localpartOf(userID)
	for _, p := range patterns {
		if p.Match(userID) || p.Match(localpart) {
			return true
		}
	}
	return false
}

// compileProtect compiles patterns already checked by CheckProtectPatterns.
func compileProtect(patterns []string) ([]ProtectPattern, error) {
	out := make([]ProtectPattern, 0, len(patterns))
	for _, raw := range patterns {
		p, err := CompileProtect(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
