package ansible

import (
	"bytes"
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

func TestScrubLongSecretsAnywhereAndAsCutFragments(t *testing.T) {
	token := "syt_YWRtaW4_aBcDeFgHiJkLmNoPqRsT_0xyz12"
	for _, tc := range []struct{ in, want string }{
		{"Bearer" + token + "tail", "Bearer********tail"},
		{"Authorization: Bearer " + token[:20] + "…", "Authorization: Bearer ********…"},
		{"Authorization: Bearer " + token[:20] + "... more", "Authorization: Bearer ********... more"},
		{"cut at the end: " + token[:9], "cut at the end: ********"},
		{"too short a fragment: " + token[:7], "too short a fragment: " + token[:7]},
		{"a fragment mid-text " + token[:12] + " is not a cut", "a fragment mid-text " + token[:12] + " is not a cut"},
	} {
		decoded, _ := writeOut(t, Result{Msg: tc.in}, token)
		assert.Equal(t, tc.want, decoded["msg"], tc.in)
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

// TestScrubMatchesLikeANaiveSearch checks the automaton against a naive
// search on random texts over a tiny alphabet, where secrets overlap and
// share prefixes and suffixes (what the fail links are for).
func TestScrubMatchesLikeANaiveSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "ab c"[rng.IntN(4)]
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

// naiveScrub is the rule written the slow, obvious way: mask every
// occurrence of a long secret and every prefix of 8 or more of one at the
// end, and a short secret where it stands between spaces or the edges.
func naiveScrub(text string, secrets []string) string {
	masked := make([]bool, len(text))
	word := func(i int) bool { return i >= 0 && i < len(text) && text[i] != ' ' }
	for _, secret := range secrets {
		long := len(secret) >= longSecret
		for i := 0; i+len(secret) <= len(text); i++ {
			alone := !word(i-1) && !word(i+len(secret))
			if text[i:i+len(secret)] == secret && (long || alone) {
				for j := i; j < i+len(secret); j++ {
					masked[j] = true
				}
			}
		}
		for n := longSecret; n <= len(secret) && n <= len(text); n++ {
			if strings.HasSuffix(text, secret[:n]) {
				for j := len(text) - n; j < len(text); j++ {
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
