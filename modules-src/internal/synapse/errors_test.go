package synapse

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// Server text reaches messages with every character that acts on a
// terminal, or hides or reorders text, escaped: "\x1b[2K\rok:" in an error
// once erased the task's line and printed a fake "ok:".
func TestUntrustedTextEscapesControlAndFormatCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"\x1b[2K\rok: [localhost]":       `\x1b[2K\rok: [localhost]`,
		"tab\there, newline\nthere\x7f":  `tab\there, newline\nthere\x7f`,
		"C1 \u009b31m and \u0085":        `C1 \u009b31m and \u0085`,
		"bidi \u202egnp.exe\u202c":       `bidi \u202egnp.exe\u202c`,
		"isolates \u2066x\u2069 \u2067y": `isolates \u2066x\u2069 \u2067y`,
		"marks \u200e\u200f\u061c":       `marks \u200e\u200f\u061c`,
		"zero width \u200b\ufeff":        `zero width \u200b\ufeff`,
		"lines \u2028\u2029":             `lines \u2028\u2029`,
		"not UTF-8 \xff\xfe":             `not UTF-8 \xff\xfe`,
		"tag \U000E0041":                 `tag \U000e0041`,
		"plain café 🔑 Ω":                 "plain café 🔑 Ω",
	} {
		assert.Equal(t, want, untrusted(in, 300), "%q", in)
	}
	e := &Error{Method: "PUT", Path: "/u", Status: 400, Errcode: "M_\x1bX", Message: "\x1b[2K\rok: [matrix] => changed"}
	assert.Equal(t, `Synapse answered 400 M_\x1bX: \x1b[2K\rok: [matrix] => changed [PUT /u]`, e.Error())
	re := &ResponseError{Method: "GET", Path: "/u", Status: 502, ContentType: "text/html\x1b[2K\r", Size: 3, Reason: "odd"}
	assert.Contains(t, re.Error(), `(text/html\x1b[2K\r, 3 bytes)`)
	ue := &UnreachableError{Method: "GET", URL: "http://h", Err: errors.New("malformed MIME header line: \x1b[2K\rok:")}
	assert.Contains(t, ue.Error(), `malformed MIME header line: \x1b[2K\rok:`)
	long := &UnreachableError{Method: "GET", URL: "http://h", Err: errors.New(strings.Repeat("\x1b", 1001))}
	assert.Contains(t, long.Error(), "(1001 bytes, not shown)")
}

// Every path by which server text enters a message: an error's errcode and
// text, a redirect's Location, a content type, and the identifiers the
// module quotes (the user ID of whoami and of a login or registration, the
// server name, the names of the user list) are escaped or refused.
func TestEveryPathOfServerTextIsEscaped(t *testing.T) {
	const evil = "\x1b[2K\rok: [matrix]\u202e"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/whoami"):
			writeJSON(w, http.StatusOK, map[string]any{"user_id": "@admin:test" + evil})
		case strings.HasSuffix(r.URL.Path, "/login"):
			writeJSON(w, http.StatusOK, map[string]any{"user_id": evil, "access_token": "t", "device_id": "d"})
		case strings.HasSuffix(r.URL.Path, "/key/v2/server"):
			writeJSON(w, http.StatusOK, map[string]any{"server_name": "test" + evil})
		case strings.HasSuffix(r.URL.Path, "/v2/users"):
			writeJSON(w, http.StatusOK, map[string]any{"users": []any{map[string]any{"name": "@a" + evil + ":test"}}, "total": 1})
		case strings.HasSuffix(r.URL.Path, "/users/@moved:test"):
			// Go's server would not send a \r in a header at all.
			w.Header().Set("Location", "https://x/\x1b[2K ok: [matrix]\u202e")
			w.WriteHeader(http.StatusFound)
		case strings.HasSuffix(r.URL.Path, "/users/@bidi:test"):
			w.Header().Set("Location", "https://x/\u202egnp.exe\u2066")
			w.WriteHeader(http.StatusFound)
		case strings.HasSuffix(r.URL.Path, "/users/@html:test"):
			// Go's client refuses a header with a control character as a
			// malformed answer; format characters come through.
			w.Header().Set("Content-Type", "text/html\u202e\u2066")
			w.WriteHeader(http.StatusForbidden)
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"errcode": "M_" + evil, "error": evil})
		}
	}))
	defer srv.Close()
	c := testClient(t, srv.URL, func(c *Config) { c.Retries = 0 })
	ctx := context.Background()
	var errs []error
	_, err := c.Whoami(ctx)
	errs = append(errs, err)
	_, err = c.Login(ctx, "admin", "pw", "dev")
	errs = append(errs, err)
	_, err = c.ServerNameFromKeys(ctx)
	errs = append(errs, err)
	_, err = c.ListUsers(ctx, 10)
	errs = append(errs, err)
	_, err = c.GetUser(ctx, "@moved:test")
	errs = append(errs, err)
	_, err = c.GetUser(ctx, "@html:test")
	errs = append(errs, err)
	_, err = c.GetUser(ctx, "@other:test")
	errs = append(errs, err)
	_, err = c.GetUser(ctx, "@bidi:test")
	errs = append(errs, err)
	for i, err := range errs {
		require.Error(t, err, i)
		assert.NotContains(t, err.Error(), "\x1b", i)
		assert.NotContains(t, err.Error(), "\r", i)
		assert.NotContains(t, err.Error(), "\u202e", i)
	}
	for _, err := range errs[:4] {
		assert.Contains(t, err.Error(), "holds whitespace, control or invisible format characters, which no identifier does")
	}
	assert.Contains(t, errs[4].Error(), `\x1b[2K ok: [matrix]\u202e`)
	assert.Contains(t, errs[5].Error(), `(text/html\u202e\u2066,`)
	assert.Contains(t, errs[7].Error(), `a redirect to "https://x/\u202egnp.exe\u2066"; set homeserver_url`)
	assert.Contains(t, errs[6].Error(), `Synapse answered 400 M_\x1b[2K\rok: [matrix]\u202e: \x1b[2K\rok: [matrix]\u202e`)
}
