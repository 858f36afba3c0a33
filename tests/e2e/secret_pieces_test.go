package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// pieceForms are the pieces and encodings of a secret a lying server echoes
// back in TestSecretPiecesEchoedBack, in groups that each fit in what a
// message quotes (error text over 300 bytes and headers over 200 are left
// out, which would prove nothing); each group starts with its marker word.
// user is the user name a Basic header would carry.
func pieceForms(secret, user string) map[string]string {
	runes := []rune(secret)
	tail := string(runes[len(runes)-14:])
	middle := string(runes[len(runes)/4 : len(runes)/4+max(8, len(runes)/2)])
	return map[string]string{
		"tail": fmt.Sprintf("tail %s middle %s loud %s", tail, middle, strings.ToUpper(secret)),
		"auth": fmt.Sprintf("auth %s basic %s", base64.StdEncoding.EncodeToString([]byte("Bearer "+secret)),
			base64.StdEncoding.EncodeToString([]byte(user+":"+secret))),
		"url": fmt.Sprintf("url %s hex %s", base64.RawURLEncoding.EncodeToString([]byte("x"+middle)), hex.EncodeToString([]byte(secret))),
		"HEX": "HEX " + strings.ToUpper(hex.EncodeToString([]byte("x"+tail))),
	}
}

// pieceStyles are the places of an answer a message quotes.
var pieceStyles = map[string]struct {
	answer func(w http.ResponseWriter, echo string)
	shown  string // what the message shows when the echo reached it
}{
	"Matrix error": {func(w http.ResponseWriter, echo string) {
		writeJSONAnswer(w, http.StatusBadRequest, map[string]any{"errcode": "M_UNKNOWN", "error": "echo: " + echo})
	}, "Synapse answered 400 M_UNKNOWN: echo: "},
	"redirect": {func(w http.ResponseWriter, echo string) {
		w.Header().Set("Location", "https://x/?"+echo)
		w.WriteHeader(http.StatusFound)
	}, "a redirect to"},
	"content type": {func(w http.ResponseWriter, echo string) {
		w.Header().Set("Content-Type", "text/plain; echo="+echo)
		w.WriteHeader(http.StatusBadGateway)
	}, "(text/plain; echo="},
}

// readingsOf are the ways the slow check reads a text: as written, HTML-,
// percent- and JSON-decoded, and every base64 (both alphabets) and hex run
// decoded from every position, all in lower case.
func readingsOf(text string) []string {
	var out []string
	for _, r := range []string{text, html.UnescapeString(text), unquery(text), unjson(text)} {
		out = append(out, r)
		for i := range len(r) {
			end := i
			for end < len(r) && end-i < 128 && strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_", r[end]) >= 0 {
				end++
			}
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				for n := end - i; n >= 2; n-- {
					if data, err := enc.DecodeString(r[i : i+n]); err == nil {
						out = append(out, string(data))
						break
					}
				}
			}
			end = i
			for end < len(r) && end-i < 256 && strings.IndexByte("0123456789abcdefABCDEF", r[end]) >= 0 {
				end++
			}
			if data, err := hex.DecodeString(r[i : i+(end-i)/2*2]); err == nil && len(data) > 0 {
				out = append(out, string(data))
			}
		}
	}
	for i := range out {
		out[i] = strings.ToLower(out[i])
	}
	return out
}

func unquery(s string) string {
	if out, err := url.QueryUnescape(s); err == nil {
		return out
	}
	return s
}

func unjson(s string) string {
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err == nil {
		return out
	}
	return s
}

// ownWords blanks the option names longer than 8 characters, which the
// scrub leaves alone when a piece of a secret lies inside one of them (a
// password holding "password" does not shred "admin_password" in messages).
func ownWords(t *testing.T) *strings.Replacer {
	var pairs []string
	for _, m := range moduleSpecs(t) {
		var walk func(opts []specOption)
		walk = func(opts []specOption) {
			for _, o := range opts {
				for _, n := range append([]string{o.Name}, o.Aliases...) {
					if len(n) > 8 {
						pairs = append(pairs, n, "#")
					}
				}
				walk(o.Options)
			}
		}
		walk(m.Options)
	}
	return strings.NewReplacer(pairs...)
}

// requireNoPieceIn fails when any 8 characters of a secret show in the
// run's output, in any case and any reading readingsOf knows (the module's
// own option names aside).
func requireNoPieceIn(t *testing.T, r Run, secrets map[string]string) {
	t.Helper()
	texts := []string{r.Stdout}
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
	var readings []string
	words := ownWords(t)
	for _, text := range texts {
		readings = append(readings, readingsOf(words.Replace(text))...)
	}
	for name, secret := range secrets {
		runes := []rune(strings.ToLower(secret))
		for i := 0; i+8 <= len(runes); i++ {
			piece := string(runes[i : i+8])
			for _, reading := range readings {
				if strings.Contains(reading, piece) {
					t.Errorf("8 characters of the %s (%q) show in the output:\n%s", name, piece, r.Stdout)
					return
				}
			}
		}
	}
}

// TestSecretPiecesEchoedBack: a lying server echoes pieces of the secrets
// it received (a token's tail, 22 characters from a password's middle, the
// password upper-cased, base64 of "Bearer <token>" and of "user:password",
// hex in both cases) in a Matrix error, a redirect's Location and a
// Content-Type, against every request that carries a secret. No 8
// characters of any secret reach the output, in any form.
func TestSecretPiecesEchoedBack(t *testing.T) {
	f := newFixture(t)
	password := `Tr0ub4dor&3 "x"<y>+é🔑/z-` + uniqueUser("pw") + "-correct-horse"
	recordSecrets(password)

	var mu sync.Mutex
	seenTokens, runTokens := map[string]bool{}, map[string]bool{}
	echoing := func(style func(http.ResponseWriter, string), group string, only func(r *http.Request, body string) string) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			data, _ := io.ReadAll(r.Body)
			body := string(data)
			if tok := bearer(r); tok != "" {
				mu.Lock()
				seenTokens[tok], runTokens[tok] = true, true
				mu.Unlock()
			}
			secret := only(r, body)
			if secret == "" {
				r.Body = io.NopCloser(strings.NewReader(body))
				return false
			}
			style(w, pieceForms(secret, "admin")[group])
			return true
		}
	}
	theToken := func(r *http.Request, _ string) string { return bearer(r) }
	thePassword := func(_ *http.Request, body string) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		pw, _ := m["password"].(string)
		return pw
	}
	defer f.proxy.SetFault(nil)

	// The secrets of one run: those of its arguments and the tokens it
	// sent (a login's own token is a secret the module obtained). A secret
	// the run never had cannot be masked, and is not looked for.
	secretsOf := func(args map[string]any, tokens map[string]bool) map[string]string {
		s := map[string]string{}
		for i, secret := range secretsIn(args) {
			s[fmt.Sprintf("secret %d of the arguments", i)] = secret
		}
		for tok := range tokens {
			s["token "+tok[:4]] = tok
		}
		return s
	}
	login := func() map[string]any {
		return map[string]any{"homeserver_url": f.proxy.URL, "retries": 0, "admin_user": "admin",
			"admin_password": synapsetest.AdminPassword, "user": uniqueUser("piece"), "password": password}
	}
	runs := 0
	for styleName, style := range pieceStyles {
		for _, group := range []string{"tail", "auth", "url", "HEX"} {
			t.Run(styleName+", "+group, func(t *testing.T) {
				for _, c := range []struct {
					what string
					only func(*http.Request, string) string
					args map[string]any
				}{
					{"the admin token", theToken, f.args(map[string]any{"user": uniqueUser("piece"), "password": password})},
					{"the password of a new user", thePassword, f.args(map[string]any{"user": uniqueUser("piece"), "password": password})},
					{"the admin password of a login", thePassword, login()},
					{"the token of a login", theToken, login()},
					{"a registration with the shared secret", thePassword, map[string]any{"homeserver_url": f.proxy.URL, "retries": 0,
						"service_account": "", "registration_shared_secret": f.srv.SharedSecret, "user": uniqueUser("piece"), "password": password}},
				} {
					mu.Lock()
					runTokens = map[string]bool{}
					mu.Unlock()
					f.proxy.SetFault(echoing(style.answer, group, c.only))
					r := runModule(t, "matrix_user", c.args)
					f.proxy.SetFault(nil)
					mu.Lock()
					secrets := secretsOf(c.args, runTokens)
					mu.Unlock()
					require.True(t, r.failed(), "%s: the echo fails the run: %s", c.what, r.Stdout)
					assert.Contains(t, r.msg(), style.shown, "%s: the echo reached the message (else this proves nothing)", c.what)
					assert.Contains(t, r.msg(), group+" ", "%s: the echo reached the message whole", c.what)
					assert.Contains(t, r.msg(), "********", c.what)
					requireNoPieceIn(t, r, secrets)
					runs++
				}
			})
		}
	}
	mu.Lock()
	assert.GreaterOrEqual(t, len(seenTokens), 2, "the admin token and at least one login token were echoed")
	mu.Unlock()
	t.Logf("%d runs against a proxy echoing pieces of secrets", runs)
}
