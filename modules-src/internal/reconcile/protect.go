package reconcile

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
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
		return p, problem.Errorf(problem.Invalid, "%s: empty pattern", problem.Option("protect"))
	}
	bad := func(why string) (ProtectPattern, error) {
		return p, problem.Errorf(problem.Invalid, "%s: %q is not a valid pattern: %s (* matches any characters, ? one, [a-z] one of a class, \\ escapes)", problem.Option("protect"), pattern, why)
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

// CheckProtectPatterns refuses, before any request, protect patterns that
// are malformed or can never match an account: a pattern meant to keep an
// account that keeps none lets exclusive mode deactivate it. server is the
// homeserver's name when known (the server_name option), else "".
func CheckProtectPatterns(patterns []string, server string) error {
	_, err := compileProtect(patterns, server)
	return err
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

// compileProtect compiles patterns, refusing any that can match no account
// (of server, when it is known).
func compileProtect(patterns []string, server string) ([]ProtectPattern, error) {
	out := make([]ProtectPattern, 0, len(patterns))
	for _, raw := range patterns {
		p, err := CompileProtect(raw)
		if err != nil {
			return nil, err
		}
		if !p.canMatch("") {
			return nil, problem.Errorf(problem.Invalid, "%s: %q can never match an account: %s", problem.Option("protect"), raw, p.whyNoMatch())
		}
		if server != "" && !p.canMatch(server) {
			return nil, problem.Errorf(problem.Invalid, "%s: %q can never match an account of this homeserver: its accounts are @localpart:%s", problem.Option("protect"), raw, server)
		}
		out = append(out, p)
	}
	return out, nil
}

// What a pattern is matched against: a localpart (bot-1) or a full user ID
// (@bot-1:example.com). canMatch runs the pattern against an automaton of
// those, so that a pattern no account can match (@notices without its
// server, notices:example.com without @, a space, a character no user ID
// has) is refused rather than kept as a protection that protects nothing.
// Localparts are those Synapse allows (a-z 0-9 . _ = - / +, after the
// lower-casing both sides get); a server name is a host name, an IP
// literal and a port, or exactly the homeserver's name when it is known.
const (
	idStart     = iota
	idLocal     // in a localpart alone (accepting)
	idAt        // after the @ of a full ID
	idFullLocal // in the localpart of a full ID
	idColon     // after its ':'
	idServer    // in its server name (accepting, any server)
	idServerPos // + k: k bytes of the known server name matched
)

func isLocalpartChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("._=-/+", c)
}

func isServerChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)
}

// idStep is the automaton's move on c; server is "" for any server name.
func idStep(state int, c rune, server []rune) (int, bool) {
	switch {
	case state == idStart && c == '@':
		return idAt, true
	case state == idStart || state == idLocal:
		return idLocal, isLocalpartChar(c)
	case state == idAt || state == idFullLocal && c != ':':
		return idFullLocal, isLocalpartChar(c)
	case state == idFullLocal:
		return idColon, true
	case server == nil && (state == idColon || state == idServer):
		return idServer, isServerChar(c)
	case server != nil && state >= idColon:
		k := max(state-idServerPos, 0)
		return idServerPos + k + 1, k < len(server) && server[k] == c
	}
	return 0, false
}

func idAccepts(state int, server []rune) bool {
	if server == nil {
		return state == idLocal || state == idServer
	}
	return state == idLocal || state == idServerPos+len(server)
}

// canMatch reports whether some localpart or full user ID (on server, or
// on any server for "") matches the pattern. It explores the pairs of a
// position in the pattern and a state of the automaton: at most
// len(pattern) × (len(server) + 7) of them.
func (p ProtectPattern) canMatch(server string) bool {
	var srv []rune
	alphabet := []rune("abcdefghijklmnopqrstuvwxyz0123456789._=-/+@:[]")
	if server != "" {
		srv = []rune(strings.ToLower(server))
		alphabet = append(alphabet, srv...)
	}
	type node struct{ token, state int }
	seen := map[node]bool{}
	queue := []node{{0, idStart}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		if n.token == len(p.tokens) {
			if idAccepts(n.state, srv) {
				return true
			}
			continue
		}
		tok := p.tokens[n.token]
		if tok.kind == globStar {
			queue = append(queue, node{n.token + 1, n.state})
		}
		for _, c := range alphabet {
			next, ok := idStep(n.state, c, srv)
			if !ok {
				continue
			}
			switch {
			case tok.kind == globStar:
				queue = append(queue, node{n.token, next})
			case tok.matches(c):
				queue = append(queue, node{n.token + 1, next})
			}
		}
	}
	return false
}

// whyNoMatch names the usual mistake behind a pattern that can match
// nothing, for the message that refuses it.
func (p ProtectPattern) whyNoMatch() string {
	for _, t := range p.tokens {
		if t.kind != globLiteral {
			continue
		}
		switch c := t.literal; {
		case unicode.IsSpace(c):
			return "it has a space, and no user ID has one"
		case !isLocalpartChar(c) && !isServerChar(c) && c != '@':
			return fmt.Sprintf("%q is in no user ID (a localpart has only a-z, 0-9 and . _ = - / +)", c)
		}
	}
	first := p.tokens[0]
	colon, star := false, false
	for _, t := range p.tokens {
		colon = colon || t.kind == globLiteral && t.literal == ':'
		star = star || t.kind == globStar
	}
	switch {
	case first.kind == globLiteral && first.literal == '@' && !colon && !star:
		return "a full user ID names its server: @localpart:server.name (or @localpart:*)"
	case colon && first.kind == globLiteral && first.literal != '@':
		return "a pattern with a server part is a full user ID, which starts with @: @localpart:server.name"
	}
	return "it matches neither a localpart (bot-*) nor a full user ID (@bot-*:example.com)"
}
