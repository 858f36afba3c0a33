package e2e

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nullTarget is one option or sub-option that TestNullOptions sets to null.
type nullTarget struct {
	label string // users[0].threepids[0].medium
	path  []any  // keys and list indexes into the args
	key   string // the key set to null (the option's name or an alias)
	opt   specOption
}

// nullTargets walks a module's spec: every option under every name it
// accepts, and the sub-options of every list of dicts the baseline holds an
// element of. Generated from the spec, so a new option is covered without
// touching the test.
func nullTargets(opts []specOption, prefix []any, label string, base map[string]any) []nullTarget {
	var out []nullTarget
	for _, o := range opts {
		for _, key := range append([]string{o.Name}, o.Aliases...) {
			out = append(out, nullTarget{label: label + key, path: append(append([]any(nil), prefix...), key), key: key, opt: o})
		}
		if len(o.Options) == 0 {
			continue
		}
		if list, ok := base[o.Name].([]any); ok && len(list) > 0 {
			if el, ok := list[0].(map[string]any); ok {
				sub := append(append([]any(nil), prefix...), o.Name, 0)
				out = append(out, nullTargets(o.Options, sub, label+o.Name+"[0].", el)...)
			}
		}
	}
	return out
}

// withPath returns a deep copy of args with the value at path set to null,
// or removed.
func withPath(t *testing.T, args map[string]any, path []any, remove bool) map[string]any {
	t.Helper()
	data, err := json.Marshal(args)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out))
	var cur any = out
	for i, step := range path {
		last := i == len(path)-1
		switch s := step.(type) {
		case string:
			m := cur.(map[string]any)
			if last {
				if remove {
					delete(m, s)
				} else {
					m[s] = nil
				}
				return out
			}
			cur = m[s]
		case int:
			cur = cur.([]any)[s]
		}
	}
	t.Fatalf("empty path")
	return nil
}

// TestNullOptions sets every option and sub-option of both modules to null,
// one at a time, against a real Synapse, as Ansible treats a null: a
// required option, one with choices (a null is none of them) or one with a
// default (Ansible refuses a null there rather than apply the default) is
// refused before any request, and any other option behaves exactly as if
// left out. Runs are in check mode, and a refused input is run again for
// real to prove it writes nothing either.
func TestNullOptions(t *testing.T) {
	f := newFixture(t)
	plain := f.plainUser(t, "null")
	admin := f.plainUser(t, "nulladm")
	f.runAdmin(t, map[string]any{"user": admin, "admin": true}).mustSucceed(t)

	entry := func(user string) map[string]any {
		return map[string]any{
			"user": user, "state": "present", "erase": false, "password": "null-pass-" + user,
			"update_password": "on_create", "logout_devices": true, "admin": false,
			"displayname": "Null Display", "avatar_url": "mxc://test.local/nulltest", "user_type": "bot", "locked": false,
			"threepids":    []any{map[string]any{"medium": "email", "address": user + "@example.com"}},
			"external_ids": []any{map[string]any{"auth_provider": "oidc-null", "external_id": "ext-" + user}},
		}
	}
	connection := map[string]any{"server_name": f.srv.ServerName, "validate_certs": true, "timeout": 30, "retries": 0}
	single := f.args(connection)
	for k, v := range entry(plain) {
		single[k] = v
	}
	for k, v := range map[string]any{"password_pepper": "", "concurrency": 2, "exclusive": false, "protect": []any{}} {
		single[k] = v
	}
	batch := f.args(connection)
	batch["users"] = []any{entry(plain)}
	batch["update_password"] = "on_create"

	userSpec, adminSpec := moduleSpecs(t)["matrix_user"], moduleSpecs(t)["matrix_user_admin"]
	usersOpt := userSpec.option(t, "users")
	require.NotEmpty(t, usersOpt.Options)
	adminBase := f.args(map[string]any{"server_name": f.srv.ServerName, "user": admin, "admin": true})

	type nullCase struct {
		module string
		base   map[string]any
		target nullTarget
	}
	var cases []nullCase
	for _, tg := range nullTargets(userSpec.Options, nil, "", single) {
		cases = append(cases, nullCase{"matrix_user", single, tg})
	}
	for _, tg := range nullTargets(usersOpt.Options, []any{"users", 0}, "users[0].", batch["users"].([]any)[0].(map[string]any)) {
		cases = append(cases, nullCase{"matrix_user", batch, tg})
	}
	for _, tg := range nullTargets(adminSpec.Options, nil, "", adminBase) {
		cases = append(cases, nullCase{"matrix_user_admin", adminBase, tg})
	}
	// Every list of dicts must have had its sub-options walked.
	labels := map[string]bool{}
	for _, c := range cases {
		labels[c.module+":"+c.target.label] = true
	}
	for _, want := range []string{"users[0].user", "users[0].threepids[0].medium", "users[0].external_ids[0].auth_provider", "threepids[0].address", "external_ids[0].external_id"} {
		require.True(t, labels["matrix_user:"+want], "the walk covers %s", want)
	}

	check := func(args map[string]any) map[string]any {
		out := map[string]any{"_ansible_check_mode": true}
		for k, v := range args {
			out[k] = v
		}
		return out
	}
	refused, same := 0, 0
	for _, c := range cases {
		t.Run(c.module+"/"+c.target.label, func(t *testing.T) {
			null := withPath(t, c.base, c.target.path, false)
			f.proxy.Reset()
			rn := runModule(t, c.module, check(null))
			nullRequests := f.proxy.Requests()
			assert.Empty(t, f.proxy.Writes(), "check mode writes nothing")

			// Only the option's own name counts: a null alias next to a
			// given option leaves the option given.
			mustRefuse := c.target.key == c.target.opt.Name && (c.target.opt.Required || len(c.target.opt.Choices) > 0 || c.target.opt.Default != nil)
			if mustRefuse {
				requireCleanFailure(t, rn, c.target.key)
				assert.Contains(t, rn.msg(), "null")
				assert.Empty(t, nullRequests, "refused before any request")
				refused++
				// For real: still refused, still no request at all.
				f.proxy.Reset()
				real := runModule(t, c.module, null)
				requireCleanFailure(t, real, c.target.key)
				assert.Empty(t, f.proxy.Requests(), "a refused input sends nothing")
				return
			}
			f.proxy.Reset()
			rg := runModule(t, c.module, check(withPath(t, c.base, c.target.path, true)))
			assert.Equal(t, rg.Result, rn.Result, "a null %s is the same as leaving it out", c.target.label)
			assert.Len(t, nullRequests, len(f.proxy.Requests()), "the same requests")
			assert.Empty(t, f.proxy.Writes())
			same++
		})
	}
	t.Logf("%d options and sub-options set to null: %d refused before any request, %d the same as left out", len(cases), refused, same)
	require.Greater(t, refused, 5)
	require.Greater(t, same, 20)
	assert.Equal(t, true, f.read(t, admin)["admin"], "a null admin never demoted anyone")
}
