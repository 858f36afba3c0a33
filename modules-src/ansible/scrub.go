package ansible

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The result scrub is the last line of defence for secrets: modules never put
// a secret in a result on purpose, but a server or a proxy may echo a request
// back in an error (an HTML page quoting the form, a JSON error quoting the
// body, a header echoed into a message), in whatever encoding it uses.
//
// The rules, documented in the README:
//   - Every string value of the result is scrubbed; keys never are (a
//     password "fail" must not turn the key "failed" into "********ed").
//   - A secret is found in the text as written and in every decoded reading
//     of it, up to two encodings deep: JSON and Go string escapes (\", \u0026,
//     \xHH), HTML entities (&amp;, &#34;, &#x27;), percent-encoding (%2F or
//     %2f, and + for a space). The span of the text that decodes to the secret
//     is replaced with Redacted.
//   - A secret of at least longSecret characters is masked wherever it
//     appears, and so is a prefix of it of at least longSecret characters
//     that a cut left at the end of a value or before an ellipsis ("…" or
//     "..."): a fragment of a token is still most of a token.
//   - A shorter secret is masked only where it stands alone: the whole value,
//     or bounded on both sides by characters that are not letters or digits.
//     Masking it inside words would shred normal output (a password "user"
//     would eat every "user_id"), and an echo quotes a secret whole.
//
// The work is linear in the size of the output plus the total length of the
// secrets, whatever their number: one Aho-Corasick automaton over all
// secrets, run once over the text and once over each decoded reading (a
// reading exists only when the text holds the characters it decodes).

// longSecret is the length, in characters, from which a secret is masked
// wherever it appears.
const longSecret = 8

// maxDecodeDepth is how many encodings deep the scrub looks (an HTML page
// quoting a JSON body is two).
const maxDecodeDepth = 2

// scrubber is an Aho-Corasick automaton over the secrets. Node 0 is the root;
// 0 also means "no node", as the root is nobody's child.
type scrubber struct {
	root    [256]int32
	label   []byte
	child   []int32 // first child
	sibling []int32 // next child of the same parent
	fail    []int32
	depth   []int32
	// anywhere is the length of the longest long secret that ends at this
	// node or on its fail chain.
	anywhere []int32
	// alone marks nodes where a short secret ends; aloneEnd is the node
	// itself when it is one, else the nearest such node on its fail chain.
	alone    []bool
	aloneEnd []int32
	// onLong marks nodes on the path of a long secret; fragment is the
	// depth of this node or the nearest on its fail chain that is on such a
	// path at depth >= longSecret: the longest prefix of a long secret that
	// ends here.
	onLong   []bool
	fragment []int32
}

// newScrubber builds the automaton. It returns nil when there is nothing to
// scrub.
func newScrubber(secrets []string) *scrubber {
	s := &scrubber{}
	s.addNode(0, 0)
	seen := map[string]bool{}
	for _, secret := range secrets {
		if secret == "" || seen[secret] {
			continue
		}
		seen[secret] = true
		s.insert(secret, utf8.RuneCountInString(secret) >= longSecret)
	}
	if len(seen) == 0 {
		return nil
	}
	s.link()
	return s
}

func (s *scrubber) addNode(label byte, depth int32) int32 {
	s.label = append(s.label, label)
	s.child = append(s.child, 0)
	s.sibling = append(s.sibling, 0)
	s.fail = append(s.fail, 0)
	s.depth = append(s.depth, depth)
	s.anywhere = append(s.anywhere, 0)
	s.alone = append(s.alone, false)
	s.aloneEnd = append(s.aloneEnd, 0)
	s.onLong = append(s.onLong, false)
	s.fragment = append(s.fragment, 0)
	return int32(len(s.label) - 1)
}

// get is the child of n labelled c, or 0. A node has at most 256 children,
// so this is a bounded scan.
func (s *scrubber) get(n int32, c byte) int32 {
	if n == 0 {
		return s.root[c]
	}
	for ch := s.child[n]; ch != 0; ch = s.sibling[ch] {
		if s.label[ch] == c {
			return ch
		}
	}
	return 0
}

func (s *scrubber) insert(secret string, long bool) {
	n := int32(0)
	for i := 0; i < len(secret); i++ {
		c := secret[i]
		next := s.get(n, c)
		if next == 0 {
			next = s.addNode(c, s.depth[n]+1)
			if n == 0 {
				s.root[c] = next
			} else {
				s.sibling[next] = s.child[n]
				s.child[n] = next
			}
		}
		n = next
		if long {
			s.onLong[n] = true
		}
	}
	if long {
		s.anywhere[n] = s.depth[n]
	} else {
		s.alone[n] = true
	}
}

// link computes the fail links and what each node inherits from its fail
// chain, breadth first so that a node's fail target is done before it.
func (s *scrubber) link() {
	queue := make([]int32, 0, len(s.label))
	for c := 0; c < 256; c++ {
		if n := s.root[c]; n != 0 {
			queue = append(queue, n)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		f := s.fail[n]
		s.anywhere[n] = max(s.anywhere[n], s.anywhere[f])
		if s.alone[n] {
			s.aloneEnd[n] = n
		} else {
			s.aloneEnd[n] = s.aloneEnd[f]
		}
		if s.onLong[n] && s.depth[n] >= longSecret {
			s.fragment[n] = s.depth[n]
		} else {
			s.fragment[n] = s.fragment[f]
		}
		for ch := s.child[n]; ch != 0; ch = s.sibling[ch] {
			s.fail[ch] = s.next(f, s.label[ch])
			queue = append(queue, ch)
		}
	}
}

// next is the automaton's transition: the longest suffix of (the text that
// led to n) + c that is a prefix of a secret.
func (s *scrubber) next(n int32, c byte) int32 {
	for {
		if w := s.get(n, c); w != 0 {
			return w
		}
		if n == 0 {
			return 0
		}
		n = s.fail[n]
	}
}

// match reports every span of text to mask, as [start, end) byte offsets.
func (s *scrubber) match(text []byte, mark func(start, end int)) {
	n := int32(0)
	for i := 0; i < len(text); i++ {
		n = s.next(n, text[i])
		if n == 0 {
			continue
		}
		end := i + 1
		if l := s.anywhere[n]; l > 0 {
			mark(end-int(l), end)
		}
		// Short secrets ending here: at most one per length below
		// longSecret (times the bytes of a character), so this loop is
		// bounded by a constant.
		for a := s.aloneEnd[n]; a != 0; a = s.aloneEnd[s.fail[a]] {
			if start := end - int(s.depth[a]); standsAlone(text, start, end) {
				mark(start, end)
			}
		}
		if f := s.fragment[n]; f > 0 && cutAfter(text, end) {
			mark(end-int(f), end)
		}
	}
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

// cutAfter reports whether a value was cut at end: it ends there, or an
// ellipsis follows.
func cutAfter(text []byte, end int) bool {
	rest := text[end:]
	return len(rest) == 0 || bytes.HasPrefix(rest, []byte("…")) || bytes.HasPrefix(rest, []byte("..."))
}

// reading is a decoded reading of a string: text, and for each of its bytes
// the span of the original string it came from (nil maps: the original).
type reading struct {
	text       []byte
	start, end []int32
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

var decoders = []decoder{decodeEscapes, decodeEntities, decodePercent(false), decodePercent(true)}

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
		s.match(r.text, mark(r))
		if depth == maxDecodeDepth {
			return
		}
		for _, dec := range decoders {
			if out, ok := dec(r); ok {
				walk(out, depth+1)
			}
		}
	}
	walk(reading{text: []byte(str)}, 0)
	if diff == nil {
		return str
	}
	var b strings.Builder
	b.Grow(len(str))
	level, masking := int32(0), false
	for i := 0; i < len(str); i++ {
		level += diff[i]
		switch {
		case level > 0 && !masking:
			b.WriteString(Redacted)
			masking = true
		case level > 0:
		default:
			masking = false
			b.WriteByte(str[i])
		}
	}
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
	return &builder{src: src, out: reading{text: make([]byte, 0, n), start: make([]int32, 0, n), end: make([]int32, 0, n)}}
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
