package ansible

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The result scrub is the last line of defence for secrets: modules never put
// a secret in a result on purpose, but a server or a proxy may echo a request
// back in an error (an HTML page quoting the form, a JSON error quoting the
// body, a header echoed into a message, a log line with the Authorization
// header in base64), in whatever encoding it uses, whole or in part.
//
// The rules, documented in the README:
//   - Every string value of the result is scrubbed; keys never are (a
//     password "fail" must not turn the key "failed" into "********ed").
//   - A secret is looked for in the text as written and in every decoded
//     reading of it, up to two encodings deep: JSON and Go string escapes
//     (\", \u0026, \xHH), HTML entities (&amp;, &#34;, &#x27;), percent-
//     encoding (%2F or %2f, and + for a space), hex (upper or lower case,
//     starting at any digit) and base64 (standard and URL alphabets, starting
//     at any of the four positions of a group, so the secret is found inside
//     a longer encoded text: base64 of "Bearer <token>", of "user:password",
//     of a whole request). The span of the text that decodes to it is
//     replaced with Redacted.
//   - For a secret of at least longSecret characters, every run of longSecret
//     or more characters of the text that is also in the secret is masked,
//     compared case-insensitively: the secret whole, a prefix or a tail a
//     server cut it to, a piece from its middle, its upper-cased form. A
//     piece of a token is still most of a token. (So a long password that
//     holds an ordinary word of 8 or more letters masks that word wherever
//     it shows.)
//   - A shorter secret is masked only where it stands alone: the whole value,
//     or bounded on both sides by characters that are not letters or digits,
//     and only as written (case-sensitively) and in the escaped, entity and
//     percent readings. Masking it inside words would shred normal output (a
//     password "user" would eat every "user_id"), an echo quotes a secret
//     whole, and in hex or base64 readings, which decode any long run of
//     letters and digits into arbitrary bytes, a few bytes match by chance.
//
// The work is linear in the size of the output plus the total length of the
// secrets, whatever their number: every run of longSecret characters of the
// long secrets is hashed into one set, and each reading is scanned once with
// a rolling hash over a window of longSecret characters; the short secrets
// are one Aho-Corasick automaton, run once over each reading. A string has
// at most 1 + 10 + 100 readings (ten decoders, two deep), each at most as
// long as the string, and a reading exists only when the text holds what its
// decoder reads (a backslash, an ampersand, a percent sign or plus, a run of
// 16 hex digits or of 11 base64 characters).

// longSecret is the length, in characters, from which a secret is masked
// by any piece of that length.
const longSecret = 8

// maxDecodeDepth is how many encodings deep the scrub looks (an HTML page
// quoting a JSON body is two, so is base64 of a percent-encoded form).
const maxDecodeDepth = 2

// scrubber masks secrets in strings.
type scrubber struct {
	pieces *pieceSet  // the runs of longSecret characters of the long secrets
	short  *automaton // the secrets shorter than longSecret
	words  *automaton // the module's own words (publicWords); nil for none
}

// newScrubber builds a scrubber. It returns nil when there is nothing to
// scrub.
func newScrubber(secrets []string) *scrubber {
	s := &scrubber{}
	seen := map[string]bool{}
	var long, short []string
	for _, secret := range secrets {
		if secret == "" || seen[secret] {
			continue
		}
		seen[secret] = true
		if utf8.RuneCountInString(secret) >= longSecret {
			long = append(long, secret)
		} else {
			short = append(short, secret)
		}
	}
	if len(long) > 0 {
		s.pieces = newPieceSet(long)
	}
	if len(short) > 0 {
		s.short = newAutomaton(short)
	}
	if s.pieces == nil && s.short == nil {
		return nil
	}
	if words := PublicWords(); len(words) > 0 {
		s.words = newAutomaton(words)
	}
	return s
}

// unit is one character of a reading as the piece hash sees it: folded to
// one case, and a byte that is not UTF-8 kept apart from every character
// (no secret holds one, so no piece of a secret matches across it).
func unit(text []byte, i int) (u uint64, size int) {
	if c := text[i]; c < utf8.RuneSelf {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return uint64(c), 1
	}
	r, size := utf8.DecodeRune(text[i:])
	if r == utf8.RuneError && size <= 1 {
		return uint64(unicode.MaxRune) + 1 + uint64(text[i]), 1
	}
	return uint64(fold(r)), size
}

// fold maps the cases of a character to one.
func fold(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// pieceSet is the set of hashes of every run of longSecret characters of the
// long secrets (open addressing; 0 marks an empty slot). The hash is a
// polynomial over the folded characters with a base drawn at random for
// each run of the module, so a server cannot aim for a collision; one would
// only mask text that is not a secret.
type pieceSet struct {
	table []uint64
	shift uint
	// pow is base^(longSecret-1), to roll a character out of the hash.
	base, pow uint64
}

func newPieceSet(secrets []string) *pieceSet {
	pieces := 0
	for _, secret := range secrets {
		pieces += utf8.RuneCountInString(secret) - longSecret + 1
	}
	size, shift := 16, uint(60)
	for size < 2*pieces {
		size, shift = size*2, shift-1
	}
	p := &pieceSet{table: make([]uint64, size), shift: shift, base: rand.Uint64() | 1}
	p.pow = 1
	for range longSecret - 1 {
		p.pow *= p.base
	}
	for _, secret := range secrets {
		p.scan([]byte(secret), func(_, _ int, h uint64) { p.add(h) })
	}
	return p
}

func (p *pieceSet) slot(h uint64) uint64 { return h >> p.shift }

// key mixes a hash so that hashes that differ in a few low bits (pieces
// that differ in their last character) spread over the table, and keeps 0
// for empty slots.
func key(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	if h == 0 {
		return 1
	}
	return h
}

func (p *pieceSet) add(h uint64) {
	h = key(h)
	for i := p.slot(h); ; i = (i + 1) & uint64(len(p.table)-1) {
		switch p.table[i] {
		case h:
			return
		case 0:
			p.table[i] = h
			return
		}
	}
}

func (p *pieceSet) has(h uint64) bool {
	h = key(h)
	for i := p.slot(h); ; i = (i + 1) & uint64(len(p.table)-1) {
		switch p.table[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// scan calls f with the byte span and the hash of every run of longSecret
// characters of text, rolling the hash one character at a time.
func (p *pieceSet) scan(text []byte, f func(start, end int, h uint64)) {
	var units [longSecret]uint64
	var starts [longSecret]int
	var h uint64
	n := 0
	for i := 0; i < len(text); {
		u, size := unit(text, i)
		slot := n % longSecret
		if n >= longSecret {
			h -= units[slot] * p.pow
		}
		h = h*p.base + u
		units[slot], starts[slot] = u, i
		n++
		i += size
		if n >= longSecret {
			f(starts[n%longSecret], i, h)
		}
	}
}

// match marks every run of longSecret characters of text that is a piece
// of a long secret.
func (p *pieceSet) match(text []byte, mark func(start, end int)) {
	p.scan(text, func(start, end int, h uint64) {
		if p.has(h) {
			mark(start, end)
		}
	})
}

// automaton is an Aho-Corasick automaton over the short secrets. Node 0 is
// the root; 0 also means "no node", as the root is nobody's child.
type automaton struct {
	root    [256]int32
	label   []byte
	child   []int32 // first child
	sibling []int32 // next child of the same parent
	fail    []int32
	depth   []int32
	// alone marks nodes where a secret ends; aloneEnd is the node itself
	// when it is one, else the nearest such node on its fail chain.
	alone    []bool
	aloneEnd []int32
	// longest is the length of the longest string that ends at this node
	// or on its fail chain: of the occurrences ending at a position, the
	// one that starts first.
	longest []int32
}

func newAutomaton(secrets []string) *automaton {
	a := &automaton{}
	a.addNode(0, 0)
	for _, secret := range secrets {
		a.insert(secret)
	}
	a.link()
	return a
}

func (a *automaton) addNode(label byte, depth int32) int32 {
	a.label = append(a.label, label)
	a.child = append(a.child, 0)
	a.sibling = append(a.sibling, 0)
	a.fail = append(a.fail, 0)
	a.depth = append(a.depth, depth)
	a.alone = append(a.alone, false)
	a.aloneEnd = append(a.aloneEnd, 0)
	a.longest = append(a.longest, 0)
	return int32(len(a.label) - 1)
}

// get is the child of n labelled c, or 0. A node has at most 256 children,
// so this is a bounded scan.
func (a *automaton) get(n int32, c byte) int32 {
	if n == 0 {
		return a.root[c]
	}
	for ch := a.child[n]; ch != 0; ch = a.sibling[ch] {
		if a.label[ch] == c {
			return ch
		}
	}
	return 0
}

func (a *automaton) insert(secret string) {
	n := int32(0)
	for i := 0; i < len(secret); i++ {
		c := secret[i]
		next := a.get(n, c)
		if next == 0 {
			next = a.addNode(c, a.depth[n]+1)
			if n == 0 {
				a.root[c] = next
			} else {
				a.sibling[next] = a.child[n]
				a.child[n] = next
			}
		}
		n = next
	}
	a.alone[n] = true
}

// link computes the fail links and what each node inherits from its fail
// chain, breadth first so that a node's fail target is done before it.
func (a *automaton) link() {
	queue := make([]int32, 0, len(a.label))
	for c := 0; c < 256; c++ {
		if n := a.root[c]; n != 0 {
			queue = append(queue, n)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		f := a.fail[n]
		if a.alone[n] {
			a.aloneEnd[n] = n
			a.longest[n] = a.depth[n]
		} else {
			a.aloneEnd[n] = a.aloneEnd[f]
			a.longest[n] = a.longest[f]
		}
		for ch := a.child[n]; ch != 0; ch = a.sibling[ch] {
			a.fail[ch] = a.next(f, a.label[ch])
			queue = append(queue, ch)
		}
	}
}

// next is the automaton's transition: the longest suffix of (the text that
// led to n) + c that is a prefix of a secret.
func (a *automaton) next(n int32, c byte) int32 {
	for {
		if w := a.get(n, c); w != 0 {
			return w
		}
		if n == 0 {
			return 0
		}
		n = a.fail[n]
	}
}

// match marks every short secret of text that stands alone.
func (a *automaton) match(text []byte, mark func(start, end int)) {
	n := int32(0)
	for i := 0; i < len(text); i++ {
		n = a.next(n, text[i])
		if n == 0 {
			continue
		}
		end := i + 1
		// Secrets ending here: at most one per length below longSecret
		// (times the bytes of a character), so this loop is bounded by a
		// constant.
		for e := a.aloneEnd[n]; e != 0; e = a.aloneEnd[a.fail[e]] {
			if start := end - int(a.depth[e]); standsAlone(text, start, end) {
				mark(start, end)
			}
		}
	}
}

// reach returns, for each byte offset i of text, the end of the furthest
// reaching occurrence of one of the automaton's strings that starts at or
// before i (0 for none).
func (a *automaton) reach(text string) []int32 {
	reach := make([]int32, len(text)+1)
	n := int32(0)
	for i := 0; i < len(text); i++ {
		n = a.next(n, text[i])
		if l := a.longest[n]; l > 0 {
			start := i + 1 - int(l)
			reach[start] = max(reach[start], int32(i+1))
		}
	}
	for i := 1; i < len(reach); i++ {
		reach[i] = max(reach[i], reach[i-1])
	}
	return reach
}

// insideLonger reports whether [start, end) lies inside an occurrence that
// is longer than it: one that starts before it and reaches its end, or one
// that reaches past its end.
func insideLonger(reach []int32, start, end int) bool {
	return int(reach[start]) > end || start > 0 && int(reach[start-1]) >= end
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// standsAlone reports whether text[start:end] is bounded on both sides by
// the edge of the value or a character that is not a letter or digit.
func standsAlone(text []byte, start, end int) bool {
	if start > 0 {
		if r, _ := utf8.DecodeLastRune(text[:start]); isWordRune(r) {
			return false
		}
	}
	if end < len(text) {
		if r, _ := utf8.DecodeRune(text[end:]); isWordRune(r) {
			return false
		}
	}
	return true
}

// reading is a decoded reading of a string: text, and for each of its bytes
// the span of the original string it came from (nil maps: the original).
// binary is true for a reading that went through hex or base64, where short
// secrets are not looked for.
type reading struct {
	text       []byte
	start, end []int32
	binary     bool
}

func (r reading) span(a, b int) (int, int) {
	if r.start == nil {
		return a, b
	}
	return int(r.start[a]), int(r.end[b-1])
}

// decoder produces one decoded reading of another, or ok=false when the
// text holds nothing it decodes.
type decoder func(r reading) (out reading, ok bool)

// traits are what a text holds that a decoder reads, found in one pass so
// that a string with nothing to decode (most of a result) costs one scan.
type traits struct {
	backslash, amp, percent, plus bool
	hexRun, base64Run             int // the longest runs
}

// Classes of bytes for traitsOf.
const (
	classHex = 1 << iota
	classBase64
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		if digitValue(byte(c)) >= 0 {
			t[c] |= classHex
		}
		if base64Value(byte(c)) >= 0 {
			t[c] |= classBase64
		}
	}
	return t
}()

func traitsOf(text []byte) traits {
	var t traits
	hexRun, b64Run := 0, 0
	for _, c := range text {
		class := byteClass[c]
		if class&classHex != 0 {
			hexRun++
			t.hexRun = max(t.hexRun, hexRun)
		} else {
			hexRun = 0
		}
		if class&classBase64 != 0 {
			b64Run++
			t.base64Run = max(t.base64Run, b64Run)
			if c == '+' {
				t.plus = true
			}
			continue
		}
		b64Run = 0
		switch c {
		case '\\':
			t.backslash = true
		case '&':
			t.amp = true
		case '%':
			t.percent = true
		}
	}
	return t
}

// decoders are the encodings the scrub reads, each with the test of
// whether a text is worth decoding.
var decoders = []struct {
	worth  func(traits) bool
	decode decoder
}{
	{func(t traits) bool { return t.backslash }, decodeEscapes},
	{func(t traits) bool { return t.amp }, decodeEntities},
	{func(t traits) bool { return t.percent }, decodePercent(false)},
	{func(t traits) bool { return t.plus }, decodePercent(true)},
	{func(t traits) bool { return t.hexRun >= minHexRun }, decodeHex(0)},
	{func(t traits) bool { return t.hexRun >= minHexRun+1 }, decodeHex(1)},
	{func(t traits) bool { return t.base64Run >= minBase64Run }, decodeBase64(0)},
	{func(t traits) bool { return t.base64Run >= minBase64Run+1 }, decodeBase64(1)},
	{func(t traits) bool { return t.base64Run >= minBase64Run+2 }, decodeBase64(2)},
	{func(t traits) bool { return t.base64Run >= minBase64Run+3 }, decodeBase64(3)},
}

// scrubString masks the secrets in one string value.
func (s *scrubber) scrubString(str string) string {
	var diff []int32 // +1 at a mask start, -1 after its end
	mark := func(r reading) func(a, b int) {
		return func(a, b int) {
			if diff == nil {
				diff = make([]int32, len(str)+1)
			}
			start, end := r.span(a, b)
			diff[start]++
			diff[end]--
		}
	}
	var walk func(r reading, depth int)
	walk = func(r reading, depth int) {
		if s.pieces != nil {
			s.pieces.match(r.text, mark(r))
		}
		if s.short != nil && !r.binary {
			s.short.match(r.text, mark(r))
		}
		if depth == maxDecodeDepth {
			return
		}
		t := traitsOf(r.text)
		for _, d := range decoders {
			if !d.worth(t) {
				continue
			}
			if out, ok := d.decode(r); ok {
				walk(out, depth+1)
			}
		}
	}
	walk(reading{text: []byte(str)}, 0)
	if diff == nil {
		return str
	}
	// The masked runs, merged.
	type span struct{ start, end int }
	var runs []span
	level := int32(0)
	for i := 0; i < len(str); i++ {
		prev := level
		level += diff[i]
		switch {
		case level > 0 && prev <= 0:
			runs = append(runs, span{i, i + 1})
		case level > 0:
			runs[len(runs)-1].end = i + 1
		}
	}
	// A run inside a longer word of the module's own (admin_password in a
	// message, with a password that holds "password") is that word, not an
	// echo: masking it would shred the option names that messages give.
	// An echo of a secret shows it in its own context, which reaches past
	// the word, and a run as long as the word is masked.
	var reach []int32
	if s.words != nil {
		reach = s.words.reach(str)
	}
	var b strings.Builder
	b.Grow(len(str))
	at := 0
	for _, r := range runs {
		if reach != nil && insideLonger(reach, r.start, r.end) {
			continue
		}
		b.WriteString(str[at:r.start])
		b.WriteString(Redacted)
		at = r.end
	}
	b.WriteString(str[at:])
	return b.String()
}

// value scrubs every string value of a decoded JSON value; keys stay.
func (s *scrubber) value(v any) any {
	switch x := v.(type) {
	case string:
		return s.scrubString(x)
	case []any:
		for i := range x {
			x[i] = s.value(x[i])
		}
	case map[string]any:
		for k, val := range x {
			x[k] = s.value(val)
		}
	}
	return v
}

// builder collects a decoded reading.
type builder struct {
	src     reading
	out     reading
	changed bool
}

func newBuilder(src reading) *builder {
	n := len(src.text)
	return &builder{src: src, out: reading{text: make([]byte, 0, n), start: make([]int32, 0, n), end: make([]int32, 0, n), binary: src.binary}}
}

// emit appends decoded bytes that came from src.text[a:b].
func (b *builder) emit(a, c int, data ...byte) {
	start, end := b.src.span(a, c)
	for _, d := range data {
		b.out.text = append(b.out.text, d)
		b.out.start = append(b.out.start, int32(start))
		b.out.end = append(b.out.end, int32(end))
	}
}

func (b *builder) rune(a, c int, r rune) {
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	b.emit(a, c, buf[:n]...)
	b.changed = true
}

var simpleEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'a': '\a', 'v': '\v', '\'': '\''}

// decodeEscapes reads JSON and Go string escapes: \" \\ \/ \b \f \n \r \t
// \a \v \' \xHH \uXXXX (with surrogate pairs) \UXXXXXXXX.
func decodeEscapes(r reading) (reading, bool) {
	text := r.text
	if bytes.IndexByte(text, '\\') < 0 {
		return reading{}, false
	}
	b := newBuilder(r)
	for i := 0; i < len(text); {
		if text[i] != '\\' || i+1 >= len(text) {
			b.emit(i, i+1, text[i])
			i++
			continue
		}
		c := text[i+1]
		if d, ok := simpleEscapes[c]; ok {
			b.emit(i, i+2, d)
			b.changed = true
			i += 2
			continue
		}
		switch c {
		case 'x':
			if v, ok := hexValue(text, i+2, 2); ok {
				b.emit(i, i+4, byte(v))
				b.changed = true
				i += 4
				continue
			}
		case 'u':
			if v, ok := hexValue(text, i+2, 4); ok {
				if v >= 0xD800 && v <= 0xDBFF && i+11 < len(text) && text[i+6] == '\\' && text[i+7] == 'u' {
					if lo, ok := hexValue(text, i+8, 4); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						b.rune(i, i+12, 0x10000+(rune(v)-0xD800)<<10+(rune(lo)-0xDC00))
						i += 12
						continue
					}
				}
				b.rune(i, i+6, rune(v))
				i += 6
				continue
			}
		case 'U':
			if v, ok := hexValue(text, i+2, 8); ok {
				b.rune(i, i+10, rune(v))
				i += 10
				continue
			}
		}
		b.emit(i, i+1, text[i])
		i++
	}
	return b.out, b.changed
}

// entities are the named HTML entities an echo of a secret can hold: the
// ones escaping functions write, and a space.
var entities = map[string]rune{"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\'', "nbsp": ' ', "sol": '/', "colon": ':', "equals": '=', "plus": '+', "percnt": '%', "num": '#', "excl": '!', "quest": '?', "commat": '@'}

// decodeEntities reads HTML character references: &name; &#NN; &#xHH;.
func decodeEntities(r reading) (reading, bool) {
	text := r.text
	if bytes.IndexByte(text, '&') < 0 {
		return reading{}, false
	}
	b := newBuilder(r)
	for i := 0; i < len(text); {
		if text[i] == '&' {
			if semi := bytes.IndexByte(text[i+1:min(len(text), i+34)], ';'); semi > 0 {
				name := string(text[i+1 : i+1+semi])
				end := i + semi + 2
				if v, ok := entityValue(name); ok {
					b.rune(i, end, v)
					i = end
					continue
				}
			}
		}
		b.emit(i, i+1, text[i])
		i++
	}
	return b.out, b.changed
}

func entityValue(name string) (rune, bool) {
	if v, ok := entities[strings.ToLower(name)]; ok {
		return v, true
	}
	if !strings.HasPrefix(name, "#") {
		return 0, false
	}
	digits, base := name[1:], 10
	if strings.HasPrefix(digits, "x") || strings.HasPrefix(digits, "X") {
		digits, base = digits[1:], 16
	}
	if digits == "" || len(digits) > 8 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(digits); i++ {
		d := digitValue(digits[i])
		if d < 0 || d >= base {
			return 0, false
		}
		v = v*base + d
	}
	if v > unicode.MaxRune {
		return 0, false
	}
	return rune(v), true
}

// decodePercent reads percent-encoding (%2F or %2f); with plus, also + as a
// space, as form and query encoding write it.
func decodePercent(plus bool) decoder {
	return func(r reading) (reading, bool) {
		text := r.text
		if bytes.IndexByte(text, '%') < 0 && (!plus || bytes.IndexByte(text, '+') < 0) {
			return reading{}, false
		}
		if plus && bytes.IndexByte(text, '+') < 0 {
			return reading{}, false // the same reading as without plus
		}
		b := newBuilder(r)
		for i := 0; i < len(text); {
			switch {
			case text[i] == '%':
				if v, ok := hexValue(text, i+1, 2); ok {
					b.emit(i, i+3, byte(v))
					b.changed = true
					i += 3
					continue
				}
			case plus && text[i] == '+':
				b.emit(i, i+1, ' ')
				b.changed = true
				i++
				continue
			}
			b.emit(i, i+1, text[i])
			i++
		}
		return b.out, b.changed
	}
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hexValue(text []byte, i, n int) (int, bool) {
	if i+n > len(text) {
		return 0, false
	}
	v := 0
	for _, c := range text[i : i+n] {
		d := digitValue(c)
		if d < 0 || d >= 16 {
			return 0, false
		}
		v = v<<4 | d
	}
	return v, true
}

// separator ends a run in the readings of hex and base64, which hold only
// the runs: it is not UTF-8, so no piece of a secret matches across it.
const separator = 0xff

// minHexRun is the shortest run of hex digits that can hold a piece of a
// secret (longSecret one-byte characters).
const minHexRun = 2 * longSecret

// decodeHex reads runs of hex digits (either case) as bytes, pairing the
// digits from the run's first (skip 0) or second (skip 1): an encoded
// secret may start at either within a longer run.
func decodeHex(skip int) decoder {
	return func(r reading) (reading, bool) {
		text := r.text
		var b *builder
		for i := 0; i < len(text); {
			if digitValue(text[i]) < 0 {
				i++
				continue
			}
			end := i
			for end < len(text) && digitValue(text[end]) >= 0 {
				end++
			}
			if end-i-skip >= minHexRun {
				if b == nil {
					b = newBuilder(r)
					b.out.binary = true
				}
				for k := i + skip; k+1 < end; k += 2 {
					b.emit(k, k+2, byte(digitValue(text[k])<<4|digitValue(text[k+1])))
				}
				b.emit(end-1, end, separator)
			}
			i = end
		}
		if b == nil {
			return reading{}, false
		}
		return b.out, true
	}
}

// base64Value is the value of a base64 character in either alphabet
// (+ and / standard, - and _ URL-safe), or -1.
func base64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+' || c == '-':
		return 62
	case c == '/' || c == '_':
		return 63
	}
	return -1
}

// minBase64Run is the shortest run of base64 characters that can hold a
// piece of a secret: longSecret bytes take 11 characters.
const minBase64Run = (longSecret*8 + 5) / 6

// decodeBase64 reads runs of base64 characters (either alphabet; "=" ends a
// run) as bytes, in groups of four from the run's first character plus
// skip: an encoded secret inside a longer encoded text starts at any of the
// four positions of a group. Each byte comes from the two characters that
// carry its bits.
func decodeBase64(skip int) decoder {
	return func(r reading) (reading, bool) {
		text := r.text
		var b *builder
		for i := 0; i < len(text); {
			if base64Value(text[i]) < 0 {
				i++
				continue
			}
			end := i
			for end < len(text) && base64Value(text[end]) >= 0 {
				end++
			}
			if end-i-skip >= minBase64Run {
				if b == nil {
					b = newBuilder(r)
					b.out.binary = true
				}
				var acc, bits uint
				for k := i + skip; k < end; k++ {
					acc = acc<<6 | uint(base64Value(text[k]))
					bits += 6
					if bits >= 8 {
						// Every byte ends in this character and starts in
						// the one before (6 bits a character, 8 a byte).
						bits -= 8
						b.emit(k-1, k+1, byte(acc>>bits))
						acc &= 1<<bits - 1
					}
				}
				b.emit(end-1, end, separator)
			}
			i = end
		}
		if b == nil {
			return reading{}, false
		}
		return b.out, true
	}
}
