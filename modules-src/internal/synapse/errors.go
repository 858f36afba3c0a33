package synapse

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
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

// matrixErrorBody is the JSON body of a Matrix error.
type matrixErrorBody struct {
	Errcode      string `json:"errcode"`
	Error        string `json:"error"`
	RetryAfterMs *int64 `json:"retry_after_ms"`
}

// errorFromAnswer turns a non-2xx answer into *Error when the body is
// Matrix JSON, or *ResponseError when it is anything else.
func errorFromAnswer(a httpapi.Answer) error {
	var m matrixErrorBody
	if err := json.Unmarshal(a.Body, &m); err == nil && (m.Errcode != "" || m.Error != "") {
		e := &Error{Method: a.Method, Path: a.Path, Status: a.Status, Errcode: m.Errcode, Message: m.Error}
		if a.Status == http.StatusTooManyRequests {
			var bodyWait time.Duration
			if m.RetryAfterMs != nil && *m.RetryAfterMs > 0 {
				bodyWait = time.Duration(*m.RetryAfterMs) * time.Millisecond
			}
			e.RetryAfter = httpapi.RetryAfter(a.Header, bodyWait)
		}
		return e
	}
	return a.Foreign("not a Matrix JSON error")
}
