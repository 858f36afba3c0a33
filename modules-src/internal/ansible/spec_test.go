package ansible

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testSpec = Spec{
	Module: "test.module",
	Options: []Option{
		{Name: "user", Type: TypeStr, Aliases: []string{"username"}},
		{Name: "admin", Type: TypeBool},
		{Name: "timeout", Type: TypeInt, Default: 30},
		{Name: "state", Type: TypeStr, Choices: []string{"present", "absent"}, Default: "present"},
		{Name: "password", Type: TypeStr, NoLog: true},
		{Name: "tags", Type: TypeList, Elements: TypeStr},
		{Name: "items", Type: TypeList, Elements: TypeDict, ElementName: "name", Options: []Option{
			{Name: "name", Type: TypeStr, Required: true, Aliases: []string{"title"}},
			{Name: "secret", Type: TypeStr, NoLog: true},
			{Name: "kind", Type: TypeStr, Choices: []string{"a", "b"}},
		}},
		{Name: "labels", Type: TypeDict},
	},
	MutuallyExclusive: [][]string{{"user", "items"}},
}

func validate(t *testing.T, args string) (*Params, Internal, error) {
	t.Helper()
	raw, err := DecodeArgs([]byte(args))
	require.NoError(t, err)
	return Validate(testSpec, raw)
}

func TestBooleansAsAnsibleAcceptsThem(t *testing.T) {
	for _, v := range []string{`true`, `"yes"`, `"YES"`, `"on"`, `"1"`, `1`, `"true"`, `"y"`, `"t"`, `1.0`} {
		p, _, err := validate(t, `{"admin": `+v+`}`)
		require.NoError(t, err, v)
		assert.True(t, p.Bool("admin"), v)
	}
	for _, v := range []string{`false`, `"no"`, `"off"`, `"0"`, `0`, `"False"`, `"n"`, `"f"`} {
		p, _, err := validate(t, `{"admin": `+v+`}`)
		require.NoError(t, err, v)
		assert.False(t, p.Bool("admin"), v)
		assert.True(t, p.Given("admin"))
	}
	_, _, err := validate(t, `{"admin": "maybe"}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "option admin")
	assert.Contains(t, err.Error(), `"maybe" is not a valid boolean`)
}

func TestInts(t *testing.T) {
	p, _, err := validate(t, `{"timeout": "12"}`)
	require.NoError(t, err)
	assert.Equal(t, 12, p.Int("timeout"))
	p, _, err = validate(t, `{"timeout": 7.0}`)
	require.NoError(t, err)
	assert.Equal(t, 7, p.Int("timeout"))
	_, _, err = validate(t, `{"timeout": "x"}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `option timeout: "x" is not a whole number`)
	_, _, err = validate(t, `{"timeout": 1.5}`)
	require.Error(t, err)
}

// A number given for a string option is its text, with the warning Ansible
// gave (2.8 to 2.10); a boolean, list or dict never is: AnsibleModule would
// turn them into "True", "['a']" and "{'a': 1}".
func TestStringsFromScalars(t *testing.T) {
	p, _, err := validate(t, `{"password": 12345, "user": 1.10, "tags": [7]}`)
	require.NoError(t, err)
	assert.Equal(t, "12345", p.String("password"), "a YAML number password is its digits")
	assert.Equal(t, "1.10", p.String("user"), "the JSON text of the number, as Python's str() gave it")
	assert.Equal(t, []string{"7"}, p.Strings("tags"))
	require.Len(t, p.Warnings(), 3)
	assert.Contains(t, p.Warnings(), `option user: the value 1.10 (type float) was converted to "1.10" (type string); if this does not look like what you expect, quote the entire value to ensure it does not change (YAML reads an unquoted 0123 as 83 and 1.10 as 1.1)`)
	assert.Contains(t, p.Warnings(), "option password: a number (type int) was converted to a string; if this does not look like what you expect, quote the entire value to ensure it does not change (YAML reads an unquoted 0123 as 83 and 1.10 as 1.1)", "a no_log value is not shown")
	assert.Contains(t, p.Warnings(), `option tags[0]: the value 7 (type int) was converted to "7" (type string); if this does not look like what you expect, quote the entire value to ensure it does not change (YAML reads an unquoted 0123 as 83 and 1.10 as 1.1)`)

	p, _, err = validate(t, `{"user": "x", "password": "12345"}`)
	require.NoError(t, err)
	assert.Empty(t, p.Warnings(), "text is text")

	for args, want := range map[string]string{
		`{"user": true}`:                           "option user: expected a string, got the boolean true (YAML reads unquoted yes/no, true/false and on/off as booleans); quote the value",
		`{"user": false}`:                          "option user: expected a string, got the boolean false",
		`{"password": true}`:                       "option password: expected a string, got a boolean (YAML",
		`{"user": ["a"]}`:                          "option user: expected a string, got a list; quote the whole value if it is meant as text",
		`{"password": ["a", "b"]}`:                 "option password: expected a string, got a list",
		`{"password": {"a": 1}}`:                   "option password: expected a string, got a dict",
		`{"tags": ["a", false]}`:                   "option tags[1]: expected a string, got the boolean false",
		`{"items": [{"name": "n", "secret": []}]}`: "option items[0] (n).secret: expected a string, got a list",
		`{"items": [{"name": true}]}`:              "option items[0].name: expected a string, got the boolean true",
	} {
		_, _, err := validate(t, args)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), want, args)
	}
}

func TestDefaultsAndGiven(t *testing.T) {
	p, _, err := validate(t, `{}`)
	require.NoError(t, err)
	assert.Equal(t, 30, p.Int("timeout"))
	assert.Equal(t, "present", p.String("state"))
	assert.False(t, p.Given("timeout"))
	assert.Nil(t, p.OptBool("admin"))
	assert.Nil(t, p.OptString("user"))

	p, _, err = validate(t, `{"user": null, "admin": null}`)
	require.NoError(t, err)
	assert.False(t, p.Given("user"), "null is not given")
	assert.Nil(t, p.OptBool("admin"))

	// As in Ansible, a null for an option with a default is refused rather
	// than replaced by the default.
	_, _, err = validate(t, `{"timeout": null}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "option timeout: null is not a valid int; leave the option out to use its default (30)")
}

func TestNullCountsAsNotGivenForRequiredAndChoices(t *testing.T) {
	_, _, err := validate(t, `{"items": [{"name": null}]}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "items[0]: missing required option name (name is null, and a null counts as not given)")

	_, _, err = validate(t, `{"state": null}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "option state: value must be one of present, absent, got null")

	_, _, err = validate(t, `{"items": [{"name": "a", "kind": null}]}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "option items[0] (a).kind: value must be one of a, b, got null")

	p, _, err := validate(t, `{"user": null, "username": "x"}`)
	require.NoError(t, err, "a null alias next to the option is not a second value")
	assert.Equal(t, "x", p.String("user"))

	spec := Spec{Module: "m", Options: []Option{{Name: "admin", Type: TypeBool, Required: true}}}
	raw, err := DecodeArgs([]byte(`{"admin": null}`))
	require.NoError(t, err)
	_, _, err = Validate(spec, raw)
	require.Error(t, err, "a null for a required bool never becomes false")
	assert.Contains(t, err.Error(), "missing required option admin")
}

func TestInternalBooleansAreReadStrictly(t *testing.T) {
	for _, v := range []string{`"maybe"`, `null`, `"2"`, `[]`, `{}`, `""`} {
		for _, key := range []string{"_ansible_check_mode", "_ansible_diff", "_ansible_no_log"} {
			_, in, err := validate(t, `{"user": "x", "`+key+`": `+v+`}`)
			require.Error(t, err, "%s=%s", key, v)
			assert.Contains(t, err.Error(), "internal argument "+key)
			assert.True(t, in.CheckMode, "until refused, a garbled flag means check mode")
		}
	}
	_, in, err := validate(t, `{"_ansible_check_mode": "no", "_ansible_diff": 1}`)
	require.NoError(t, err)
	assert.False(t, in.CheckMode)
	assert.True(t, in.Diff)
}

func TestIntsAreBounded(t *testing.T) {
	for _, v := range []string{`18446744074`, `"18446744074"`, `99999999999999999999999`, `1e30`, `-3000000000`, `"99999999999999999999999"`} {
		_, _, err := validate(t, `{"timeout": `+v+`}`)
		require.Error(t, err, v)
		assert.Contains(t, err.Error(), "option timeout")
		assert.Contains(t, err.Error(), "out of range", v)
	}
	p, _, err := validate(t, `{"timeout": 2147483647}`)
	require.NoError(t, err)
	assert.Equal(t, 2147483647, p.Int("timeout"))
}

func TestInvalidUTF8IsRefusedByName(t *testing.T) {
	for name, args := range map[string]string{
		"lone low surrogate":  `{"password": "ab\udc80cd"}`,
		"lone high surrogate": `{"password": "ab\ud800cd"}`,
		"high then not low":   `{"password": "ab\ud800\u0041"}`,
		"raw invalid byte":    "{\"password\": \"ab\xffcd\"}",
		"in a list":           `{"tags": ["ok", "x\udcff"]}`,
		"in a sub-option":     `{"items": [{"name": "a", "secret": "\udcc3\udca9"}]}`,
	} {
		raw, err := DecodeArgs([]byte(args))
		require.NoError(t, err, name)
		_, _, err = Validate(testSpec, raw)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "is not valid UTF-8", name)
		assert.NotContains(t, err.Error(), "\ufffd", name)
		assert.NotContains(t, err.Error(), "ab", name)
	}
	for name, args := range map[string]string{
		"surrogate pair": `{"password": "\ud83d\ude00 ok"}`,
		"escaped U+FFFD": `{"password": "\ufffd"}`,
		"plain unicode":  `{"password": "pässwörd"}`,
		"escaped quote":  `{"password": "a\"\\udc80"}`,
	} {
		raw, err := DecodeArgs([]byte(args))
		require.NoError(t, err, name)
		_, _, err = Validate(testSpec, raw)
		require.NoError(t, err, name)
	}
	raw, err := DecodeArgs([]byte(`{"\udc80x": 1}`))
	require.NoError(t, err)
	_, _, err = Validate(testSpec, raw)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "(a name that is not valid UTF-8)")
}

func TestSecretValuesOfDictsGivenAsStrings(t *testing.T) {
	raw, err := DecodeArgs([]byte(`{"items": ["name=a secret=from-kv-string", "{\"name\": \"b\", \"secret\": \"from-json-string\"}"]}`))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"from-kv-string", "from-json-string"}, SecretValues(testSpec, raw))
}

func TestUnknownOptionsAreRefusedButInternalKeysIgnored(t *testing.T) {
	p, in, err := validate(t, `{"user": "x", "_ansible_check_mode": true, "_ansible_diff": "yes", "_ansible_verbosity": 4, "_ansible_some_future_key": {"a": 1}}`)
	require.NoError(t, err)
	assert.Equal(t, "x", p.String("user"))
	assert.True(t, in.CheckMode)
	assert.True(t, in.Diff)
	assert.Equal(t, 4, in.Verbosity)

	_, _, err = validate(t, `{"user": "x", "colour": "red", "size": 1}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Unsupported parameters for (test.module) module: colour, size.")
	assert.Contains(t, err.Error(), "user (username)")
}

// An unknown key names the entry it is in and the closest valid name, in
// one line.
func TestUnknownKeysSayWhatWasMeant(t *testing.T) {
	_, _, err := validate(t, `{"items": [{"name": "a"}, {"name": "b"}, {"name": "ex-staff", "Secert": "x", "kinds": "a"}]}`)
	require.Error(t, err)
	assert.Equal(t, "items[2] (ex-staff): unsupported parameters Secert (did you mean secret?), kinds (did you mean kind?). Supported parameters include: kind, name (title), secret.", err.Error())

	_, _, err = validate(t, `{"items": [{"title": "by-alias", "nmae": "x"}]}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "items[0] (by-alias): unsupported parameter nmae (did you mean name?)", "named by the alias too")

	_, _, err = validate(t, `{"usre": "x", "initial_password": "y", "colour": "red"}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Unsupported parameters for (test.module) module: colour, initial_password (did you mean password?), usre (did you mean user?).")

	for _, name := range []string{"x y", "a(b)", strings.Repeat("n", 81), "tab\there", ""} {
		raw := map[string]any{"items": []any{map[string]any{"name": name, "extra": 1}}}
		_, _, err := Validate(testSpec, raw)
		require.Error(t, err)
		if name == "x y" {
			assert.Contains(t, err.Error(), "items[0] (x y): unsupported parameter extra")
			continue
		}
		assert.Contains(t, err.Error(), "items[0]: unsupported parameter extra", "%q is not shown as a name", name)
	}

	many := map[string]any{}
	for i := range 1000 {
		many[fmt.Sprintf("unknown-%04d", i)] = 1
	}
	_, _, err = Validate(testSpec, many)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown-0019, and 980 more.")
}

func TestClosestName(t *testing.T) {
	names := []string{"displayname", "avatar_url", "user", "username", "password", "update_password", "locked", "admin"}
	for unknown, want := range map[string]string{
		"display_name": "displayname", "DisplayName": "displayname", "avatar-url": "avatar_url", "update-password": "update_password",
		"pasword": "password", "usr": "user", "initial_password": "password", "admn": "admin",
		"colour": "", "x": "", "state": "", strings.Repeat("a", 100): "",
	} {
		assert.Equal(t, want, closestName(unknown, names), unknown)
	}
	assert.Equal(t, 3, editDistance("kitten", "sitting"))
	assert.Equal(t, 1, editDistance("usre", "user"), "a swap is one typo")
	assert.Equal(t, 1, editDistance("ab", "ba"))
	assert.Equal(t, 0, editDistance("", ""))
	assert.Equal(t, 2, editDistance("äb", "a"))
}

func TestAliases(t *testing.T) {
	p, _, err := validate(t, `{"username": "x"}`)
	require.NoError(t, err)
	assert.Equal(t, "x", p.String("user"))
	_, _, err = validate(t, `{"username": "x", "user": "y"}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "same option")
}

func TestChoices(t *testing.T) {
	_, _, err := validate(t, `{"state": "gone"}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `option state: value must be one of present, absent, got "gone"`)
}

func TestListsAndSubOptions(t *testing.T) {
	p, _, err := validate(t, `{"items": [{"name": "one", "kind": "a"}, {"name": "two"}]}`)
	require.NoError(t, err)
	items := p.List("items")
	require.Len(t, items, 2)
	assert.Equal(t, "one", items[0].String("name"))
	assert.Equal(t, "two", items[1].String("name"))

	p, _, err = validate(t, `{"tags": "a,b"}`)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, p.Strings("tags"), "a comma string becomes a list, as in Ansible")

	_, _, err = validate(t, `{"items": [{"kind": "c", "extra": 1}, "oops", null]}`)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "items[0]: missing required option name")
	assert.Contains(t, msg, "items[0]: unsupported parameter extra. Supported parameters include: kind, name (title), secret.")
	assert.Contains(t, msg, `option items[0].kind: value must be one of a, b, got "c"`)
	assert.Contains(t, msg, "option items[1]: expected a dict, got a string")

	_, _, err = validate(t, `{"items": "oops"}`)
	require.Error(t, err)
}

func TestMutuallyExclusive(t *testing.T) {
	_, _, err := validate(t, `{"user": "x", "items": [{"name": "a"}]}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "options user, items are mutually exclusive")
}

func TestDictFromString(t *testing.T) {
	p, _, err := validate(t, `{"labels": "a=1 b=2"}`)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": "1", "b": "2"}, p.values["labels"])
	p, _, err = validate(t, `{"labels": "{\"a\": 1}"}`)
	require.NoError(t, err)
	assert.Contains(t, p.values["labels"], "a")
}

func TestSecretValuesAtAnyDepth(t *testing.T) {
	raw, err := DecodeArgs([]byte(`{"password": "top-secret", "items": [{"name": "a", "secret": "nested-secret"}]}`))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"top-secret", "nested-secret"}, SecretValues(testSpec, raw))
}

func TestArgsFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	for name, tc := range map[string]struct{ path, want string }{
		"no path":   {"", "no args file given"},
		"missing":   {filepath.Join(dir, "nope"), "cannot read the args file"},
		"empty":     {write("empty", "  \n"), "is empty"},
		"not json":  {write("bad", `{"password": "hunter2-secret"`), "not valid JSON"},
		"array":     {write("array", `[1,2]`), "holds a JSON array"},
		"string":    {write("string", `"x"`), "holds a JSON string"},
		"two":       {write("two", `{} {}`), "more than one JSON value"},
		"directory": {dir, "cannot read the args file"},
	} {
		_, err := ReadArgsFile(tc.path)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.NotContains(t, err.Error(), "hunter2", "an error never quotes the args file")
	}
}

func TestWriteScrubsSecrets(t *testing.T) {
	var buf bytes.Buffer
	r := Result{Failed: true, Msg: "server said: bad password s3cret-value here (about it)", Warnings: []string{"s3cret-value"}}
	r.Set("nested", map[string]any{"list": []any{"x s3cret-value y"}, "s3cret-value": 1})
	require.NoError(t, Write(&buf, r, []string{"s3cret-value", "", "ab"}))
	out := buf.String()
	assert.Equal(t, 1, strings.Count(out, "s3cret-value"), "only the key keeps it: keys are never rewritten")
	assert.Contains(t, out, `"s3cret-value":1`)
	assert.Contains(t, out, "********")
	assert.Contains(t, out, "about", "a short secret inside a word is left alone")
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &decoded))
	assert.Equal(t, true, decoded["failed"])
	assert.Equal(t, 1, strings.Count(out, "\n"), "one line of JSON")
}
