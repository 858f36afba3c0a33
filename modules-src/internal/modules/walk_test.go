package modules

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
	"github.com/mxadmin/synapse/modules-src/internal/wiretest"
)

// fieldWire is, for one field of the fields table, a value a task declares
// and what Synapse keeps of it, and the request that sets it. It is written
// here by hand, not derived from the table: the walk below holds the table
// (and the option, the decoding, the planner, the apply step and the
// client) to it.
type fieldWire struct {
	// option is the value the task gives; stored is how Synapse's answers
	// carry it once set.
	option, stored any
	// method and path are the request that sets it (the user is @walk:test);
	// body is what its JSON body holds: a key of the modify PUT, or the
	// body of an endpoint of its own.
	method, path string
	body         map[string]any
}

const walkUser = "@walk:test"

// wired is every field's wiring; TestEveryFieldIsWired fails for a field
// of the table that is not here.
var wired = map[string]fieldWire{
	"password": {option: "walk-password-1", method: http.MethodPut, path: "/_synapse/admin/v2/users/" + walkUser,
		body: map[string]any{"password": "walk-password-1"}},
	"displayname": {option: "Walk", stored: "Walk", method: http.MethodPut, path: "/_synapse/admin/v2/users/" + walkUser,
		body: map[string]any{"displayname": "Walk"}},
	"threepids": {option: []any{map[string]any{"medium": "email", "address": "Walk@Example.com"}},
		stored: []any{map[string]any{"medium": "email", "address": "walk@example.com"}},
		method: http.MethodPut, path: "/_synapse/admin/v2/users/" + walkUser,
		body: map[string]any{"threepids": []any{map[string]any{"medium": "email", "address": "walk@example.com"}}}},
	"external_ids": {option: []any{map[string]any{"auth_provider": "oidc", "external_id": "walk"}},
		stored: []any{map[string]any{"auth_provider": "oidc", "external_id": "walk"}},
		method: http.MethodPut, path: "/_synapse/admin/v2/users/" + walkUser,
		body: map[string]any{"external_ids": []any{map[string]any{"auth_provider": "oidc", "external_id": "walk"}}}},
	"avatar_url": {option: "mxc://test/walk", stored: "mxc://test/walk", method: http.MethodPut, path: "/_synapse/admin/v2/users/" + walkUser,
		body: map[string]any{"avatar_url": "mxc://test/walk"}},
	"admin": {option: true, stored: true, method: http.MethodPut, path: "/_synapse/admin/v2/users/" + walkUser,
		body: map[string]any{"admin": true}},
	"locked": {option: true, stored: true, method: http.MethodPut, path: "/_synapse/admin/v2/users/" + walkUser,
		body: map[string]any{"locked": true}},
	"user_type": {option: "bot", stored: "bot", method: http.MethodPut, path: "/_synapse/admin/v2/users/" + walkUser,
		body: map[string]any{"user_type": "bot"}},
	"ratelimit": {option: map[string]any{"messages_per_second": 0, "burst_count": 0},
		stored: map[string]any{"messages_per_second": 0.0, "burst_count": 0.0},
		method: http.MethodPost, path: "/_synapse/admin/v1/users/" + walkUser + "/override_ratelimit",
		body: map[string]any{"messages_per_second": 0.0, "burst_count": 0.0}},
	"shadow_banned": {option: true, stored: true, method: http.MethodPost, path: "/_synapse/admin/v1/users/" + walkUser + "/shadow_ban"},
	"suspended": {option: true, stored: true, method: http.MethodPut, path: "/_synapse/admin/v1/suspend/" + walkUser,
		body: map[string]any{"suspend": true}},
}

// walkSynapse is a fake Synapse that keeps one account as its answers
// show it: what the walk needs to run matrix_user against it end to end,
// in process. Its answers are Synapse's shapes; that Synapse itself
// behaves so is the e2e suite's proof.
type walkSynapse struct {
	*wiretest.Server
	mu        sync.Mutex
	user      map[string]any // nil: @walk:test does not exist
	hash      string         // the stored password hash
	ratelimit map[string]any // the override, as GET answers it
}

func newWalkSynapse(t *testing.T) *walkSynapse {
	s := &walkSynapse{Server: fakeSynapse(t)}
	userPath := "/_synapse/admin/v2/users/" + walkUser
	s.Handle(http.MethodGet, userPath, func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.user == nil {
			wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_NOT_FOUND", "error": "User not found"})
			return
		}
		wiretest.WriteJSON(w, http.StatusOK, s.user)
	})
	s.Handle(http.MethodPut, userPath, func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		defer s.mu.Unlock()
		status := http.StatusOK
		if s.user == nil {
			s.user, status = newWalkUser(), http.StatusCreated
		}
		for k, v := range body {
			switch k {
			case "password":
				h, _ := bcrypt.GenerateFromPassword([]byte(v.(string)), bcrypt.MinCost)
				s.hash = string(h)
			case "logout_devices":
			default:
				s.user[k] = v
			}
		}
		wiretest.WriteJSON(w, status, s.user)
	})
	s.Handle(http.MethodGet, "/_synapse/admin/v2/users", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		users := []any{map[string]any{"name": "@admin:test", "admin": true, "locked": false}}
		if s.user != nil {
			listed := maps.Clone(s.user)
			delete(listed, "threepids") // the list carries none of these
			delete(listed, "external_ids")
			delete(listed, "suspended")
			users = append(users, listed)
		}
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"users": users, "total": len(users)})
	})
	own := "/_synapse/admin/v1/users/" + walkUser
	s.Handle(http.MethodGet, own+"/override_ratelimit", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		wiretest.WriteJSON(w, http.StatusOK, maps.Clone(s.ratelimit))
	})
	s.Handle(http.MethodPost, own+"/override_ratelimit", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ratelimit = body
		wiretest.WriteJSON(w, http.StatusOK, body)
	})
	for method, ban := range map[string]bool{http.MethodPost: true, http.MethodDelete: false} {
		s.Handle(method, own+"/shadow_ban", func(w http.ResponseWriter, _ *http.Request) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.user["shadow_banned"] = ban
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
		})
	}
	s.Handle(http.MethodGet, "/_synapse/admin/v1/suspend/@admin:test", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusMethodNotAllowed, map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
	})
	s.Handle(http.MethodPut, "/_synapse/admin/v1/suspend/"+walkUser, func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.user["suspended"] = body["suspend"]
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	s.Handle(http.MethodGet, "/_synapse/admin/v1/username_available", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"available": s.user == nil})
	})
	s.Handle(http.MethodGet, "/_synapse/admin/v2/users/@admin:test", func(w http.ResponseWriter, _ *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"name": "@admin:test", "admin": true, "locked": false, "threepids": []any{}, "external_ids": []any{}})
	})
	s.Handle(http.MethodGet, "/_synapse/admin/v1/search_users/@admin:test", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		wiretest.WriteJSON(w, http.StatusOK, []any{map[string]any{"name": walkUser, "password_hash": s.hash}})
	})
	return s
}

// newWalkUser is a new account as Synapse answers it: every field at its
// default, the localpart as display name.
func newWalkUser() map[string]any {
	return map[string]any{"name": walkUser, "displayname": "walk", "avatar_url": nil, "admin": false, "deactivated": false,
		"erased": false, "locked": false, "is_guest": false, "user_type": nil, "appservice_id": nil,
		"shadow_banned": false, "suspended": false, "threepids": []any{}, "external_ids": []any{}}
}

// writes are the requests that are not reads.
func (s *walkSynapse) writes() []wiretest.Request {
	var out []wiretest.Request
	for _, r := range s.Writes() {
		if r.Path != "/_matrix/client/v3/logout" {
			out = append(out, r)
		}
	}
	return out
}

// TestEveryFieldIsWired walks every field of the fields table from the
// option a task gives, in the single form and as an entry of users, to the
// request that sets it on an existing account and after a create, and
// proves that an account that already has the value gets no request at
// all (the field is read, and compared, as Synapse reports it). Unwire a
// field anywhere (its option, its decoding, its table entry, its body key
// or endpoint, its read) and this fails.
func TestEveryFieldIsWired(t *testing.T) {
	var names []string
	for _, f := range reconcile.Fields() {
		names = append(names, f.Name)
		if _, ok := wired[f.Name]; !ok {
			t.Errorf("field %s has no wiring in this test: add what it sets to wired", f.Name)
		}
	}
	for name := range wired {
		assert.Contains(t, names, name, "wired names a field the table does not have")
	}
	for _, name := range names {
		w, ok := wired[name]
		if !ok {
			continue
		}
		for _, batch := range []bool{false, true} {
			form := "single"
			if batch {
				form = "users"
			}
			t.Run(name+"/"+form, func(t *testing.T) {
				args := func() map[string]any {
					user := map[string]any{"user": "walk", name: w.option}
					if name == "password" {
						user["update_password"] = "always"
					}
					if !batch {
						return maps.Clone(user)
					}
					return map[string]any{"users": []any{user}}
				}
				// An existing account without the value: one request sets it.
				s := newWalkSynapse(t)
				s.user = newWalkUser()
				s.hash = hashOf(t, "another-password")
				runWalk(t, s, args())
				requireWrites(t, s, w, false)

				// An account that has it: nothing is sent.
				s = newWalkSynapse(t)
				s.user = newWalkUser()
				s.hash = hashOf(t, "walk-password-1")
				switch {
				case name == "ratelimit":
					s.ratelimit = w.stored.(map[string]any)
				case w.stored != nil:
					s.user[name] = w.stored
				}
				runWalk(t, s, args())
				assert.Empty(t, s.writes(), "an account that has the declared value gets no write")

				// No account: the create carries nothing, then the rest.
				s = newWalkSynapse(t)
				runWalk(t, s, args())
				requireWrites(t, s, w, true)
			})
		}
	}
}

func hashOf(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	return string(h)
}

// runWalk runs matrix_user with args against s, as Main does.
func runWalk(t *testing.T, s *walkSynapse, args map[string]any) {
	t.Helper()
	args["homeserver_url"] = s.URL()
	args["admin_token"] = "walk-token"
	args["server_name"] = "test"
	args["retries"] = 0
	m := served["matrix_user"]
	p, _, err := ansible.Validate(m.fullSpec(), args)
	require.NoError(t, err)
	s.Reset()
	res := m.run(context.Background(), p, Run{})
	require.False(t, res.Failed, "%s", res.Msg)
}

// requireWrites checks that the writes were exactly the field's request
// (after the empty create when created).
func requireWrites(t *testing.T, s *walkSynapse, w fieldWire, created bool) {
	t.Helper()
	writes := s.writes()
	if created {
		require.NotEmpty(t, writes)
		assert.Equal(t, "PUT /_synapse/admin/v2/users/"+walkUser, writes[0].String())
		assert.Empty(t, writes[0].JSON(), "a create carries nothing")
		writes = writes[1:]
	}
	require.Len(t, writes, 1, "one request sets the field: %v", writes)
	got := writes[0]
	assert.Equal(t, w.method+" "+w.path, got.String())
	body := got.JSON()
	for k, v := range w.body {
		assert.Equal(t, v, body[k], "%s of %s", k, got)
	}
	for k := range body {
		if _, ok := w.body[k]; !ok && k != "logout_devices" {
			t.Errorf("%s carries %s, which is not the field's", got, k)
		}
	}
	if strings.Contains(w.path, "/v2/users/") && slices.Contains(slices.Collect(maps.Keys(body)), "password") {
		assert.Contains(t, body, "logout_devices", "a password goes with what it does to the sessions")
	}
}
