package mas

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
)

// Error is an error answer of MAS: its admin API's JSON:API errors
// ({"errors":[{"title":…},…]}, the first the error, the rest its causes),
// its OAuth 2.0 endpoint's ({"error":…,"error_description":…}), or its
// compatibility API's Matrix errors ({"errcode":…,"error":…}). It is
// the one type MAS's error answers become; callers look at Status.
type Error struct {
	Method, Path string
	Status       int
	// Titles are the JSON:API error titles; Code and Description the
	// OAuth 2.0 error's.
	Titles      []string
	Code        string
	Description string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "MAS answered %d", e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", httpapi.Untrusted(e.Code, httpapi.MaxErrcode))
	}
	text := e.Description
	if len(e.Titles) > 0 {
		text = strings.Join(e.Titles, ": ")
	}
	if text != "" {
		fmt.Fprintf(&b, ": %s", httpapi.Untrusted(text, httpapi.MaxErrorText))
	}
	fmt.Fprintf(&b, " [%s %s]", e.Method, e.Path)
	return b.String()
}

// StatusOf is the HTTP status of a MAS error answer, 0 for other errors.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

type errorBody struct {
	Errors []struct {
		Title string `json:"title"`
	} `json:"errors"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
	// A Matrix error (the compatibility login's).
	Errcode string `json:"errcode"`
}

// errorFromAnswer turns a non-2xx answer into *Error, or into a summarised
// *httpapi.ResponseError when the body is not one of MAS's error shapes
// (MAS's own body deserialisation errors are plain text, and may quote
// the request: they are summarised, never quoted).
func errorFromAnswer(a httpapi.Answer) error {
	var m errorBody
	if json.Unmarshal(a.Body, &m) == nil && m.Errcode != "" {
		return &Error{Method: a.Method, Path: a.Path, Status: a.Status, Code: m.Errcode, Description: m.Error}
	}
	if json.Unmarshal(a.Body, &m) == nil && (len(m.Errors) > 0 || m.Error != "") {
		e := &Error{Method: a.Method, Path: a.Path, Status: a.Status, Code: m.Error, Description: m.Description}
		for _, t := range m.Errors {
			e.Titles = append(e.Titles, t.Title)
		}
		return e
	}
	return a.Foreign("not a MAS JSON error")
}
