package synapse

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
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
)

// untrusted returns text from an answer for a message: whole when it is
// short, else only its size.
func untrusted(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return fmt.Sprintf("(%d bytes, not shown)", len(s))
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
// The body is summarised, never quoted: a proxy's error page may echo the
// request, credentials included.
type ResponseError struct {
	Method      string
	Path        string
	Status      int
	ContentType string
	Size        int // of the body, in bytes
	Reason      string
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("unexpected answer to %s %s: HTTP %d", e.Method, e.Path, e.Status)
	if text := http.StatusText(e.Status); text != "" {
		msg += " " + text
	}
	switch {
	case len(e.ContentType) > maxHeader:
		msg += fmt.Sprintf(" (a content type of %d bytes, not shown; %d bytes)", len(e.ContentType), e.Size)
	case e.ContentType != "":
		msg += fmt.Sprintf(" (%s, %d bytes)", e.ContentType, e.Size)
	case e.Size > 0:
		msg += fmt.Sprintf(" (no content type, %d bytes)", e.Size)
	}
	msg += ", " + e.Reason
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
