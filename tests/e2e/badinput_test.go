package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// badInputs are arguments each module must refuse before sending a single
// request, with a message that names the option and the rule. The proxy in
// front of Synapse counts the requests to prove it.
var badInputs = []struct {
	name   string
	module string
	args   map[string]any
	want   []string
}{
	{"unknown option", "matrix_user", map[string]any{"user": "a", "colour": "red"}, []string{"Unsupported parameters", "colour"}},
	{"admin not a boolean", "matrix_user", map[string]any{"user": "a", "admin": "maybe"}, []string{"option admin", `"maybe" is not a valid boolean`}},
	{"timeout not a number", "matrix_user", map[string]any{"user": "a", "timeout": "x"}, []string{"option timeout", "not a whole number"}},
	{"timeout zero", "matrix_user", map[string]any{"user": "a", "timeout": 0}, []string{"option timeout", "at least 1"}},
	{"retries negative", "matrix_user", map[string]any{"user": "a", "retries": -1}, []string{"option retries"}},
	{"timeout that wraps as a Duration", "matrix_user", map[string]any{"user": "a", "timeout": 18446744074}, []string{"option timeout", "at most 3600"}},
	{"timeout over an hour", "matrix_user", map[string]any{"user": "a", "timeout": 3601}, []string{"option timeout", "at most 3600"}},
	{"timeout beyond int64", "matrix_user", map[string]any{"user": "a", "timeout": json.Number("99999999999999999999999")}, []string{"option timeout", "at most 3600"}},
	{"concurrency beyond int32", "matrix_user", map[string]any{"users": []any{map[string]any{"user": "a"}}, "concurrency": 4294967297}, []string{"option concurrency", "at least 1 and at most 64"}},
	{"check mode not a boolean", "matrix_user", map[string]any{"user": "a", "_ansible_check_mode": "maybe"}, []string{"_ansible_check_mode", "boolean"}},
	{"diff mode not a boolean", "matrix_user_admin", map[string]any{"user": "a", "admin": false, "_ansible_diff": "perhaps"}, []string{"_ansible_diff", "boolean"}},
	{"users a string", "matrix_user", map[string]any{"users": "john"}, []string{"option users[0]", "expected a dict"}},
	{"users entry not a dict", "matrix_user", map[string]any{"users": []any{"john"}}, []string{"option users[0]", "expected a dict"}},
	{"missing user", "matrix_user", map[string]any{"password": "missing-user-pw"}, []string{"one of these options is required: user, users"}},
	{"user and users", "matrix_user", map[string]any{"user": "a", "users": []any{map[string]any{"user": "b"}}}, []string{"mutually exclusive"}},
	{"entry without user", "matrix_user", map[string]any{"users": []any{map[string]any{"password": "entry-no-user"}}}, []string{"users[0]: missing required option user"}},
	{"localpart with spaces", "matrix_user", map[string]any{"user": "john smith"}, []string{"option user", "may only contain a-z, 0-9"}},
	{"localpart with a colon", "matrix_user", map[string]any{"user": "john:smith"}, []string{"option user", "may not contain ':'"}},
	{"localpart all digits", "matrix_user", map[string]any{"user": "12345"}, []string{"option user", "all digits"}},
	{"localpart with unicode", "matrix_user", map[string]any{"user": "jöhn"}, []string{"option user", "may only contain"}},
	{"empty user", "matrix_user", map[string]any{"user": ""}, []string{"option user", "empty"}},
	{"full ID over 255 bytes", "matrix_user", map[string]any{"user": "@" + strings.Repeat("a", 250) + ":test.local"}, []string{"option user", "at most 255"}},
	{"full ID without server", "matrix_user", map[string]any{"user": "@john"}, []string{"option user", "@localpart:server.name"}},
	{"another server", "matrix_user", map[string]any{"user": "@john:other.example", "server_name": "test.local"}, []string{"another server", "server_name is test.local"}},
	{"URL without scheme", "matrix_user", map[string]any{"user": "a", "homeserver_url": "matrix.example.com"}, []string{"option homeserver_url", "http:// or https://"}},
	{"URL not a URL", "matrix_user", map[string]any{"user": "a", "homeserver_url": "https://matrix.example.com/%zz"}, []string{"option homeserver_url", "not a URL"}},
	{"URL with credentials", "matrix_user", map[string]any{"user": "a", "homeserver_url": "https://admin:pw@matrix.example.com"}, []string{"option homeserver_url", "credentials"}},
	{"absent and locked", "matrix_user", map[string]any{"user": "a", "state": "absent", "locked": true}, []string{"state=absent", "cannot also be locked"}},
	{"absent with password", "matrix_user", map[string]any{"user": "a", "state": "absent", "password": "absent-pw-1"}, []string{"state=absent", "password"}},
	{"unknown state", "matrix_user", map[string]any{"user": "a", "state": "gone"}, []string{"option state", "present, absent"}},
	{"always without password", "matrix_user", map[string]any{"user": "a", "update_password": "always"}, []string{"update_password=always needs a password"}},
	{"empty password", "matrix_user", map[string]any{"user": "a", "password": ""}, []string{"password may not be empty"}},
	{"password too long", "matrix_user", map[string]any{"user": "a", "password": strings.Repeat("p", 513)}, []string{"option password", "at most 512"}},
	{"erase while present", "matrix_user", map[string]any{"user": "a", "erase": true}, []string{"erase applies only with state=absent"}},
	{"threepid without medium", "matrix_user", map[string]any{"user": "a", "threepids": []any{map[string]any{"address": "a@example.com"}}}, []string{"threepids[0]: missing required option medium"}},
	{"threepid unknown medium", "matrix_user", map[string]any{"user": "a", "threepids": []any{map[string]any{"medium": "fax", "address": "1"}}}, []string{"medium", "email, msisdn"}},
	{"email not an email", "matrix_user", map[string]any{"user": "a", "threepids": []any{map[string]any{"medium": "email", "address": "not-an-email"}}}, []string{"threepids[0]", "not an email address"}},
	{"external id without provider", "matrix_user", map[string]any{"user": "a", "external_ids": []any{map[string]any{"external_id": "x"}}}, []string{"missing required option auth_provider"}},
	{"avatar not mxc", "matrix_user", map[string]any{"user": "a", "avatar_url": "https://example.com/a.png"}, []string{"option avatar_url", "mxc://"}},
	{"duplicate users", "matrix_user", map[string]any{"users": []any{map[string]any{"user": "John"}, map[string]any{"user": "@john:test.local"}}}, []string{"both declare the user john"}},
	{"per-user option with users", "matrix_user", map[string]any{"users": []any{map[string]any{"user": "a"}}, "admin": true}, []string{"option admin is per user"}},
	{"concurrency too high", "matrix_user", map[string]any{"users": []any{map[string]any{"user": "a"}}, "concurrency": 500}, []string{"option concurrency"}},
	{"exclusive without users", "matrix_user", map[string]any{"user": "a", "exclusive": true}, []string{"option exclusive needs users"}},
	{"protect bad pattern", "matrix_user", map[string]any{"users": []any{map[string]any{"user": "a"}}, "protect": []any{"bot-["}}, []string{"option protect", "not a valid pattern"}},
	{"admin_user without password", "matrix_user", map[string]any{"user": "a", "admin_user": "admin", "admin_token": nil}, []string{"must be given together"}},
	{"token and login", "matrix_user", map[string]any{"user": "a", "admin_user": "admin", "admin_password": "login-pw-1"}, []string{"mutually exclusive"}},
	{"no auth option", "matrix_user", map[string]any{"user": "a", "admin_token": nil}, []string{"no way to authenticate", "admin_token", "registration_shared_secret"}},
	{"absent with shared secret only", "matrix_user", map[string]any{"user": "a", "state": "absent", "admin_token": nil, "registration_shared_secret": "some-shared-secret", "service_account": ""}, []string{"state=absent needs admin_token"}},
	{"ca_path missing", "matrix_user", map[string]any{"user": "a", "ca_path": "/nonexistent/ca.pem"}, []string{"ca_path", "cannot read"}},
	{"admin module: missing admin", "matrix_user_admin", map[string]any{"user": "a"}, []string{"missing required option admin"}},
	{"admin module: bad boolean", "matrix_user_admin", map[string]any{"user": "a", "admin": "perhaps"}, []string{"option admin", "not a valid boolean"}},
	{"admin module: shared secret only", "matrix_user_admin", map[string]any{"user": "a", "admin": true, "admin_token": nil, "registration_shared_secret": "some-shared-secret", "service_account": ""}, []string{"admin_token", "admin_user"}},
	{"admin module: bad localpart", "matrix_user_admin", map[string]any{"user": "Jo Hn", "admin": true}, []string{"option user", "may only contain"}},
	// Values that are never meant as text (AnsibleModule would make them
	// "True", "['a', 'b']", "{'a': 1}"): a YAML yes/no/on/off, a list, a dict.
	{"user a boolean", "matrix_user", map[string]any{"user": true}, []string{"option user: expected a string, got the boolean true", "quote the value"}},
	{"username a boolean (off)", "matrix_user", map[string]any{"username": false}, []string{"option username: expected a string, got the boolean false"}},
	{"password a list", "matrix_user", map[string]any{"user": "a", "password": []any{"a", "b"}}, []string{"option password: expected a string, got a list", "quote the whole value"}},
	{"password a boolean", "matrix_user", map[string]any{"user": "a", "password": true}, []string{"option password: expected a string, got a boolean"}},
	{"displayname a dict", "matrix_user", map[string]any{"user": "a", "displayname": map[string]any{"a": 1}}, []string{"option displayname: expected a string, got a dict"}},
	{"entry user a boolean", "matrix_user", map[string]any{"users": []any{map[string]any{"user": "ok"}, map[string]any{"username": true}}}, []string{"option users[1].username: expected a string, got the boolean true"}},
	{"entry password a list", "matrix_user", map[string]any{"users": []any{map[string]any{"user": "eve", "password": []any{"a"}}}}, []string{"option users[0] (eve).password: expected a string, got a list"}},
	{"protect element a boolean", "matrix_user", map[string]any{"users": []any{map[string]any{"user": "a"}}, "protect": []any{"bot-*", true}}, []string{"option protect[1]: expected a string, got the boolean true"}},
	{"homeserver_url a list", "matrix_user", map[string]any{"user": "a", "homeserver_url": []any{"http://x"}}, []string{"option homeserver_url: expected a string, got a list"}},
	{"admin module: user a boolean", "matrix_user_admin", map[string]any{"user": true, "admin": true}, []string{"option user: expected a string, got the boolean true"}},
	// A mistyped key: the entry, the key and the closest valid name.
	{"entry key mistyped", "matrix_user", map[string]any{"users": []any{map[string]any{"user": "a"}, map[string]any{"user": "b"}, map[string]any{"user": "ex-staff", "display_name": "X"}}},
		[]string{"users[2] (ex-staff): unsupported parameter display_name (did you mean displayname?). Supported parameters include: "}},
	{"option mistyped", "matrix_user", map[string]any{"user": "a", "pasword": "typo-pass-1"}, []string{"Unsupported parameters for (mxadmin.synapse.matrix_user) module: pasword (did you mean password?)."}},
}

func TestBadInputRefusedBeforeAnyRequest(t *testing.T) {
	f := newFixture(t)
	for _, tc := range badInputs {
		t.Run(tc.name, func(t *testing.T) {
			args := f.args(nil)
			for k, v := range tc.args {
				if v == nil {
					delete(args, k)
				} else {
					args[k] = v
				}
			}
			f.proxy.Reset()
			r := runModule(t, tc.module, args)
			requireCleanFailure(t, r, tc.want...)
			assert.Empty(t, f.proxy.Requests(), "refused before any request")
		})
	}
}

// TestNumbersForStringsAreTheirTextWithAWarning: a number given for a string
// option is converted as AnsibleModule converts it, and said as Ansible said
// it (2.8 to 2.10), since YAML reads an unquoted 0123 as 83; a secret's value
// is not shown.
func TestNumbersForStringsAreTheirTextWithAWarning(t *testing.T) {
	f := newFixture(t)
	name := uniqueUser("number")
	recordSecrets("31415926")
	r := f.run(t, map[string]any{"user": name, "password": 31415926, "displayname": json.Number("1.10")}).mustSucceed(t)
	assert.Contains(t, r.warnings(), `option displayname: the value 1.10 (type float) was converted to "1.10" (type string); if this does not look like what you expect, quote the entire value to ensure it does not change (YAML reads an unquoted 0123 as 83 and 1.10 as 1.1)`)
	assert.Contains(t, r.warnings(), "option password: a number (type int) was converted to a string; if this does not look like what you expect, quote the entire value to ensure it does not change (YAML reads an unquoted 0123 as 83 and 1.10 as 1.1)")
	assert.Equal(t, "1.10", f.read(t, name)["displayname"])
	_, err := f.srv.Login(name, "31415926")
	require.NoError(t, err)

	r = f.run(t, map[string]any{"users": []any{map[string]any{"user": name, "displayname": 7}}}).mustSucceed(t)
	assert.Contains(t, r.warnings(), `option users[0] (`+name+`).displayname: the value 7 (type int) was converted to "7" (type string); if this does not look like what you expect, quote the entire value to ensure it does not change (YAML reads an unquoted 0123 as 83 and 1.10 as 1.1)`)
	assert.Equal(t, "7", f.read(t, name)["displayname"])
}

// TestBadInputInvalidUTF8 writes args files by hand: Python's json writes a
// byte it could not decode as a lone surrogate escape (\udcXX), which Go
// would quietly read as U+FFFD. The option is refused by name instead, and
// its value is never shown.
func TestBadInputInvalidUTF8(t *testing.T) {
	f := newFixture(t)
	for name, tc := range map[string]struct{ module, json, want string }{
		"password with a lone surrogate":  {"matrix_user", `"user": "a", "password": "utf8-pass-\udce9-x"`, "option password: is not valid UTF-8"},
		"password with a raw bad byte":    {"matrix_user", "\"user\": \"a\", \"password\": \"utf8-pass-\xe9-x\"", "option password: is not valid UTF-8"},
		"display name with a surrogate":   {"matrix_user", `"user": "a", "displayname": "Jos\udce9"`, "option displayname: is not valid UTF-8"},
		"entry user with a surrogate":     {"matrix_user", `"users": [{"user": "b\udcff"}]`, "option users[0].user: is not valid UTF-8"},
		"admin module user":               {"matrix_user_admin", `"user": "\ud800", "admin": true`, "option user: is not valid UTF-8"},
		"token with a surrogate (no_log)": {"matrix_user", `"user": "a", "admin_token": "utf8-tok-\udc80"`, "option admin_token: is not valid UTF-8"},
	} {
		t.Run(name, func(t *testing.T) {
			content := `{"_mxadmin_module": "` + tc.module + `", "homeserver_url": "` + f.proxy.URL + `", ` + tc.json + `}`
			if !strings.Contains(tc.json, "admin_token") {
				content = strings.Replace(content, `"homeserver_url"`, `"admin_token": "`+f.token+`", "homeserver_url"`, 1)
			}
			path := filepath.Join(t.TempDir(), "args")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			f.proxy.Reset()
			r := runBinary(t, path)
			requireCleanFailure(t, r, tc.want)
			assert.NotContains(t, r.Stdout, "utf8-pass", "the value is never shown")
			assert.NotContains(t, r.Stdout, "utf8-tok")
			assert.NotContains(t, r.Stdout, "\ufffd")
			assert.Empty(t, f.proxy.Requests(), "refused before any request")
		})
	}
}

func TestBadArgsFiles(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		content *string
		want    string
	}{
		"missing":       {nil, "cannot read the args file"},
		"empty":         {ptr(""), "the args file is empty"},
		"not JSON":      {ptr(`{"user": "a", "password": "oops-not-json`), "not valid JSON"},
		"JSON array":    {ptr(`["user", "a"]`), "holds a JSON array"},
		"JSON string":   {ptr(`"user=a"`), "holds a JSON string"},
		"JSON null":     {ptr(`null`), "holds a JSON null"},
		"two objects":   {ptr(`{} {}`), "more than one JSON value"},
		"no module key": {ptr(`{"user": "a"}`), "started by their action plugins"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if tc.content != nil {
			require.NoError(t, os.WriteFile(path, []byte(*tc.content), 0o600))
		}
		r := runBinary(t, path)
		requireCleanFailure(t, r, tc.want)
		assert.NotContains(t, r.Stdout, "oops-not-json", "%s: the args file is never echoed", name)
		assert.NotEqual(t, 0, r.Exit)
	}
}

func ptr(s string) *string { return &s }

// TestArgsFileIsReadOnceAndNotCopied gives the module its args through a
// named pipe, which can be read exactly once, and runs it with empty
// working, home and temp directories, which must stay empty.
func TestArgsFileIsReadOnceAndNotCopied(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "args")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		_, _ = w.Write([]byte(`{"_mxadmin_module": "matrix_user", "homeserver_url": "` + f.proxy.URL + `", "admin_token": "` + f.token + `", "user": "` + uniqueUser("fifo") + `", "password": "fifo-pass-1"}`))
	}()
	home, tmp, cwd := t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("TMPDIR", tmp)
	old, err := os.Getwd()
	require.NoError(t, err)
	require.NoError(t, os.Chdir(cwd))
	defer func() { _ = os.Chdir(old) }()
	r := runBinary(t, fifo)
	recordSecrets("fifo-pass-1")
	require.False(t, r.failed(), r.Stdout)
	assert.True(t, r.changed())
	for _, d := range []string{home, tmp, cwd} {
		entries, err := os.ReadDir(d)
		require.NoError(t, err)
		assert.Empty(t, entries, "the module wrote nothing to %s", d)
	}
}
