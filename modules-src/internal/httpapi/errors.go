package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Bounds on the text of a server's answer that a message quotes. Longer
// text is not cut (a cut could leave part of an echoed secret where the
// result scrub no longer recognises it): it is left out, with its size.
const (
	MaxErrcode   = 64
	MaxErrorText = 300
	MaxHeader    = 200
	// maxTransportText bounds the text of a connection error, which can
	// quote what the server sent (a malformed header line, the names in
	// its certificate).
	maxTransportText = 1000
)

// Untrusted is the one way text from a server reaches a message: whole
// when it is short, else only its size, and with every character that
// could act on the terminal or hide what the text says escaped: C0 and C1
// control characters and DEL (an answer holding "\x1b[2K\rok:" would
// otherwise erase the line and fake an "ok:" one), the invisible format
// characters (the bidirectional overrides and isolates U+202A to U+202E
// and U+2066 to U+2069, the marks U+200E, U+200F and U+061C, zero-width
// characters), the line and paragraph separators, and bytes that are not
// UTF-8. They are written as Go escapes (\x1b, \u202e), which the result
// scrub also reads, so an echoed secret is still recognised.
func Untrusted(s string, limit int) string {
	if len(s) > limit {
		return fmt.Sprintf("(%d bytes, not shown)", len(s))
	}
	return escapeControls(s)
}

// UnsafeRune reports whether r would act on a terminal, or hide or reorder
// text, when printed.
func UnsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// escapeControls writes the characters UnsafeRune picks, and invalid UTF-8,
// as escapes, and leaves the rest alone.
func escapeControls(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || UnsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case !UnsafeRune(r):
			b.WriteString(s[i : i+size])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80:
			fmt.Fprintf(&b, "\\x%02x", r)
		case r <= 0xffff:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			fmt.Fprintf(&b, "\\U%08x", r)
		}
		i += size
	}
	return b.String()
}

// UnreachableError means no HTTP answer came back: connection refused, DNS,
// TLS, timeout, or a connection cut before the answer was complete.
type UnreachableError struct {
	// Server names the server ("" is Synapse).
	Server string
	Method string
	URL    string
	Err    error
}

func (e *UnreachableError) Error() string { return e.Render(problem.Module) }

// Render is the message in the user's words (the hint names the timeout
// option, or ca_path and validate_certs).
func (e *UnreachableError) Render(n problem.Naming) string {
	return fmt.Sprintf("%s is unreachable (%s %s): %s", Dialect{Server: e.Server}.server(), e.Method, e.URL, Untrusted(problem.Render(e.Err, n), maxTransportText))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ResponseError means an answer came back that is not what the server
// sends: typically an HTML error page from a reverse proxy, or a truncated
// body. The body is summarised, never quoted: a proxy's error page may echo
// the request, credentials included.
type ResponseError struct {
	// Server names the server ("" is Synapse) and URLOption the option
	// that sets its URL ("" is homeserver_url).
	Server      string
	URLOption   string
	Method      string
	Path        string
	Status      int
	ContentType string
	Size        int // of the body, in bytes; -1 when it was not read
	Reason      string
	// Redirect: the answer was a redirect, which is never followed.
	Redirect bool
}

func (e *ResponseError) Error() string { return e.Render(problem.Module) }

// Render is the message in the user's words (a redirect's hint names the
// option of the server's URL).
func (e *ResponseError) Render(n problem.Naming) string {
	msg := fmt.Sprintf("unexpected answer to %s %s: HTTP %d", e.Method, e.Path, e.Status)
	if text := http.StatusText(e.Status); text != "" {
		msg += " " + text
	}
	size := fmt.Sprintf(", %d bytes", e.Size)
	if e.Size < 0 {
		size = ""
	}
	switch {
	case len(e.ContentType) > MaxHeader:
		msg += fmt.Sprintf(" (a content type of %d bytes, not shown%s)", len(e.ContentType), strings.Replace(size, ",", ";", 1))
	case e.ContentType != "":
		msg += fmt.Sprintf(" (%s%s)", Untrusted(e.ContentType, MaxHeader), size)
	case e.Size > 0:
		msg += fmt.Sprintf(" (no content type%s)", size)
	}
	msg += ", " + e.Reason
	server := Dialect{Server: e.Server}.server()
	if e.Redirect {
		option := e.URLOption
		if option == "" {
			option = "homeserver_url"
		}
		msg += "; set " + n.Name(option) + " to the address " + server + " answers on"
	}
	if e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout {
		msg += "; a reverse proxy in front of " + server + " could not reach it"
	}
	return msg
}

// BadAnswer is a 2xx answer whose JSON decodes but holds what the server
// never sends; do() reports its reason instead of a generic one.
type BadAnswer struct{ Reason string }

func (e *BadAnswer) Error() string { return e.Reason }

// CheckIdentifier refuses an identifier from an answer (a user ID, a server
// name, a ULID) that holds whitespace, control or invisible format
// characters: no identifier does, and the module quotes identifiers in
// messages and sends them back in request paths.
func CheckIdentifier(what, s string) error {
	for _, r := range s {
		if r == utf8.RuneError || UnsafeRune(r) || unicode.IsSpace(r) {
			return &BadAnswer{fmt.Sprintf("its %s holds whitespace, control or invisible format characters, which no identifier does", what)}
		}
	}
	return nil
}

// Identifier is an identifier decoded from an answer, checked by
// CheckIdentifier.
type Identifier string

// UnmarshalJSON decodes a string and checks it.
func (id *Identifier) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if err := CheckIdentifier("identifier", s); err != nil {
		return err
	}
	*id = Identifier(s)
	return nil
}
