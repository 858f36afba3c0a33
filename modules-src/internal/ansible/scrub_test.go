package ansible

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeOut runs Write and returns the decoded result and the raw line.
func writeOut(t *testing.T, r Result, secrets ...string) (map[string]any, string) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, r, secrets))
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &decoded))
	return decoded, buf.String()
}

// goJSON is how Go's encoding/json writes a string (HTML-safe: & < > as
// \u0026 \u003c \u003e).
func goJSON(s string) string {
	data, _ := json.Marshal(s)
	return string(data[1 : len(data)-1])
}

// pyJSON is how Python's json.dumps writes a string (ASCII only).
func pyJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
				continue
			}
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestScrubEveryEncoding(t *testing.T) {
	secret := `Tr0ub4dor&3 "x"<y>/é+ok`
	encodings := map[string]string{
		"raw":                 secret,
		"Go JSON":             goJSON(secret),
		"Python JSON":         pyJSON(secret),
		"JSON twice":          goJSON(goJSON(secret)),
		"Go quoted":           strings.Trim(fmt.Sprintf("%q", secret), `"`),
		"HTML (Go)":           html.EscapeString(secret),
		"HTML named":          strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;", "'", "&apos;").Replace(secret),
		"HTML numeric":        strings.NewReplacer("&", "&#38;", `"`, "&#x22;", "<", "&#60;", ">", "&#X3E;").Replace(secret),
		"HTML of JSON":        html.EscapeString(goJSON(secret)),
		"query encoded":       url.QueryEscape(secret),
		"path encoded":        url.PathEscape(secret),
		"lower-case percent":  regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(url.QueryEscape(secret), strings.ToLower),
		"every byte escaped":  percentAll(secret),
		"query inside JSON":   goJSON(url.QueryEscape(secret)),
		"query inside HTML":   html.EscapeString("a=" + url.QueryEscape(secret)),
		"raw JSON in a value": `{"password": "` + goJSON(secret) + `"}`,
	}
	for name, enc := range encodings {
		for _, wrap := range []string{"%s", "echo: %s.", "<p>%s</p>", "x%sx"} {
			text := fmt.Sprintf(wrap, enc)
			r := Result{Failed: true, Msg: text, Warnings: []string{text}}
			r.Set("nested", map[string]any{"list": []any{text}})
			decoded, line := writeOut(t, r, secret)
			assert.NotContains(t, decoded["msg"], enc, "%s in %q", name, wrap)
			assert.Contains(t, decoded["msg"], Redacted, name)
			assert.NotContains(t, line, "Tr0ub4dor", name)
		}
	}
}

func percentAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func TestScrubLeavesKeysAndOtherTextAlone(t *testing.T) {
	r := Result{Failed: true, Msg: "3 users failed; fail"}
	r.Set("changes", []any{"failed_login", "fail"})
	r.Set("summary", map[string]any{"failed": 3, "fail": 1})
	decoded, line := writeOut(t, r, "fail")
	assert.Equal(t, true, decoded["failed"], "the key failed is intact, so Ansible sees a failed run")
	assert.Equal(t, false, decoded["changed"])
	assert.Equal(t, "3 users failed; ********", decoded["msg"])
	assert.Equal(t, []any{"failed_login", "********"}, decoded["changes"])
	assert.Contains(t, line, `"fail":1`, "keys are never rewritten")
}

func TestScrubShortSecrets(t *testing.T) {
	for _, tc := range []struct{ secret, in, want string }{
		{"pw", "pw", "********"},
		{"pw", "password=pw&user=x", "password=********&user=x"},
		{"pw", `{"password": "pw"}`, `{"password": "********"}`},
		{"pw", "pwned, upwards", "pwned, upwards"},
		{"a1", "user a1b, token a1", "user a1b, token ********"},
		{"é", "café, é", "café, ********"},
		{"a&b", `x=a%26b "a\u0026b" a&amp;b`, `x=******** "********" ********`},
		{"12345", "id 123456, pin 12345.", "id 123456, pin ********."},
	} {
		decoded, _ := writeOut(t, Result{Msg: tc.in}, tc.secret)
		assert.Equal(t, tc.want, decoded["msg"], "secret %q in %q", tc.secret, tc.in)
	}
}

// Any run of 8 or more characters of a long secret is masked, wherever it
// is and in either case: an echo of a token's tail (14 of its 20 random
// characters), of 22 characters from a password's middle, or of the
// upper-cased password once came through.
func TestScrubAnyPieceOfALongSecret(t *testing.T) {
	token := "syt_YWRtaW4_aBcDeFgHiJkLmNoPqRsT_0xyz12"
	password := "Tr0ub4dor&3-correct-horse-battery"
	for _, tc := range []struct{ in, want string }{
		{"Bearer" + token + "tail", "Bearer********tail"},
		{"Authorization: Bearer " + token[:20] + "…", "Authorization: Bearer ********…"},
		{"cut at the end: " + token[:9], "cut at the end: ********"},
		{"a prefix mid-text " + token[:12] + " is masked too", "a prefix mid-text ******** is masked too"},
		{"the tail: " + token[len(token)-14:] + ".", "the tail: ********."},
		{"14 of the random 20: " + token[15:29] + "!", "14 of the random 20: ********!"},
		{"a middle: " + password[5:27] + ".", "a middle: ********."},
		{"upper-cased: " + strings.ToUpper(password), "upper-cased: ********"},
		{"lower-cased: " + strings.ToLower(token), "lower-cased: ********"},
		{"mixed: " + "HORSE-battery", "mixed: ********"},
		{"8 characters: " + password[10:18] + ";", "8 characters: ********;"},
		{"7 are not enough: " + password[10:17] + ";", "7 are not enough: " + password[10:17] + ";"},
		{"two pieces: " + token[4:12] + " and " + password[0:8], "two pieces: ******** and ********"},
		{"nothing secret here", "nothing secret here"},
	} {
		decoded, _ := writeOut(t, Result{Msg: tc.in}, token, password)
		assert.Equal(t, tc.want, decoded["msg"], tc.in)
	}
	// Characters, not bytes: a piece of 8 characters of a non-ASCII secret,
	// and case folded beyond ASCII.
	decoded, _ := writeOut(t, Result{Msg: "x ÉCOLE-ÉTÉ-ÀÉÏÕ y"}, "mon-école-été-àéïõ-secret")
	assert.Equal(t, "x ******** y", decoded["msg"])
	decoded, _ = writeOut(t, Result{Msg: "x école-é y"}, "mon-école-été-àéïõ-secret")
	assert.Equal(t, "x école-é y", decoded["msg"], "7 characters (9 bytes) are not enough")
}

// A long secret is found in base64 (both alphabets, starting at any byte of
// a longer encoded text: "Bearer <token>", "user:password", a whole request)
// and in hex (either case, starting at any digit), also inside the other
// encodings.
func TestScrubBase64AndHex(t *testing.T) {
	token := "syt_YWRtaW4_aBcDeFgHiJkLmNoPqRsT_0xyz12"
	password := `Tr0ub4dor&3 "x"<y>+é🔑/z-pw7`
	b64 := map[string]func([]byte) string{
		"std": base64.StdEncoding.EncodeToString, "url": base64.URLEncoding.EncodeToString,
		"raw std": base64.RawStdEncoding.EncodeToString, "raw url": base64.RawURLEncoding.EncodeToString,
	}
	var forms []string
	for _, secret := range []string{token, password} {
		for _, blob := range []string{secret, "Bearer " + secret, "admin:" + secret, "x" + secret + "y", "xy" + secret,
			`{"password": "` + secret + `", "user": "@a:b"}`, secret[3:20], strings.ToUpper(secret)} {
			for _, enc := range b64 {
				forms = append(forms, enc([]byte(blob)))
			}
			forms = append(forms, hex.EncodeToString([]byte(blob)), strings.ToUpper(hex.EncodeToString([]byte(blob))))
		}
	}
	for _, form := range forms {
		for _, wrap := range []string{"%s", "Authorization: Basic %s.", "data=%s&x=1", "abc%s"} {
			text := fmt.Sprintf(wrap, form)
			for _, outer := range []string{text, url.QueryEscape(text), goJSON(text), html.EscapeString(text)} {
				decoded, _ := writeOut(t, Result{Msg: outer}, token, password)
				msg := decoded["msg"].(string)
				assert.Contains(t, msg, Redacted, "%q", outer)
				if leak := leakedPiece(msg, token, password); leak != "" {
					t.Errorf("%q leaks %q after the scrub: %q", outer, leak, msg)
				}
			}
		}
	}
	// The rest of the text stays.
	decoded, _ := writeOut(t, Result{Msg: "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+password)) + " (rejected)"}, password)
	assert.Regexp(t, `^Authorization: Basic YWRtaW46\*{8}=* \(rejected\)$`, decoded["msg"], "base64 of \"admin:\" and the padding are not secret")
}

// Short secrets are not looked for in hex and base64 readings: any long
// run of letters decodes to bytes that hold a 1- or 2-byte secret by chance.
func TestScrubShortSecretsNotInBinaryReadings(t *testing.T) {
	text := "displayname_for_every_user_of_the_server deadbeefcafebabe0123456789abcdef"
	decoded, _ := writeOut(t, Result{Msg: text}, "a", "\xef", "u", "1")
	assert.Equal(t, text, decoded["msg"])
}

// leakedPiece is an independent, slow check of the rule: it returns a piece
// of 8 characters of a secret that shows in text as written (any case),
// percent-, HTML- or JSON-decoded, or in base64 or hex starting anywhere.
func leakedPiece(text string, secrets ...string) string {
	var readings []string
	for _, r := range []string{text, htmlUnescape(text), queryUnescape(text), jsonUnescape(text)} {
		readings = append(readings, r)
		for i := 0; i < len(r); i++ {
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				end := i
				for end < len(r) && end-i < 96 && strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_", r[end]) >= 0 {
					end++
				}
				for n := end - i; n >= 2; n-- {
					if data, err := enc.DecodeString(r[i : i+n]); err == nil {
						readings = append(readings, string(data))
						break
					}
				}
			}
			end := i
			for end < len(r) && end-i < 128 && strings.IndexByte("0123456789abcdefABCDEF", r[end]) >= 0 {
				end++
			}
			if data, err := hex.DecodeString(r[i : i+(end-i)/2*2]); err == nil && len(data) > 0 {
				readings = append(readings, string(data))
			}
		}
	}
	for i := range readings {
		readings[i] = strings.ToLower(readings[i])
	}
	for _, secret := range secrets {
		runes := []rune(strings.ToLower(secret))
		for i := 0; i+longSecret <= len(runes); i++ {
			piece := string(runes[i : i+longSecret])
			for _, r := range readings {
				if strings.Contains(r, piece) {
					return piece
				}
			}
		}
	}
	return ""
}

func htmlUnescape(s string) string { return html.UnescapeString(s) }

func queryUnescape(s string) string {
	if out, err := url.QueryUnescape(s); err == nil {
		return out
	}
	return s
}

func jsonUnescape(s string) string {
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err == nil {
		return out
	}
	return s
}

// Random secrets, random pieces of them in random encodings inside random
// text: after the scrub, no piece of 8 characters of a secret shows in any
// reading the slow check knows.
func TestScrubRandomPiecesInRandomEncodings(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_&<>\"+/%=:;.éÉß🔑")
	word := func(n int) string {
		r := make([]rune, n)
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(r)
	}
	encodings := []func(string) string{
		func(s string) string { return s },
		strings.ToUpper,
		strings.ToLower,
		goJSON,
		pyJSON,
		html.EscapeString,
		url.QueryEscape,
		func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
		func(s string) string { return hex.EncodeToString([]byte(s)) },
		func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) },
		func(s string) string { return url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(s))) },
		func(s string) string { return goJSON(html.EscapeString(s)) },
	}
	for round := 0; round < 400; round++ {
		secrets := []string{word(8 + rng.IntN(30)), word(8 + rng.IntN(30))}
		secret := []rune(secrets[rng.IntN(2)])
		a := rng.IntN(len(secret) - longSecret + 1)
		piece := string(secret[a : a+longSecret+rng.IntN(len(secret)-a-longSecret+1)])
		// Encoded inside a longer text that is encoded with it.
		blob := word(rng.IntN(4)) + piece + word(rng.IntN(4))
		enc := encodings[rng.IntN(len(encodings))](blob)
		text := word(rng.IntN(10)) + " " + enc + " " + word(rng.IntN(10))
		decoded, _ := writeOut(t, Result{Msg: text}, secrets...)
		if leak := leakedPiece(decoded["msg"].(string), secrets...); leak != "" {
			t.Fatalf("round %d: %q in %q leaks %q after the scrub: %q", round, piece, text, leak, decoded["msg"])
		}
	}
}

func TestScrubOverlappingAndManySecrets(t *testing.T) {
	decoded, _ := writeOut(t, Result{Msg: "abcdefghij-klmnopqrst and abcdefgh"}, "abcdefghij", "efghij-klmnopqrst", "abcdefgh")
	assert.Equal(t, "******** and ********", decoded["msg"])

	var secrets []string
	var text strings.Builder
	for i := 0; i < 2000; i++ {
		secrets = append(secrets, fmt.Sprintf("secret-%05d-pw", i))
		fmt.Fprintf(&text, "user %d: secret-%05d-pw; ", i, i)
	}
	decoded, _ = writeOut(t, Result{Msg: text.String()}, secrets...)
	assert.NotContains(t, decoded["msg"], "secret-")
	assert.Equal(t, 2000, strings.Count(decoded["msg"].(string), Redacted))
}

func TestScrubNothingToScrub(t *testing.T) {
	assert.Nil(t, newScrubber(nil))
	assert.Nil(t, newScrubber([]string{"", ""}))
	decoded, _ := writeOut(t, Result{Msg: "a \\ b & c % d + e"}, "")
	assert.Equal(t, "a \\ b & c % d + e", decoded["msg"])
}

// BenchmarkScrubManySecrets scrubs a batch-sized result (50,000 users, each
// with a password, plus a few echoes) with 50,000 secrets: the case that took
// minutes when every secret was searched in every string.
func BenchmarkScrubManySecrets(b *testing.B) {
	const n = 50000
	secrets := make([]string, n)
	users := make([]any, n)
	for i := range secrets {
		secrets[i] = fmt.Sprintf("P4ss&word-%06d", i)
		users[i] = map[string]any{"user": fmt.Sprintf("@user%06d:example.com", i), "action": "unchanged",
			"changes": []any{}, "msg": fmt.Sprintf("@user%06d:example.com is unchanged", i)}
	}
	users[0].(map[string]any)["msg"] = "echo: password=" + url.QueryEscape(secrets[7]) + " " + goJSON(secrets[9])
	r := Result{Msg: "50000 users", Fields: map[string]any{"users": users}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		if err := Write(&buf, r, secrets); err != nil {
			b.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte("P4ss")) {
			b.Fatal("a secret survived")
		}
	}
}

// TestScrubMatchesLikeANaiveSearch checks the scrub against a naive search
// on random texts over a tiny alphabet, where secrets overlap and share
// prefixes and suffixes (what the automaton's fail links are for, and where
// the rolling hash's windows meet).
func TestScrubMatchesLikeANaiveSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "aB c"[rng.IntN(4)]
		}
		return string(b)
	}
	for round := 0; round < 3000; round++ {
		// Secrets made from each other's pieces: one inside another, one
		// extending another, so that matches end inside longer ones.
		var secrets []string
		for i := 0; i < 1+rng.IntN(6); i++ {
			secret := word(1 + rng.IntN(12))
			if i > 0 {
				prev := secrets[rng.IntN(i)]
				switch rng.IntN(3) {
				case 0:
					secret = word(1+rng.IntN(2)) + prev + word(1+rng.IntN(2))
				case 1:
					a := rng.IntN(len(prev))
					secret = prev[a : a+1+rng.IntN(len(prev)-a)]
				}
			}
			secrets = append(secrets, secret)
		}
		// Texts made of noise, prefixes of secrets and whole secrets.
		var text strings.Builder
		for limit := rng.IntN(200); text.Len() < limit; {
			secret := secrets[rng.IntN(len(secrets))]
			switch rng.IntN(3) {
			case 0:
				text.WriteString(word(1 + rng.IntN(4)))
			case 1:
				text.WriteString(secret[:1+rng.IntN(len(secret))])
			default:
				text.WriteString(secret)
			}
		}
		assert.Equal(t, naiveScrub(text.String(), secrets), newScrubber(secrets).scrubString(text.String()), "round %d: %q in %q", round, secrets, text.String())
	}
}

// naiveScrub is the rule written the slow, obvious way: mask every run of 8
// characters of the text that is in a long secret (in either case), and a
// short secret where it stands between spaces or the edges.
func naiveScrub(text string, secrets []string) string {
	masked := make([]bool, len(text))
	word := func(i int) bool { return i >= 0 && i < len(text) && text[i] != ' ' }
	lower := strings.ToLower(text)
	for _, secret := range secrets {
		if len(secret) >= longSecret {
			for i := 0; i+longSecret <= len(text); i++ {
				if strings.Contains(strings.ToLower(secret), lower[i:i+longSecret]) {
					for j := i; j < i+longSecret; j++ {
						masked[j] = true
					}
				}
			}
			continue
		}
		for i := 0; i+len(secret) <= len(text); i++ {
			alone := !word(i-1) && !word(i+len(secret))
			if text[i:i+len(secret)] == secret && alone {
				for j := i; j < i+len(secret); j++ {
					masked[j] = true
				}
			}
		}
	}
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		switch {
		case !masked[i]:
			b.WriteByte(text[i])
		case i == 0 || !masked[i-1]:
			b.WriteString(Redacted)
		}
	}
	return b.String()
}

// withPublicWords sets the public words for one test.
func withPublicWords(t *testing.T, words ...string) {
	t.Helper()
	publicWords.Lock()
	saved := publicWords.words
	publicWords.words = nil
	publicWords.Unlock()
	AddPublicWords(words...)
	t.Cleanup(func() {
		publicWords.Lock()
		publicWords.words = saved
		publicWords.Unlock()
	})
}

// A piece of a secret that lies inside a longer one of the module's own
// words (an option name) is that word: a password holding "password" must
// not shred "wrong admin_user or admin_password". A run as long as the word,
// or reaching past it, is masked: an echo shows a secret in its context.
func TestScrubLeavesTheModulesOwnWords(t *testing.T) {
	withPublicWords(t, "admin_password", "update_password", "password", "admin_user", "user")
	secret := "My-password-2024"
	for in, want := range map[string]string{
		"wrong admin_user or admin_password":       "wrong admin_user or admin_password",
		"update_password: always needs a password": "update_password: always needs a ********",
		"password":                  "********",
		"password=My-password-2024": "********=********",
		"echo: -password-":          "echo: ********",
		"admin_password=" + strings.ToUpper(secret):      "admin_password=********",
		"admin_passwords are words":                      "admin_passwords are words",
		"xadmin_password: " + secret[3:11] + " and 2024": "xadmin_password: ******** and 2024",
	} {
		decoded, _ := writeOut(t, Result{Msg: in}, secret)
		assert.Equal(t, want, decoded["msg"], in)
	}
	// A short secret inside a longer word stays too; alone it is masked.
	decoded, _ := writeOut(t, Result{Msg: "admin_user admin"}, "admin")
	assert.Equal(t, "admin_user ********", decoded["msg"])
	// A secret that is an option name is masked where it stands as itself.
	decoded, _ = writeOut(t, Result{Msg: "admin_password: admin_password"}, "admin_password")
	assert.Equal(t, "********: ********", decoded["msg"])
}

// The option names of a spec become public words when its secrets are
// collected, nested options and aliases included.
func TestSecretValuesMakesOptionNamesPublic(t *testing.T) {
	withPublicWords(t)
	spec := Spec{Module: "m", Options: []Option{
		{Name: "admin_password", Type: TypeStr, NoLog: true},
		{Name: "users", Type: TypeList, Elements: TypeDict, Options: []Option{
			{Name: "password", Aliases: []string{"passwd"}, Type: TypeStr, NoLog: true}}},
	}}
	got := SecretValues(spec, map[string]any{"admin_password": "a-secret-1", "users": []any{map[string]any{"password": "b-secret-2"}}})
	assert.ElementsMatch(t, []string{"a-secret-1", "b-secret-2"}, got)
	assert.Equal(t, []string{"admin_password", "passwd", "password", "users"}, PublicWords())
}

// A value that was not UTF-8 is read as the InvalidText marker: that is not
// the secret, and its text is in the message that refuses the value.
func TestSecretValuesSkipTheInvalidTextMarker(t *testing.T) {
	spec := Spec{Module: "m", Options: []Option{{Name: "password", Type: TypeStr, NoLog: true}}}
	assert.Empty(t, SecretValues(spec, map[string]any{"password": InvalidText}))
}
