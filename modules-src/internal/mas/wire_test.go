package mas

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/wiretest"
)

// The wire tests pin, for every endpoint the client calls, the method, the
// escaped path under a base path, the query and the body. Whether MAS does
// what the request asks is proven in tests/e2e (TestWithMAS…).

const wireID = "01JABCDEFGHJKMNPQRSTVWXYZ0"

func setup(t *testing.T) (*Client, *wiretest.Server) {
	t.Helper()
	srv := wiretest.New(t)
	srv.Handle(http.MethodPost, "/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		assert.True(t, ok && user == "client-id" && pass == "client-secret", "the token grant carries the client's ID and secret")
		require.NoError(t, r.ParseForm())
		assert.Equal(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"urn:mas:admin"}}, r.PostForm)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "mat_wire", "token_type": "Bearer", "expires_in": 300, "scope": "urn:mas:admin"})
	})
	c, err := New(Config{Config: httpapi.Config{BaseURL: srv.URL(), Retries: 0, Timeout: 5 * time.Second}, ClientID: "client-id", ClientSecret: "client-secret"})
	require.NoError(t, err)
	return c, srv
}

func userJSON(username string, admin bool) map[string]any {
	return map[string]any{"data": map[string]any{"type": "user", "id": wireID, "attributes": map[string]any{
		"username": username, "admin": admin, "locked_at": nil, "deactivated_at": nil, "legacy_guest": false}}}
}

// adminCall checks what every admin API request carries.
func adminCall(t *testing.T, r *http.Request) {
	t.Helper()
	wiretest.Token(t, r, "mat_wire")
	assert.Empty(t, r.Header.Get("X-Forwarded-For"), "MAS keys its login limit on X-Forwarded-For: never sent")
}

var wired = []string{"UserByUsername", "ListUsers", "CreateUser", "SetAdmin", "Lock", "Unlock", "Deactivate", "Reactivate",
	"SetPassword", "SiteConfig", "EachUser", "EachSession", "GrantToken", "Token", "CompatLogin", "CompatLogout", "UserEmails", "AddUserEmail", "DeleteUserEmail",
	"RegistrationTokens", "CreateRegistrationToken", "UpdateRegistrationToken", "RevokeRegistrationToken", "UnrevokeRegistrationToken"}

var sendsNothing = []string{"ReadOnly", "BaseURL"}

var httpCall = regexp.MustCompile(`\b(GET|PUT|POST|DELETE) /(api/admin/v1|oauth2|_matrix/client/v3)/`)

// Every exported method has a wire test (or sends nothing), and the comment
// of every method that sends names its HTTP method and path.
func TestEveryClientMethodIsWired(t *testing.T) {
	t.Parallel()
	ty := reflect.TypeOf(&Client{})
	for i := range ty.NumMethod() {
		name := ty.Method(i).Name
		assert.True(t, slices.Contains(wired, name) || slices.Contains(sendsNothing, name), "(*Client).%s has no wire test", name)
	}
	fset := token.NewFileSet()
	for _, file := range []string{"client.go", "users.go", "compat.go", "emails.go", "sessions.go", "regtokens.go"} {
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() || !slices.Contains(wired, fn.Name.Name) || fn.Name.Name == "Token" {
				continue
			}
			assert.Regexp(t, httpCall, fn.Doc.Text(), "the comment of (*Client).%s names its request", fn.Name.Name)
		}
	}
}

func TestWireGrantTokenAndRenewal(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	now := time.Unix(1_000_000, 0)
	c.now = func() time.Time { return now }
	srv.Handle(http.MethodGet, "/api/admin/v1/site-config", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"server_name": "test", "password_login_enabled": true})
	})
	count := func() int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Path == "/oauth2/token" {
				n++
			}
		}
		return n
	}
	for range 3 {
		sc, err := c.SiteConfig(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "test", sc.ServerName)
	}
	assert.Equal(t, 1, count(), "one token for requests within its life")
	now = now.Add(241 * time.Second) // 59 s before the 300 s run out
	_, err := c.SiteConfig(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, count(), "renewed before it runs out")
}

func TestWireGrantTokenRefused(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPost, "/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "client authentication failed"})
	})
	_, err := c.GrantToken(context.Background())
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, StatusOf(err))
	assert.Contains(t, err.Error(), "MAS answered 401 invalid_client: client authentication failed [POST /matrix/oauth2/token]")
	assert.NotContains(t, err.Error(), "client-secret")
}

func TestWireUserByUsername(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/api/admin/v1/users/by-username/al%2Fice", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, userJSON("al/ice", true))
	})
	srv.Handle(http.MethodGet, "/api/admin/v1/users/by-username/nobody", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errors": []any{map[string]any{"title": `User with username "nobody" not found`}}})
	})
	u, err := c.UserByUsername(context.Background(), "al/ice")
	require.NoError(t, err)
	assert.Equal(t, &User{ID: wireID, Username: "al/ice", Admin: true}, u)
	u, err = c.UserByUsername(context.Background(), "nobody")
	require.NoError(t, err)
	assert.Nil(t, u)
}

func TestWireListUsers(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/api/admin/v1/users", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.NoBody(t, r)
		item := func(name, id string) map[string]any {
			return map[string]any{"type": "user", "id": id, "attributes": map[string]any{"username": name, "admin": false},
				"meta": map[string]any{"page": map[string]any{"cursor": id}}}
		}
		switch r.URL.Query().Get("page[after]") {
		case "":
			wiretest.Query(t, r, url.Values{"page[first]": {"2"}, "count": {"true"}})
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"count": 3},
				"data": []any{item("a", "01A"), item("b", "01B")}, "links": map[string]any{"next": "/next"}})
		case "01B":
			wiretest.Query(t, r, url.Values{"page[first]": {"2"}, "page[after]": {"01B"}, "count": {"false"}})
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": []any{item("c", "01C")}, "links": map[string]any{}})
		default:
			t.Errorf("unexpected cursor %q", r.URL.Query().Get("page[after]"))
		}
	})
	users, total, err := c.ListUsers(context.Background(), 2)
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	assert.Equal(t, []string{"a", "b", "c"}, names)
}

// A cursor that does not move is refused rather than followed forever.
func TestWireListUsersStuckCursor(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/api/admin/v1/users", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"count": 1},
			"data":  []any{map[string]any{"type": "user", "id": "01A", "attributes": map[string]any{"username": "a"}, "meta": map[string]any{"page": map[string]any{"cursor": "01A"}}}},
			"links": map[string]any{"next": "/again"}})
	})
	_, _, err := c.ListUsers(context.Background(), 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "its pages do not add up")
}

func TestWireCreateUser(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	name := "Al"
	srv.Handle(http.MethodPost, "/api/admin/v1/users", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.Query(t, r, nil)
		wiretest.JSONBody(t, r, `{"username":"al/ice","displayname":"Al"}`)
		wiretest.WriteJSON(w, http.StatusCreated, userJSON("al/ice", false))
	})
	u, err := c.CreateUser(context.Background(), NewUser{Username: "al/ice", DisplayName: &name})
	require.NoError(t, err)
	assert.Equal(t, httpapi.Identifier(wireID), u.ID)

	srv.Handle(http.MethodPost, "/api/admin/v1/users", func(w http.ResponseWriter, r *http.Request) {
		wiretest.JSONBody(t, r, `{"username":"bob","skip_homeserver_check":true}`)
		wiretest.WriteJSON(w, http.StatusConflict, map[string]any{"errors": []any{map[string]any{"title": "User already exists"}}})
	})
	_, err = c.CreateUser(context.Background(), NewUser{Username: "bob", SkipHomeserverCheck: true})
	assert.Equal(t, http.StatusConflict, StatusOf(err))
	assert.Contains(t, err.Error(), "MAS answered 409: User already exists [POST /matrix/api/admin/v1/users]")
}

func TestWireSetAdmin(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPost, "/api/admin/v1/users/"+wireID+"/set-admin", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.JSONBody(t, r, `{"admin":true}`)
		wiretest.WriteJSON(w, http.StatusOK, userJSON("al", true))
	})
	u, err := c.SetAdmin(context.Background(), wireID, true)
	require.NoError(t, err)
	assert.True(t, u.Admin)
}

func TestWireLockUnlockReactivate(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	for _, action := range []string{"lock", "unlock", "reactivate"} {
		srv.Handle(http.MethodPost, "/api/admin/v1/users/"+wireID+"/"+action, func(w http.ResponseWriter, r *http.Request) {
			adminCall(t, r)
			wiretest.NoBody(t, r)
			wiretest.WriteJSON(w, http.StatusOK, userJSON("al", false))
		})
	}
	_, err := c.Lock(context.Background(), wireID)
	require.NoError(t, err)
	_, err = c.Unlock(context.Background(), wireID)
	require.NoError(t, err)
	_, err = c.Reactivate(context.Background(), wireID)
	require.NoError(t, err)
}

// MAS's deactivation erases unless skip_erase: erase false sends it.
func TestWireDeactivate(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	want := `{"skip_erase":true}`
	srv.Handle(http.MethodPost, "/api/admin/v1/users/"+wireID+"/deactivate", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.JSONBody(t, r, want)
		wiretest.WriteJSON(w, http.StatusOK, userJSON("al", false))
	})
	_, err := c.Deactivate(context.Background(), wireID, false)
	require.NoError(t, err)
	want = `{"skip_erase":false}`
	_, err = c.Deactivate(context.Background(), wireID, true)
	require.NoError(t, err)
}

func TestWireSetPassword(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	want := `{"password":"pw"}`
	srv.Handle(http.MethodPost, "/api/admin/v1/users/"+wireID+"/set-password", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.JSONBody(t, r, want)
		w.WriteHeader(http.StatusNoContent)
	})
	require.NoError(t, c.SetPassword(context.Background(), wireID, "pw", false))
	want = `{"password":"pw","skip_password_check":true}`
	require.NoError(t, c.SetPassword(context.Background(), wireID, "pw", true))
	srv.Handle(http.MethodPost, "/api/admin/v1/users/"+wireID+"/set-password", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusBadRequest, map[string]any{"errors": []any{map[string]any{"title": "Password is too weak"}}})
	})
	err := c.SetPassword(context.Background(), wireID, "pw", false)
	assert.Contains(t, err.Error(), "Password is too weak")
}

func TestWireSiteConfig(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/api/admin/v1/site-config", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.Query(t, r, nil)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"server_name": "example.org", "password_login_enabled": true})
	})
	sc, err := c.SiteConfig(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "example.org", sc.ServerName)
}

// Check mode: reads and the token grant go out, a write is refused unsent.
func TestWireReadOnly(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	c.ReadOnly()
	srv.Handle(http.MethodGet, "/api/admin/v1/users/by-username/al", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, userJSON("al", false))
	})
	_, err := c.UserByUsername(context.Background(), "al")
	require.NoError(t, err)
	_, err = c.Lock(context.Background(), wireID)
	require.ErrorIs(t, err, httpapi.ErrReadOnly)
	for _, r := range srv.Writes() {
		assert.Equal(t, "/oauth2/token", r.Path)
	}
}

// A body MAS never sends as an error (a proxy's page, MAS's own plain-text
// deserialisation errors, which may quote the request) is summarised.
func TestWireForeignErrorNotQuoted(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPost, "/api/admin/v1/users/"+wireID+"/set-password", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte("Failed to deserialize: invalid value \"hunter2\""))
	})
	err := c.SetPassword(context.Background(), wireID, "hunter2", false)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), "not a MAS JSON error")
}

// The compatibility login verifies a password: 200 matches, 403 does not,
// anything else is an error; it carries no admin token, and is sent in
// check mode too (it is logged out at once).
func TestWireCompatLogin(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	c.ReadOnly()
	srv.Handle(http.MethodPost, "/_matrix/client/v3/login", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Token(t, r, "")
		assert.Empty(t, r.Header.Get("X-Forwarded-For"))
		body, _ := io.ReadAll(r.Body)
		var got map[string]any
		require.NoError(t, json.Unmarshal(body, &got))
		switch got["password"] {
		case "right":
			assert.Equal(t, map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "al"}, "password": "right"}, got)
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "mct_x", "device_id": "D", "user_id": "@al:test"})
		case "wrong":
			wiretest.WriteJSON(w, http.StatusForbidden, map[string]any{"errcode": "M_FORBIDDEN", "error": "Invalid username/password"})
		default:
			wiretest.WriteJSON(w, http.StatusTooManyRequests, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "error": "Too many login attempts"})
		}
	})
	token, match, err := c.CompatLogin(context.Background(), "al", "right")
	require.NoError(t, err)
	assert.True(t, match)
	assert.Equal(t, "mct_x", token)
	_, match, err = c.CompatLogin(context.Background(), "al", "wrong")
	require.NoError(t, err)
	assert.False(t, match)
	_, _, err = c.CompatLogin(context.Background(), "al", "limited")
	assert.Equal(t, http.StatusTooManyRequests, StatusOf(err))
	assert.Contains(t, err.Error(), "MAS answered 429 M_LIMIT_EXCEEDED: Too many login attempts")
	n := 0
	for _, r := range srv.Requests() {
		if r.Path == "/_matrix/client/v3/login" {
			n++
		}
	}
	assert.Equal(t, 3, n, "a rate-limited login is not retried here")
}

func TestWireCompatLogout(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	c.ReadOnly()
	srv.Handle(http.MethodPost, "/_matrix/client/v3/logout", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Token(t, r, "mct_x")
		wiretest.JSONBody(t, r, `{}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	require.NoError(t, c.CompatLogout(context.Background(), "mct_x"))
}

func TestWireUserEmails(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/api/admin/v1/user-emails", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.Query(t, r, url.Values{"filter[user]": {wireID}, "page[first]": {"1000"}, "count": {"false"}})
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": []any{map[string]any{"type": "user-email", "id": "01EMAIL",
			"attributes": map[string]any{"email": "al@example.org", "user_id": wireID}}}, "links": map[string]any{}})
	})
	emails, err := c.UserEmails(context.Background(), wireID)
	require.NoError(t, err)
	assert.Equal(t, []Email{{ID: "01EMAIL", Email: "al@example.org"}}, emails)
}

func TestWireAddAndDeleteUserEmail(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPost, "/api/admin/v1/user-emails", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.JSONBody(t, r, `{"user_id":"`+wireID+`","email":"al@example.org"}`)
		wiretest.WriteJSON(w, http.StatusCreated, map[string]any{"data": map[string]any{"type": "user-email", "id": "01EMAIL"}})
	})
	srv.Handle(http.MethodDelete, "/api/admin/v1/user-emails/01EMAIL", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.NoBody(t, r)
		w.WriteHeader(http.StatusNoContent)
	})
	require.NoError(t, c.AddUserEmail(context.Background(), wireID, "al@example.org"))
	require.NoError(t, c.DeleteUserEmail(context.Background(), "01EMAIL"))
}

func TestWireEachUserStopsOnAStuckCursor(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/api/admin/v1/users", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		// Every page ends on the same cursor: a loop, unless refused.
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"count": 1},
			"data": []any{map[string]any{"type": "user", "id": "01A", "attributes": map[string]any{"username": "a", "created_at": "2026-01-02T03:04:05Z"},
				"meta": map[string]any{"page": map[string]any{"cursor": "01A"}}}}, "links": map[string]any{"next": "/next"}})
	})
	var got []User
	_, err := c.EachUser(context.Background(), 1, func(page []User) error {
		got = append(got, page...)
		return nil
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "do not add up")
	require.NotEmpty(t, got)
	assert.Equal(t, "2026-01-02T03:04:05Z", got[0].CreatedAt)
	assert.LessOrEqual(t, len(srv.Requests()), 4, "stopped at once")
}

func TestWireEachSession(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	for _, kind := range SessionKinds {
		srv.Handle(http.MethodGet, "/api/admin/v1/"+kind, func(w http.ResponseWriter, r *http.Request) {
			adminCall(t, r)
			wiretest.NoBody(t, r)
			wiretest.Query(t, r, url.Values{"page[first]": {"1000"}, "count": {"true"}})
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"count": 2}, "data": []any{
				map[string]any{"type": "s", "id": "01A", "attributes": map[string]any{"user_id": wireID, "created_at": "2026-01-02T03:04:05Z", "last_active_at": "2026-02-02T03:04:05Z"},
					"meta": map[string]any{"page": map[string]any{"cursor": "01A"}}},
				map[string]any{"type": "s", "id": "01B", "attributes": map[string]any{"user_id": nil, "created_at": "2026-01-02T03:04:05Z", "last_active_at": nil},
					"meta": map[string]any{"page": map[string]any{"cursor": "01B"}}},
			}, "links": map[string]any{}})
		})
		var got []Session
		require.NoError(t, c.EachSession(context.Background(), kind, 5000, func(page []Session) error {
			got = append(got, page...)
			return nil
		}))
		require.Len(t, got, 2, kind)
		assert.Equal(t, wireID, *got[0].UserID)
		assert.Equal(t, "2026-02-02T03:04:05Z", *got[0].LastActiveAt)
		assert.Nil(t, got[1].UserID)
	}
	require.Error(t, c.EachSession(context.Background(), "personal-sessions", 10, func([]Session) error { return nil }))
}

func tokenJSON(id, value string, revoked bool) map[string]any {
	var revokedAt any
	if revoked {
		revokedAt = "2026-01-02T03:04:05Z"
	}
	return map[string]any{"type": "user-registration_token", "id": id, "attributes": map[string]any{
		"token": value, "valid": !revoked, "usage_limit": 5, "times_used": 2, "created_at": "2026-01-01T00:00:00Z",
		"last_used_at": nil, "expires_at": "2027-01-01T00:00:00.123Z", "revoked_at": revokedAt},
		"meta": map[string]any{"page": map[string]any{"cursor": id}}}
}

func TestWireRegistrationTokens(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/api/admin/v1/user-registration-tokens", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.NoBody(t, r)
		switch r.URL.Query().Get("page[after]") {
		case "":
			wiretest.Query(t, r, url.Values{"page[first]": {"2"}, "count": {"true"}})
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"count": 3},
				"data": []any{tokenJSON("01A", "a", false), tokenJSON("01B", "b", true)}, "links": map[string]any{"next": "/next"}})
		case "01B":
			wiretest.Query(t, r, url.Values{"page[first]": {"2"}, "page[after]": {"01B"}, "count": {"false"}})
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": []any{tokenJSON("01C", "c", false)}, "links": map[string]any{}})
		default:
			t.Errorf("unexpected cursor %q", r.URL.Query().Get("page[after]"))
		}
	})
	got, err := c.RegistrationTokens(context.Background(), 2)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, httpapi.Identifier("01B"), got[1].ID)
	assert.Equal(t, "b", got[1].Token)
	assert.True(t, got[1].Revoked())
	assert.False(t, got[0].Revoked())
	assert.Equal(t, int64(5), *got[0].UsageLimit)
	assert.Equal(t, int64(2), got[0].TimesUsed)
	assert.Equal(t, "2027-01-01T00:00:00.123Z", *got[0].ExpiresAt)
}

// A cursor that does not move is refused rather than followed forever.
func TestWireRegistrationTokensStuckCursor(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/api/admin/v1/user-registration-tokens", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"count": 1},
			"data": []any{tokenJSON("01A", "a", false)}, "links": map[string]any{"next": "/again"}})
	})
	_, err := c.RegistrationTokens(context.Background(), 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "its pages do not add up")
}

func TestWireCreateRegistrationToken(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	limit, expiry := int64(5), "2027-01-01T00:00:00.123Z"
	srv.Handle(http.MethodPost, "/api/admin/v1/user-registration-tokens", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.Query(t, r, nil)
		wiretest.JSONBody(t, r, `{"token":"inv~abc","usage_limit":5,"expires_at":"2027-01-01T00:00:00.123Z"}`)
		wiretest.WriteJSON(w, http.StatusCreated, map[string]any{"data": tokenJSON("01A", "inv~abc", false)})
	})
	got, err := c.CreateRegistrationToken(context.Background(), NewRegistrationToken{Token: "inv~abc", UsageLimit: &limit, ExpiresAt: &expiry})
	require.NoError(t, err)
	assert.Equal(t, httpapi.Identifier("01A"), got.ID)

	srv.Handle(http.MethodPost, "/api/admin/v1/user-registration-tokens", func(w http.ResponseWriter, r *http.Request) {
		wiretest.JSONBody(t, r, `{"token":"open"}`)
		wiretest.WriteJSON(w, http.StatusConflict, map[string]any{"errors": []any{map[string]any{"title": "A registration token with the same token already exists"}}})
	})
	_, err = c.CreateRegistrationToken(context.Background(), NewRegistrationToken{Token: "open"})
	assert.Equal(t, http.StatusConflict, StatusOf(err))
}

func TestWireUpdateRegistrationToken(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPut, "/api/admin/v1/user-registration-tokens/01A", func(w http.ResponseWriter, r *http.Request) {
		adminCall(t, r)
		wiretest.JSONBody(t, r, `{"usage_limit":null,"expires_at":"2027-01-01T00:00:00Z"}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": tokenJSON("01A", "a", false)})
	})
	_, err := c.UpdateRegistrationToken(context.Background(), "01A", RegistrationTokenUpdate{"usage_limit": nil, "expires_at": "2027-01-01T00:00:00Z"})
	require.NoError(t, err)
}

func TestWireRevokeUnrevokeRegistrationToken(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	for _, action := range []string{"revoke", "unrevoke"} {
		srv.Handle(http.MethodPost, "/api/admin/v1/user-registration-tokens/01A/"+action, func(w http.ResponseWriter, r *http.Request) {
			adminCall(t, r)
			wiretest.NoBody(t, r)
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"data": tokenJSON("01A", "a", action == "revoke")})
		})
	}
	got, err := c.RevokeRegistrationToken(context.Background(), "01A")
	require.NoError(t, err)
	assert.True(t, got.Revoked())
	got, err = c.UnrevokeRegistrationToken(context.Background(), "01A")
	require.NoError(t, err)
	assert.False(t, got.Revoked())
}
