package synapse

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// An answer's own text reaches a message whole or not at all: a cut could
// leave part of an echoed secret where the result scrub cannot recognise it.
func TestUntrustedTextIsWholeOrLeftOut(t *testing.T) {
	short := &Error{Method: "GET", Path: "/x", Status: 400, Errcode: "M_BAD_JSON", Message: "bad field"}
	assert.Equal(t, "Synapse answered 400 M_BAD_JSON: bad field [GET /x]", short.Error())

	long := &Error{Method: "GET", Path: "/x", Status: 500, Errcode: strings.Repeat("E", 65), Message: strings.Repeat("echo ", 100)}
	assert.Equal(t, "Synapse answered 500 (65 bytes, not shown): (500 bytes, not shown) [GET /x]", long.Error())

	page := &ResponseError{Method: "PUT", Path: "/u", Status: http.StatusInternalServerError, ContentType: "text/html; " + strings.Repeat("x", 200), Size: 4096, Reason: "not a Matrix JSON error"}
	assert.Equal(t, "unexpected answer to PUT /u: HTTP 500 Internal Server Error (a content type of 211 bytes, not shown; 4096 bytes), not a Matrix JSON error", page.Error())

	bare := &ResponseError{Method: "GET", Path: "/u", Status: 299, Size: 3, Reason: "odd"}
	assert.Equal(t, "unexpected answer to GET /u: HTTP 299 (no content type, 3 bytes), odd", bare.Error())
}
