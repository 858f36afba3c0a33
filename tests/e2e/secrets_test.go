package e2e

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// A proxy in front of Synapse that answers with the request echoed back, in
// every way a misbehaving server or proxy does it. Each style gets the
// request, its body and the echo text (method, URL, Authorization header,
// body).
var echoStyles = map[string]func(w http.ResponseWriter, r *http.Request, echo string){
	"HTML error page": func(w http.ResponseWriter, r *http.Request, echo string) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "<html><body><h1>500 Internal Server Error</h1><pre>%s</pre><p>form: %s</p></body></html>", html.EscapeString(echo), url.QueryEscape(echo))
	},
	"JSON error quoting the request": func(w http.ResponseWriter, r *http.Request, echo string) {
		writeJSONAnswer(w, http.StatusInternalServerError, map[string]any{"errcode": "M_UNKNOWN", "error": shortEcho(echo)})
	},
	"JSON error quoting it Go-escaped": func(w http.ResponseWriter, r *http.Request, echo string) {
		data, _ := json.Marshal(shortEcho(echo))
		writeJSONAnswer(w, http.StatusInternalServerError, map[string]any{"errcode": "M_UNKNOWN", "error": "got " + string(data)})
	},
	"JSON error quoting it percent-encoded": func(w http.ResponseWriter, r *http.Request, echo string) {
		writeJSONAnswer(w, http.StatusBadRequest, map[string]any{"errcode": "M_BAD_JSON", "error": "got " + url.QueryEscape(shortEcho(echo))})
	},
	"JSON error quoting it HTML-escaped": func(w http.ResponseWriter, r *http.Request, echo string) {
		writeJSONAnswer(w, http.StatusBadRequest, map[string]any{"errcode": "M_BAD_JSON", "error": "got " + html.EscapeString(shortEcho(echo))})
	},
	"JSON error cutting the echo at 120 characters": func(w http.ResponseWriter, r *http.Request, echo string) {
		writeJSONAnswer(w, http.StatusInternalServerError, map[string]any{"errcode": "M_UNKNOWN", "error": cutEcho(echo)})
	},
	"content type echoing the request": func(w http.ResponseWriter, r *http.Request, echo string) {
		w.Header().Set("Content-Type", "text/plain; echo="+url.QueryEscape(shortEcho(echo)))
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, echo)
	},
	"redirect echoing the token": func(w http.ResponseWriter, r *http.Request, echo string) {
		w.Header().Set("Location", "https://matrix.example.com/login?access_token="+url.QueryEscape(bearer(r))+"&echo="+url.QueryEscape(shortEcho(echo)))
		w.WriteHeader(http.StatusFound)
	},
	"success that is not JSON": func(w http.ResponseWriter, r *http.Request, echo string) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "OK "+echo)
	},
}

func writeJSONAnswer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// shortEcho is the part of the echo that carries the secrets, short enough
// for a message to quote it (error texts over 300 bytes are left out).
func shortEcho(echo string) string {
	if len(echo) > 250 {
		return echo[len(echo)-250:]
	}
	return echo
}

// cutEcho cuts the echo in the middle of its last secret, as a server
// quoting the first 120 characters of a request does.
func cutEcho(echo string) string {
	s := shortEcho(echo)
	return s[:len(s)-6] + "…"
}

// secretForms are the ways a secret, or its first 8 characters, may show.
func secretForms(secret string) []string {
	var out []string
	for _, s := range []string{secret, secret[:8]} {
		data, _ := json.Marshal(s)
		out = append(out, s, string(data[1:len(data)-1]), html.EscapeString(s), url.QueryEscape(s), url.PathEscape(s),
			strings.ToLower(url.QueryEscape(s)), pythonJSON(s))
	}
	return out
}

// pythonJSON is how Python's json.dumps writes a string (ASCII only):
// characters above U+FFFF as a UTF-16 surrogate pair, as Python does.
func pythonJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		case r < 0x20 || r > 0x7e:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// requireNoSecretIn fails when any secret shows in the run's output in any
// form: the raw stdout, and every string value of the result.
func requireNoSecretIn(t *testing.T, r Run, secrets map[string]string) {
	t.Helper()
	texts := []string{r.Stdout, r.Stderr}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			texts = append(texts, x)
		case []any:
			for _, el := range x {
				walk(el)
			}
		case map[string]any:
			for _, el := range x {
				walk(el)
			}
		}
	}
	walk(r.Result)
	for name, secret := range secrets {
		require.GreaterOrEqual(t, len(secret), 8, name)
		for _, form := range secretForms(secret) {
			for _, text := range texts {
				if strings.Contains(text, form) {
					t.Errorf("the %s shows in the output as %q:\n%s", name, form, r.Stdout)
				}
			}
		}
	}
}

// TestSecretsInEchoedAnswers sends the module through a proxy that echoes
// every request back (in an HTML page, in a JSON error, percent-, HTML- or
// JSON-escaped, cut short, in a header) and checks that no password, token
// or shared secret reaches the module's output in any encoding, nor 8 or
// more of their first characters.
func TestSecretsInEchoedAnswers(t *testing.T) {
	f := newFixture(t)
	password := `Tr0ub4dor&3 "x"<y>+é🔑/z-` + uniqueUser("pw")
	recordSecrets(password)

	var mu sync.Mutex
	seenTokens := map[string]bool{}
	echoing := func(style func(http.ResponseWriter, *http.Request, string), only func(r *http.Request, body string) bool) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			data, _ := io.ReadAll(r.Body)
			body := string(data)
			if tok := bearer(r); tok != "" {
				mu.Lock()
				seenTokens[tok] = true
				mu.Unlock()
			}
			if !only(r, body) {
				r.Body = io.NopCloser(strings.NewReader(body))
				return false
			}
			echo := fmt.Sprintf("%s %s\nAuthorization: %s\n\n%s", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), body)
			style(w, r, echo)
			return true
		}
	}
	// The homeserver probe before authentication carries nothing secret:
	// the echo starts with the first authenticated request.
	withToken := func(r *http.Request, _ string) bool { return bearer(r) != "" }
	withPassword := func(_ *http.Request, body string) bool { return strings.Contains(body, `"password"`) }
	defer f.proxy.SetFault(nil)

	secrets := func() map[string]string {
		s := map[string]string{"password": password, "admin token": f.token, "shared secret": f.srv.SharedSecret,
			"admin password": synapsetest.AdminPassword}
		mu.Lock()
		defer mu.Unlock()
		for tok := range seenTokens {
			s["token "+tok[:4]] = tok
		}
		return s
	}

	runs := 0
	for name, style := range echoStyles {
		t.Run(name, func(t *testing.T) {
			cases := []struct {
				what string
				only func(*http.Request, string) bool
				args map[string]any
			}{
				{"the admin token", withToken, f.args(map[string]any{"user": uniqueUser("echo"), "password": password})},
				{"the password of a new user", withPassword, f.args(map[string]any{"user": uniqueUser("echo"), "password": password})},
				{"the admin password of a login", withPassword, map[string]any{"homeserver_url": f.proxy.URL, "retries": 0,
					"admin_user": "admin", "admin_password": synapsetest.AdminPassword, "user": uniqueUser("echo"), "password": password}},
				{"the token of a login", withToken, map[string]any{"homeserver_url": f.proxy.URL, "retries": 0,
					"admin_user": "admin", "admin_password": synapsetest.AdminPassword, "user": uniqueUser("echo"), "password": password}},
				{"a registration with the shared secret", withPassword, map[string]any{"homeserver_url": f.proxy.URL, "retries": 0,
					"service_account": "", "registration_shared_secret": f.srv.SharedSecret, "user": uniqueUser("echo"), "password": password}},
			}
			for _, c := range cases {
				f.proxy.SetFault(echoing(style, c.only))
				f.proxy.Reset()
				r := runModule(t, "matrix_user", c.args)
				f.proxy.SetFault(nil)
				require.True(t, r.failed(), "%s: the echo fails the run: %s", c.what, r.Stdout)
				requireNoSecretIn(t, r, secrets())
				runs++
			}
		})
	}
	mu.Lock()
	assert.GreaterOrEqual(t, len(seenTokens), 2, "the admin token and at least one login token were echoed")
	mu.Unlock()
	t.Logf("%d runs against an echoing proxy, %d secrets checked in each", runs, len(secrets()))
}

// TestSecretShortPasswordLeavesResultKeys: with the password "fail", the
// scrub once turned the key "failed" into "********ed", and Ansible read the
// failed run as changed. Keys are never scrubbed; a short secret is masked
// only where it stands alone.
func TestSecretShortPasswordLeavesResultKeys(t *testing.T) {
	f := newFixture(t)
	args := f.args(map[string]any{"_mxadmin_module": "matrix_user", "user": "a", "password": "fail", "state": "gone"})
	data, err := json.Marshal(args)
	require.NoError(t, err)
	path := t.TempDir() + "/args"
	require.NoError(t, os.WriteFile(path, data, 0o600))
	r := runBinary(t, path)
	require.Equal(t, true, r.Result["failed"], r.Stdout)
	require.Equal(t, false, r.Result["changed"], r.Stdout)
	assert.NotContains(t, r.Stdout, "********ed")
	assert.Contains(t, r.msg(), `got "gone"`, "the rest of the message is intact")
}
