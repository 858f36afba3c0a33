package modules

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// FuzzModuleArgs feeds arbitrary args files through everything a module does
// before its first request: decoding, validation against each module's spec,
// and building the declarations. Whatever the input, this must end in an
// error or a run plan, never a panic, and a result that is one JSON object.
// 'make test' runs it briefly; 'make fuzz-long' runs it for ten minutes.
func FuzzModuleArgs(f *testing.F) {
	seeds := []string{
		`{"user": "john", "password": "pw", "admin_token": "t"}`,
		`{"users": [{"username": "John", "admin": "yes"}, {"user": "@john:x"}], "admin_token": "t"}`,
		`{"user": "x", "threepids": [{"medium": "email", "address": "A@B"}], "registration_shared_secret": "s"}`,
		`{"user": "x", "state": "absent", "erase": "on", "admin_user": "a", "admin_password": "p"}`,
		`{"users": "john"}`, `[]`, `{}`, `null`, `{"user": 1e400}`, `{"timeout": "x"}`,
		`{"homeserver_url": "ht!tp://[::1", "user": "a", "admin_token": "t"}`,
		`{"user": "a", "admin": true, "admin_token": "t", "_ansible_check_mode": "maybe"}`,
		`{"user": "a", "admin": null, "admin_token": "t", "users": [{"user": null, "threepids": [{"medium": null}]}]}`,
		`{"user": "a", "password": "pw\udc80", "admin_token": "token-long-enough", "timeout": 18446744074}`,
		`{"users": ["user=a password=fail-long-pw bogus=1"], "admin_token": "failed-token"}`,
		`{"users": [{"username": "a b"}], "_mxadmin_role": {"seed": true, "vars": {"users": "", "admin_token": "matrix_users_admin_token", "user": "username"}}}`,
		`{"user": "a", "_mxadmin_role": {"vars": {"user": "$1\\", "(": 3, "option": null}}}`, `{"_mxadmin_role": []}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	specs := []ansible.Spec{served["matrix_user"].fullSpec(), served["matrix_user_admin"].fullSpec(), served["matrix_user_info"].fullSpec()}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := ansible.DecodeArgs(data)
		if err != nil {
			return
		}
		// The role's internal argument, as Main takes it: its names are
		// the words of every message.
		role, err := takeRoleContext(raw)
		if err != nil {
			assertOneJSONObject(t, ansible.Fail(err.Error()), nil)
			return
		}
		words := role.Words()
		for _, spec := range specs {
			p, _, err := ansible.ValidateAs(spec, raw, words)
			if err != nil {
				assertOneJSONObject(t, ansible.Fail(err.Error()), ansible.SecretValues(spec, raw))
				continue
			}
			if spec.Module == "mxadmin.synapse.matrix_user" {
				conn, err := connectionFrom(p)
				if err == nil {
					_, err = prepareUserRun(p, &conn)
				}
				if err != nil {
					assertOneJSONObject(t, ansible.Fail(problem.Render(err, words)), ansible.SecretValues(spec, raw))
				}
			}
		}
	})
}

func assertOneJSONObject(t *testing.T, r ansible.Result, secrets []string) {
	t.Helper()
	var buf bytes.Buffer
	if err := ansible.Write(&buf, r, secrets); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	dec := json.NewDecoder(&buf)
	if err := dec.Decode(&out); err != nil || dec.More() {
		t.Fatalf("result is not one JSON object: %v", err)
	}
	if out["failed"] != true || out["msg"] == "" {
		t.Fatalf("a refusal must be failed with a msg: %v", out)
	}
	// A secret of 8 characters or more never shows in a value (one made
	// of asterisks only looks like the mask itself).
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for _, s := range secrets {
				if utf8.RuneCountInString(s) >= 8 && strings.Trim(s, "*") != "" && strings.Contains(x, s) {
					t.Fatalf("a secret shows in the result: %q", x)
				}
			}
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
	walk(out)
}

// TestMainNeverPanicsOnBadArgsFiles runs the whole binary entry point on
// broken args files: each ends in one failed JSON result.
func TestMainNeverPanicsOnBadArgsFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty": "", "not-json": "{", "array": "[1]", "no-module": `{"user": "x"}`,
		"unknown-module": `{"_mxadmin_module": "nope"}`,
		"bad-types":      `{"_mxadmin_module": "matrix_user", "user": "x", "admin": "maybe", "timeout": "x", "users": "john"}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code := Main(path, &out)
		var res map[string]any
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%s: not JSON: %q", name, out.String())
		}
		if code == 0 || res["failed"] != true || !strings.Contains(out.String(), `"msg"`) {
			t.Fatalf("%s: want a failed result, got %d %s", name, code, out.String())
		}
	}
	var out bytes.Buffer
	Main(filepath.Join(dir, "missing"), &out)
	if !strings.Contains(out.String(), "cannot read the args file") {
		t.Fatalf("missing file: %s", out.String())
	}
}
