package synapse

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
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
		fmt.Fprintf(&b, " %s", e.Errcode)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (asks to wait %s)", e.RetryAfter.Round(time.Second))
	}
	fmt.Fprintf(&b, " [%s %s]", e.Method, e.Path)
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

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("Synapse is unreachable (%s %s): %v", e.Method, e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ResponseError means an answer came back that is not what Synapse sends:
// typically an HTML error page from a reverse proxy, or a truncated body.
type ResponseError struct {
	Method      string
	Path        string
	Status      int
	ContentType string
	Snippet     string
	Reason      string
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("unexpected answer to %s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.ContentType != "" {
		msg += " (" + e.ContentType + ")"
	}
	msg += ", " + e.Reason
	if e.Snippet != "" {
		msg += fmt.Sprintf(": %q", e.Snippet)
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
		Snippet:     snippet(body),
		Reason:      "not a Matrix JSON error",
	}
}

// snippet shows the start of a foreign body (an HTML page) as readable text:
// tags and control characters removed, cut short.
func snippet(body []byte) string {
	var b strings.Builder
	inTag := false
	lastSpace := true
	for _, r := range string(body) {
		switch {
		case r == '<':
			inTag = true
		case r == '>':
			inTag = false
		case inTag:
		case unicode.IsSpace(r) || unicode.IsControl(r):
			if !lastSpace {
				b.WriteByte(' ')
				lastSpace = true
			}
		default:
			b.WriteRune(r)
			lastSpace = false
		}
		if b.Len() >= 120 {
			return strings.TrimSpace(b.String()) + "…"
		}
	}
	return strings.TrimSpace(b.String())
}
