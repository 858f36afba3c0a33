package synapse

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// Matrix error codes this project acts on. Code compares errcodes, never the
// human-readable error text, which changes between Synapse releases.
const (
	ErrcodeNotFound        = "M_NOT_FOUND"
	ErrcodeUnrecognized    = "M_UNRECOGNIZED"
	ErrcodeUnknownToken    = "M_UNKNOWN_TOKEN"
	ErrcodeMissingToken    = "M_MISSING_TOKEN"
	ErrcodeForbidden       = "M_FORBIDDEN"
	ErrcodeLimitExceeded   = "M_LIMIT_EXCEEDED"
	ErrcodeUserInUse       = "M_USER_IN_USE"
	ErrcodeExclusive       = "M_EXCLUSIVE"
	ErrcodeUserDeactivated = "M_USER_DEACTIVATED"
	ErrcodeUserLocked      = "M_USER_LOCKED"
	ErrcodeUnknown         = "M_UNKNOWN"
)

// Error is an error answer from Synapse: an HTTP status and, when the body
// is Matrix JSON, its errcode and message. It is the one type every non-2xx
// answer becomes; callers use errors.As or HasErrcode, never string matching.
type Error struct {
	Method  string
	Path    string // the request path, without query or host
	Status  int
	Errcode string
	Message string
	// RetryAfter is the wait Synapse asked for on a 429 (the larger of the
	// Retry-After header and retry_after_ms).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Synapse answered %d", e.Status)
	if e.Errcode != "" {
		fmt.Fprintf(&b, " %s", untrusted(e.Errcode, maxErrcode))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", untrusted(e.Message, maxErrorText))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (asks to wait %s)", e.RetryAfter.Round(time.Second))
	}
	fmt.Fprintf(&b, " [%s %s]", e.Method, e.Path)
	return b.String()
}

// Bounds on the text of a server's answer that a message quotes. Longer
// text is not cut (a cut could leave part of an echoed secret where the
// result scrub no longer recognises it): it is left out, with its size.
const (
	maxErrcode   = 64
	maxErrorText = 300
	maxHeader    = 200
	// maxTransportText bounds the text of a connection error, which can
	// quote what the server sent (a malformed header line, the names in
	// its certificate).
	maxTransportText = 1000
)

// untrusted is the one way text from a server reaches a message: whole
// when it is short, else only its size, and with every character that
// could act on the terminal or hide what the text says escaped: C0 and C1
// control characters and DEL (an answer holding "\x1b[2K\rok:" would
// otherwise erase the line and fake an "ok:" one), the invisible format
// characters (the bidirectional overrides and isolates U+202A to U+202E
// and U+2066 to U+2069, the marks U+200E, U+200F and U+061C, zero-width
// characters), the line and paragraph separators, and bytes that are not
// UTF-8. They are written as Go escapes (\x1b, \u202e), which the result
// scrub also reads, so an echoed secret is still recognised.
func untrusted(s string, limit int) string {
	if len(s) > limit {
		return fmt.Sprintf("(%d bytes, not shown)", len(s))
	}
	return escapeControls(s)
}

// unsafeRune reports whether r would act on a terminal, or hide or reorder
// text, when printed.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// escapeControls writes the characters unsafeRune picks, and invalid UTF-8,
// as escapes, and leaves the rest alone.
func escapeControls(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
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
		case !unsafeRune(r):
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

// HasErrcode reports whether err is a Synapse answer with the given errcode.
func HasErrcode(err error, errcode string) bool {
	var e *Error
	return errors.As(err, &e) && e.Errcode == errcode
}

// StatusOf returns the HTTP status of a Synapse answer, or 0 for other errors.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// UnreachableError means no HTTP answer came back: connection refused, DNS,
// TLS, timeout, or a connection cut before the answer was complete.
type UnreachableError struct {
	Method string
	URL    string
	Err    error
}

func (e *UnreachableError) Error() string { return e.Render(problem.Module) }

// Render is the message in the user's words (the hint names the timeout
// option, or ca_path and validate_certs).
func (e *UnreachableError) Render(n problem.Naming) string {
	return fmt.Sprintf("Synapse is unreachable (%s %s): %s", e.Method, e.URL, untrusted(problem.Render(e.Err, n), maxTransportText))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ResponseError means an answer came back that is not what Synapse sends:
// typically an HTML error page from a reverse proxy, or a truncated body.
// The body is summarised, never quoted: a proxy's error page may echo the
// request, credentials included.
type ResponseError struct {
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

// Render is the message in the user's words (a redirect's hint names
// homeserver_url).
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
	case len(e.ContentType) > maxHeader:
		msg += fmt.Sprintf(" (a content type of %d bytes, not shown%s)", len(e.ContentType), strings.Replace(size, ",", ";", 1))
	case e.ContentType != "":
		msg += fmt.Sprintf(" (%s%s)", untrusted(e.ContentType, maxHeader), size)
	case e.Size > 0:
		msg += fmt.Sprintf(" (no content type%s)", size)
	}
	msg += ", " + e.Reason
	if e.Redirect {
		msg += "; set " + n.Name("homeserver_url") + " to the address Synapse answers on"
	}
	if e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout {
		msg += "; a reverse proxy in front of Synapse could not reach it"
	}
	return msg
}

// matrixErrorBody is the JSON body of a Matrix error.
type matrixErrorBody struct {
	Errcode      string `json:"errcode"`
	Error        string `json:"error"`
	RetryAfterMs *int64 `json:"retry_after_ms"`
}

// errorFromResponse turns a non-2xx answer into *Error when the body is
// Matrix JSON, or *ResponseError when it is anything else.
func errorFromResponse(method, path string, resp *http.Response, body []byte) error {
	var m matrixErrorBody
	if err := json.Unmarshal(body, &m); err == nil && (m.Errcode != "" || m.Error != "") {
		e := &Error{Method: method, Path: path, Status: resp.StatusCode, Errcode: m.Errcode, Message: m.Error}
		if resp.StatusCode == http.StatusTooManyRequests {
			e.RetryAfter = retryAfter(resp.Header, m.RetryAfterMs)
		}
		return e
	}
	return &ResponseError{
		Method: method, Path: path, Status: resp.StatusCode,
		ContentType: resp.Header.Get("Content-Type"),
		Size:        len(body),
		Reason:      "not a Matrix JSON error",
	}
}

// badAnswer is a 2xx answer whose JSON decodes but holds what Synapse never
// sends; do() reports its reason instead of a generic one.
type badAnswer struct{ reason string }

func (e *badAnswer) Error() string { return e.reason }

// checkIdentifier refuses an identifier from an answer (a user ID, a server
// name) that holds whitespace, control or invisible format characters: no
// Matrix identifier does, and the module quotes identifiers in messages and
// sends them back in request paths.
func checkIdentifier(what, s string) error {
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) || unicode.IsSpace(r) {
			return &badAnswer{fmt.Sprintf("its %s holds whitespace, control or invisible format characters, which no Matrix identifier does", what)}
		}
	}
	return nil
}

// serverID is an identifier decoded from an answer, checked by
// checkIdentifier.
type serverID string

func (id *serverID) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if err := checkIdentifier("identifier", s); err != nil {
		return err
	}
	*id = serverID(s)
	return nil
}
