package reconcile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProtectPatternMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, userID string
		want            bool
	}{
		// '*' covers every character a localpart may hold.
		{"bot-*", "@bot-relay/irc:example.com", true},
		{"bot*", "@bot.x:example.com", true},
		{"bot*", "@bot=y:example.com", true},
		{"bot*", "@bot+z:example.com", true},
		{"bot*", "@bot_w:example.com", true},
		{"bot-*", "@bot-:example.com", true},
		{"bot-*", "@robot-x:example.com", false},
		{"bot-*", "@bot:example.com", false},
		{"*irc", "@bot-relay/irc:example.com", true},
		{"*/*", "@bot-relay/irc:example.com", true},
		{"*/*", "@botrelay:example.com", false},
		// The whole ID, with the server part.
		{"@bot-*:example.com", "@bot-relay/irc:example.com", true},
		{"@bot-*:example.com", "@bot-relay/irc:other.com", false},
		{"@notices:example.com", "@notices:example.com", true},
		{"@*", "@anyone:example.com", true},
		{"*", "@anyone:example.com", true},
		// Case-insensitive on both sides.
		{"BOT-*", "@bot-x:example.com", true},
		{"bot-*", "@Bot-X:example.com", true},
		// ? is one character, not zero, not two.
		{"bot?", "@bot1:example.com", true},
		{"bot?", "@bot/:example.com", true},
		{"bot?", "@bot:example.com", false},
		{"bot?", "@bot12:example.com", false},
		// Classes, negated classes, escapes.
		{"bot[0-9]", "@bot7:example.com", true},
		{"bot[0-9]", "@botx:example.com", false},
		{"bot[!0-9]", "@botx:example.com", true},
		{"bot[^0-9]", "@bot7:example.com", false},
		{"bot[/.]x", "@bot/x:example.com", true},
		{"bot[/.]x", "@bot.x:example.com", true},
		{`bot\*`, "@bot*:example.com", true},
		{`bot\*`, "@botx:example.com", false},
		{"a*b*c", "@axxbyyc:example.com", true},
		{"a*b*c", "@axxbyy:example.com", false},
		// Literal characters are literal: '.' is not a wildcard.
		{"bot.x", "@botyx:example.com", false},
		{"bot.x", "@bot.x:example.com", true},
	} {
		p, err := CompileProtect(tc.pattern)
		require.NoError(t, err, tc.pattern)
		got := protected(tc.userID, []ProtectPattern{p})
		assert.Equal(t, tc.want, got, "%q vs %s", tc.pattern, tc.userID)
	}
}

func TestProtectPatternRefusals(t *testing.T) {
	for _, bad := range []string{"", "bot-[", "bot-[a-", `bot\`, "[z-a]", `[a\`} {
		err := CheckProtectPatterns([]string{"ok-*", bad}, "")
		require.Error(t, err, "%q", bad)
		assert.Contains(t, err.Error(), "option protect")
	}
	require.NoError(t, CheckProtectPatterns([]string{"bot-*", "@x:y", "*[]]", "[!a]", "a?b", `*\[*`, "*", "@*", "*:example.com", "@notices:*", "?"}, ""))
}

// A pattern that no account can match keeps no account: it is refused
// before any request, naming the pattern and the rule, rather than leave the
// account it was meant for to exclusive mode.
func TestProtectPatternsThatCanNeverMatch(t *testing.T) {
	for pattern, why := range map[string]string{
		"@notices":                   "a full user ID names its server",
		"@notices-?":                 "a full user ID names its server",
		"notices:example.com":        "starts with @",
		"bot-*:example.com":          "starts with @",
		" bot-*":                     "it has a space",
		"bot-* ":                     "it has a space",
		"@notices :example.com":      "it has a space",
		"bot#1":                      `'#' is in no user ID`,
		"café":                       `'é' is in no user ID`,
		"@:example.com":              "matches neither",
		"@notices:example.com:x:y z": "it has a space",
	} {
		err := CheckProtectPatterns([]string{"bot-*", pattern}, "")
		require.Error(t, err, "%q", pattern)
		assert.Contains(t, err.Error(), fmt.Sprintf("option protect: %q can never match an account: ", pattern))
		assert.Contains(t, err.Error(), why, pattern)
	}
	// Once the server's name is known, a full ID on another server is
	// refused too (a typo of the server protects nothing).
	require.NoError(t, CheckProtectPatterns([]string{"@notices:example.com", "@bot-*:EXAMPLE.com", "@*:example.*", "bot-*"}, "example.com"))
	for _, pattern := range []string{"@notices:exmaple.com", "@bot-*:example.org", "@*:example.co"} {
		err := CheckProtectPatterns([]string{pattern}, "example.com")
		require.Error(t, err, pattern)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q can never match an account of this homeserver: its accounts are @localpart:example.com", pattern))
	}
	// A server name with a port is a server name.
	require.NoError(t, CheckProtectPatterns([]string{"@notices:example.com:8448"}, "example.com:8448"))
}

// A pattern with many stars against a long ID stays fast: the matcher
// backtracks to the last star only.
func TestProtectPatternNoExponentialBacktracking(t *testing.T) {
	p, err := CompileProtect(strings.Repeat("a*", 30) + "b")
	require.NoError(t, err)
	assert.False(t, p.Match(strings.Repeat("a", 250)))
}

func TestDeactivationLimit(t *testing.T) {
	for _, tc := range []struct{ count, percent, active, want int }{
		{10, 25, 12, 3},     // the share binds on a small server
		{10, 25, 8, 2},      // 25 % of 8
		{10, 25, 1, 1},      // rounded up: one is always possible
		{10, 25, 0, 0},      // nobody active, nobody to deactivate
		{10, 25, 10000, 10}, // the count binds on a large server
		{0, 100, 50, 0},     // 0 deactivates nobody
		{1000, 100, 50, 50}, // raised: everything
	} {
		assert.Equal(t, tc.want, DeactivationLimit(tc.count, tc.percent, tc.active), "%+v", tc)
	}
}
