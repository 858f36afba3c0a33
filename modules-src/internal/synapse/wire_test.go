package synapse

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/modules-src/internal/wiretest"
)

// The wire tests pin, for every endpoint the client calls, the method, the
// escaped path under a base path, the query and the body, in the manner of
// google/go-github: a changed method, path or body key fails here. Whether
// Synapse does what the request asks is proven in tests/e2e.

// wireUser is a user ID whose localpart needs escaping in a path segment.
const (
	wireUser        = "@al/ice:test"
	wireUserEscaped = "@al%2Fice:test"
)

func setup(t *testing.T) (*Client, *wiretest.Server) {
	t.Helper()
	srv := wiretest.New(t)
	c, err := New(Config{BaseURL: srv.URL(), Token: "wire-token", Retries: 0, Timeout: 5 * time.Second})
	require.NoError(t, err)
	return c, srv
}

// wired are the Client methods the wire tests below cover, each by the test
// named after it (TestWire<Method>). A method that sends a request must be
// here; TestEveryClientMethodIsWired checks it.
var wired = []string{
	"GetUser", "ListUsers", "EachUser", "CreateUser", "PutUser", "Deactivate", "SetAdmin", "UsernameAvailable",
	"PasswordHashes", "Whoami", "Login", "Logout", "DelegatesAuth", "ServerNameFromKeys", "Register",
	"HasProfile", "Devices", "DeleteDevices", "LastSeen", "Profile", "Ratelimit", "SetRatelimit", "DeleteRatelimit", "ShadowBan", "Suspend", "CanSuspend",
}

// sendsNothing are the Client methods that send no request.
var sendsNothing = []string{"SetToken", "BaseURL", "ReadOnly"}

// httpCall is how a method's comment names its request.
var httpCall = regexp.MustCompile(`\b(GET|PUT|POST|DELETE) /_(synapse|matrix)/`)

// TestEveryClientMethodIsWired: every exported method of *Client has a wire
// test (or sends nothing), and its comment names its HTTP method and path,
// so that grepping for a URL finds the code that calls it.
func TestEveryClientMethodIsWired(t *testing.T) {
	t.Parallel()
	ty := reflect.TypeOf(&Client{})
	for i := range ty.NumMethod() {
		name := ty.Method(i).Name
		assert.True(t, slices.Contains(wired, name) || slices.Contains(sendsNothing, name),
			"(*Client).%s has no wire test: add TestWire%s and list it in wired", name, name)
	}
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	fset := token.NewFileSet()
	documented := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, parser.ParseComments)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !slices.Contains(wired, fn.Name.Name) {
				continue
			}
			if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); !ok || star.X.(*ast.Ident).Name != "Client" {
				continue
			}
			documented[fn.Name.Name] = true
			assert.Regexp(t, httpCall, fn.Doc.Text(), "the comment of (*Client).%s names its HTTP method and path", fn.Name.Name)
		}
	}
	for _, name := range wired {
		assert.True(t, documented[name], "(*Client).%s is listed as wired but not found", name)
	}
}

func TestWireGetUser(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v2/users/"+wireUserEscaped, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.Token(t, r, "wire-token")
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{
			"name": wireUser, "displayname": "Alice", "avatar_url": "mxc://test/a", "admin": true, "deactivated": false,
			"locked": false, "erased": false, "is_guest": 0, "user_type": "bot", "appservice_id": "irc",
			"threepids":    []any{map[string]any{"medium": "email", "address": "a@test"}},
			"external_ids": []any{map[string]any{"auth_provider": "oidc", "external_id": "x"}},
		})
	})
	srv.Handle(http.MethodGet, "/_synapse/admin/v2/users/@nobody:test", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_NOT_FOUND", "error": "User not found"})
	})
	u, err := c.GetUser(context.Background(), wireUser)
	require.NoError(t, err)
	assert.Equal(t, wireUser, u.Name)
	assert.Equal(t, "Alice", *u.Displayname)
	assert.Equal(t, "mxc://test/a", *u.AvatarURL)
	assert.True(t, bool(u.Admin))
	assert.Equal(t, "bot", *u.UserType)
	assert.Equal(t, "irc", *u.AppserviceID)
	assert.True(t, u.Detailed)
	assert.True(t, u.LockedKnown)
	assert.Equal(t, []Threepid{{"email", "a@test"}}, u.Threepids)
	assert.Equal(t, []ExternalID{{"oidc", "x"}}, u.ExternalIDs)
	missing, err := c.GetUser(context.Background(), "@nobody:test")
	require.NoError(t, err)
	assert.Nil(t, missing)
}

func TestWireListUsers(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v2/users", func(w http.ResponseWriter, r *http.Request) {
		wiretest.NoBody(t, r)
		from := r.URL.Query().Get("from")
		wiretest.Query(t, r, url.Values{"from": {from}, "limit": {"2"}, "guests": {"true"}, "deactivated": {"true"}, "locked": {"true"}})
		switch from {
		case "0":
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"users": []any{map[string]any{"name": "@a:test"}, map[string]any{"name": "@b:test"}}, "total": 3, "next_token": "2"})
		case "2":
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"users": []any{map[string]any{"name": "@c:test", "deactivated": true}}, "total": 3})
		default:
			t.Errorf("page from %q", from)
		}
	})
	all, err := c.ListUsers(context.Background(), 2)
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, "@c:test", all[2].Name)
	assert.True(t, bool(all[2].Deactivated))
	assert.False(t, all[0].Detailed, "the list carries no threepids")
	assert.Len(t, srv.Requests(), 2)
}

func TestWireEachUser(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v2/users", func(w http.ResponseWriter, r *http.Request) {
		wiretest.NoBody(t, r)
		from := r.URL.Query().Get("from")
		wiretest.Query(t, r, url.Values{"from": {from}, "limit": {"2"}, "guests": {"true"}, "deactivated": {"true"}, "locked": {"true"}})
		switch from {
		case "0":
			// As Synapse 1.163 lists: creation_ts and last_seen_ts in ms.
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"users": []any{
				map[string]any{"name": "@a:test", "creation_ts": 1796295660000, "last_seen_ts": 1796295660605},
				map[string]any{"name": "@b:test", "creation_ts": 1796295660000, "last_seen_ts": nil},
			}, "total": 3, "next_token": "2"})
		case "2":
			// As Synapse 1.90 lists: no last_seen_ts key, flags as 0/1.
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"users": []any{map[string]any{"name": "@c:test", "admin": 1, "creation_ts": 1796295667000}}, "total": 3})
		default:
			t.Errorf("page from %q", from)
		}
	})
	var pages [][]User
	total := -1
	err := c.EachUser(context.Background(), 2, func(n int) { total = n }, func(page []User) error {
		pages = append(pages, page)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	require.Len(t, pages, 2)
	a, b, cc := pages[0][0], pages[0][1], pages[1][0]
	assert.Equal(t, int64(1796295660605), *a.LastSeenTS)
	assert.Equal(t, int64(1796295660000), *a.CreationTS)
	assert.True(t, b.Has("last_seen_ts"))
	assert.Nil(t, b.LastSeenTS, "never seen")
	assert.False(t, cc.Has("last_seen_ts"), "an older Synapse's list does not say")
	assert.True(t, bool(cc.Admin))

	// An error from the callback stops the read: no second page.
	srv2calls := len(srv.Requests())
	err = c.EachUser(context.Background(), 2, nil, func([]User) error { return context.Canceled })
	assert.ErrorIs(t, err, context.Canceled)
	assert.Len(t, srv.Requests(), srv2calls+1)
}

func TestWireCreateUser(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPut, "/_synapse/admin/v2/users/"+wireUserEscaped, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.JSONBody(t, r, `{}`)
		wiretest.WriteJSON(w, http.StatusCreated, map[string]any{"name": wireUser})
	})
	res, u, err := c.CreateUser(context.Background(), wireUser)
	require.NoError(t, err)
	assert.Equal(t, Created, res)
	assert.Equal(t, wireUser, u.Name)
}

func TestWirePutUser(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPut, "/_synapse/admin/v2/users/"+wireUserEscaped, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.JSONBody(t, r, `{"password":"wire-pass","logout_devices":false,"displayname":"A","avatar_url":"mxc://test/b",
			"user_type":null,"admin":true,"deactivated":false,"locked":true,
			"threepids":[{"medium":"email","address":"a@test"}],"external_ids":[]}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"name": wireUser, "displayname": "A"})
	})
	after, created, err := c.PutUser(context.Background(), wireUser, UserUpdate{
		"password": "wire-pass", "logout_devices": false, "displayname": "A", "avatar_url": "mxc://test/b", "user_type": nil,
		"admin": true, "deactivated": false, "locked": true,
		"threepids": []Threepid{{"email", "a@test"}}, "external_ids": []ExternalID{},
	})
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, "A", *after.Displayname)
}

func TestWireDeactivate(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPost, "/_synapse/admin/v1/deactivate/"+wireUserEscaped, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.JSONBody(t, r, `{"erase":true}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"id_server_unbind_result": "success"})
	})
	require.NoError(t, c.Deactivate(context.Background(), wireUser, true))
}

func TestWireSetAdmin(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPut, "/_synapse/admin/v1/users/"+wireUserEscaped+"/admin", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.JSONBody(t, r, `{"admin":false}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	require.NoError(t, c.SetAdmin(context.Background(), wireUser, false))
}

func TestWireUsernameAvailable(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/username_available", func(w http.ResponseWriter, r *http.Request) {
		wiretest.NoBody(t, r)
		switch r.URL.Query().Get("username") {
		case "al/ice":
			wiretest.Query(t, r, url.Values{"username": {"al/ice"}})
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{"available": true})
		default:
			wiretest.WriteJSON(w, http.StatusBadRequest, map[string]any{"errcode": "M_USER_IN_USE", "error": "User ID already taken."})
		}
	})
	free, err := c.UsernameAvailable(context.Background(), "al/ice")
	require.NoError(t, err)
	assert.True(t, free)
	free, err = c.UsernameAvailable(context.Background(), "bob")
	require.NoError(t, err)
	assert.False(t, free)
}

func TestWirePasswordHashes(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/search_users/@admin:test", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, url.Values{"term": {":test"}})
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, []any{
			map[string]any{"name": "@a:test", "password_hash": "$2b$12$x"},
			map[string]any{"name": "@b:test", "password_hash": nil},
		})
	})
	hashes, err := c.PasswordHashes(context.Background(), "@admin:test", ":test")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"@a:test": "$2b$12$x", "@b:test": ""}, hashes)
}

func TestWireWhoami(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_matrix/client/v3/account/whoami", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.Token(t, r, "wire-token")
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"user_id": "@admin:test", "device_id": "D"})
	})
	me, err := c.Whoami(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "@admin:test", me)
}

func TestWireLogin(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	c.SetToken("")
	srv.Handle(http.MethodPost, "/_matrix/client/v3/login", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.Token(t, r, "")
		wiretest.JSONBody(t, r, `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"admin"},
			"password":"wire-pass","device_id":"DEV","initial_device_display_name":"mxadmin.synapse (Ansible)"}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"user_id": "@admin:test", "access_token": "new-token", "device_id": "DEV"})
	})
	res, err := c.Login(context.Background(), "admin", "wire-pass", "DEV")
	require.NoError(t, err)
	assert.Equal(t, LoginResult{UserID: "@admin:test", AccessToken: "new-token", DeviceID: "DEV"}, *res)
}

func TestWireLogout(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPost, "/_matrix/client/v3/logout", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.Token(t, r, "wire-token")
		wiretest.JSONBody(t, r, `{}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	require.NoError(t, c.Logout(context.Background()))
}

func TestWireDelegatesAuth(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	unrecognized := func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
	}
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/register", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"nonce": "n"})
	})
	srv.Handle(http.MethodGet, "/_matrix/client/v1/auth_metadata", unrecognized)
	srv.Handle(http.MethodGet, "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata", unrecognized)
	srv.Handle(http.MethodGet, "/_matrix/client/unstable/org.matrix.msc2965/auth_issuer", unrecognized)
	mas, err := c.DelegatesAuth(context.Background())
	require.NoError(t, err)
	assert.False(t, mas)
	assert.Len(t, srv.Requests(), 4)
}

func TestWireServerNameFromKeys(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_matrix/key/v2/server", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"server_name": "test", "verify_keys": map[string]any{}})
	})
	name, err := c.ServerNameFromKeys(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "test", name)
}

func TestWireRegister(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	c.SetToken("")
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/register", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"nonce": "wire-nonce"})
	})
	mac := RegistrationMAC("wire-secret", "wire-nonce", "al/ice", "wire-pass", true, "bot")
	srv.Handle(http.MethodPost, "/_synapse/admin/v1/register", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.Token(t, r, "")
		wiretest.JSONBody(t, r, `{"nonce":"wire-nonce","username":"al/ice","password":"wire-pass","admin":true,
			"mac":"`+mac+`","inhibit_login":true,"user_type":"bot","displayname":"Alice"}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"user_id": wireUser})
	})
	name := "Alice"
	reg, err := c.Register(context.Background(), "wire-secret", Registration{Localpart: "al/ice", Password: "wire-pass", Admin: true, UserType: "bot", Displayname: &name})
	require.NoError(t, err)
	assert.Equal(t, wireUser, reg.UserID)
	assert.False(t, reg.Retried)
}

// A registration that logs the new account in on a device of ours (the
// service admin's first run) sends the device and gets the session back.
func TestWireRegisterWithLogin(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	c.SetToken("")
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/register", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"nonce": "wire-nonce"})
	})
	mac := RegistrationMAC("wire-secret", "wire-nonce", "svc", "wire-pass", true, "bot")
	srv.Handle(http.MethodPost, "/_synapse/admin/v1/register", func(w http.ResponseWriter, r *http.Request) {
		wiretest.JSONBody(t, r, `{"nonce":"wire-nonce","username":"svc","password":"wire-pass","admin":true,
			"mac":"`+mac+`","inhibit_login":false,"user_type":"bot","device_id":"DEV1","initial_device_display_name":"ours"}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"user_id": "@svc:test", "access_token": "new-token", "device_id": "DEV1"})
	})
	reg, err := c.Register(context.Background(), "wire-secret", Registration{Localpart: "svc", Password: "wire-pass", Admin: true, UserType: "bot", DeviceID: "DEV1", DeviceName: "ours"})
	require.NoError(t, err)
	assert.Equal(t, "@svc:test", reg.UserID)
	assert.Equal(t, "new-token", reg.AccessToken)
	assert.Equal(t, "DEV1", reg.DeviceID)
}

func TestWireHasProfile(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	c.SetToken("")
	srv.Handle(http.MethodGet, "/_matrix/client/v3/profile/"+wireUserEscaped, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.Token(t, r, "")
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"displayname": "Alice"})
	})
	srv.Handle(http.MethodGet, "/_matrix/client/v3/profile/@nobody:test", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_NOT_FOUND", "error": "Profile was not found"})
	})
	srv.Handle(http.MethodGet, "/_matrix/client/v3/profile/@private:test", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusUnauthorized, map[string]any{"errcode": "M_MISSING_TOKEN", "error": "Missing access token"})
	})
	ok, err := c.HasProfile(context.Background(), wireUser)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = c.HasProfile(context.Background(), "@nobody:test")
	require.NoError(t, err)
	assert.False(t, ok)
	srv.Handle(http.MethodGet, "/_matrix/client/v3/profile/@gone:test", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_UNKNOWN", "error": "No row found (profiles)"})
	})
	srv.Handle(http.MethodGet, "/_matrix/client/v3/profile/@unrouted:test", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
	})
	ok, err = c.HasProfile(context.Background(), "@gone:test")
	require.NoError(t, err, "Synapse 1.163's answer for a user that does not exist")
	assert.False(t, ok)
	_, err = c.HasProfile(context.Background(), "@private:test")
	require.Error(t, err, "a profile behind authentication tells nothing")
	_, err = c.HasProfile(context.Background(), "@unrouted:test")
	require.Error(t, err, "an endpoint the server does not route tells nothing")
}

func TestWireDevices(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v2/users/"+wireUserEscaped+"/devices", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"devices": []any{map[string]any{"device_id": "D1", "last_seen_ts": 5}}, "total": 1})
	})
	devices, err := c.Devices(context.Background(), wireUser)
	require.NoError(t, err)
	require.Len(t, devices, 1)
	assert.Equal(t, "D1", devices[0].DeviceID)
	assert.Equal(t, int64(5), *devices[0].LastSeenTS)
}

func TestWireDeleteDevices(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPost, "/_synapse/admin/v2/users/"+wireUserEscaped+"/delete_devices", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.JSONBody(t, r, `{"devices":["D1","D2"]}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	require.NoError(t, c.DeleteDevices(context.Background(), wireUser, []string{"D1", "D2"}))
}

// A read-only client (check mode) sends GETs and the logout, and refuses
// every other write before it reaches the wire.
func TestWireReadOnly(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v2/users/"+wireUserEscaped, func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"name": wireUser})
	})
	srv.Handle(http.MethodPost, "/_matrix/client/v3/logout", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	c.ReadOnly()
	_, err := c.GetUser(context.Background(), wireUser)
	require.NoError(t, err)
	require.ErrorIs(t, c.Deactivate(context.Background(), wireUser, false), ErrReadOnly)
	require.ErrorIs(t, c.SetAdmin(context.Background(), wireUser, true), ErrReadOnly)
	_, _, err = c.CreateUser(context.Background(), wireUser)
	require.ErrorIs(t, err, ErrReadOnly)
	_, err = c.Register(context.Background(), "s", Registration{Localpart: "x", Password: "p"})
	require.ErrorIs(t, err, ErrReadOnly)
	require.NoError(t, c.Logout(context.Background()))
	var sent []string
	for _, r := range srv.Requests() {
		sent = append(sent, r.String())
	}
	assert.Equal(t, []string{"GET /_synapse/admin/v2/users/" + wireUserEscaped, "POST /_matrix/client/v3/logout"}, sent)
}

func TestWireRatelimit(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	const p = "/_synapse/admin/v1/users/" + wireUserEscaped + "/override_ratelimit"
	srv.Handle(http.MethodGet, p, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"messages_per_second": 0, "burst_count": 0})
	})
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/users/@none:test/override_ratelimit", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	got, err := c.Ratelimit(context.Background(), wireUser)
	require.NoError(t, err)
	assert.Equal(t, &Ratelimit{}, got, "0/0 is an override: no limit")
	got, err = c.Ratelimit(context.Background(), "@none:test")
	require.NoError(t, err)
	assert.Nil(t, got, "{} is no override")
}

func TestWireSetRatelimit(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPost, "/_synapse/admin/v1/users/"+wireUserEscaped+"/override_ratelimit", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.JSONBody(t, r, `{"messages_per_second":5,"burst_count":10}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"messages_per_second": 5, "burst_count": 10})
	})
	require.NoError(t, c.SetRatelimit(context.Background(), wireUser, Ratelimit{MessagesPerSecond: 5, BurstCount: 10}))
}

func TestWireDeleteRatelimit(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodDelete, "/_synapse/admin/v1/users/"+wireUserEscaped+"/override_ratelimit", func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	require.NoError(t, c.DeleteRatelimit(context.Background(), wireUser))
}

func TestWireShadowBan(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		srv.Handle(method, "/_synapse/admin/v1/users/"+wireUserEscaped+"/shadow_ban", func(w http.ResponseWriter, r *http.Request) {
			wiretest.Query(t, r, nil)
			wiretest.NoBody(t, r)
			wiretest.WriteJSON(w, http.StatusOK, map[string]any{})
		})
	}
	require.NoError(t, c.ShadowBan(context.Background(), wireUser, true))
	require.NoError(t, c.ShadowBan(context.Background(), wireUser, false))
	var sent []string
	for _, r := range srv.Requests() {
		sent = append(sent, r.Method)
	}
	assert.Equal(t, []string{http.MethodPost, http.MethodDelete}, sent, "POST bans, DELETE lifts the ban")
}

func TestWireSuspend(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodPut, "/_synapse/admin/v1/suspend/"+wireUserEscaped, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.JSONBody(t, r, `{"suspend":true}`)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"user_" + wireUser + "_suspended": true})
	})
	require.NoError(t, c.Suspend(context.Background(), wireUser, true))
}

// Whether Synapse serves the suspend endpoint is asked with a GET, which it
// routes before anything else: 405 for a path it serves with another
// method, 404 M_UNRECOGNIZED for one it does not; anything else cannot tell.
func TestWireCanSuspend(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	answer := func(status int, body any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			wiretest.Query(t, r, nil)
			wiretest.NoBody(t, r)
			wiretest.WriteJSON(w, status, body)
		}
	}
	unrecognized := map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/suspend/@new:test", answer(http.StatusMethodNotAllowed, unrecognized))
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/suspend/@old:test", answer(http.StatusNotFound, unrecognized))
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/suspend/@proxy:test", answer(http.StatusForbidden, map[string]any{"errcode": "M_FORBIDDEN", "error": "no"}))
	can, err := c.CanSuspend(context.Background(), "@new:test")
	require.NoError(t, err)
	assert.True(t, can)
	can, err = c.CanSuspend(context.Background(), "@old:test")
	require.NoError(t, err)
	assert.False(t, can)
	_, err = c.CanSuspend(context.Background(), "@proxy:test")
	assert.Error(t, err)
}

func TestWireLastSeen(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/whois/"+wireUserEscaped, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.Token(t, r, "wire-token")
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"user_id": wireUser, "devices": map[string]any{
			"": map[string]any{"sessions": []any{map[string]any{"connections": []any{
				map[string]any{"ip": "10.0.0.1", "last_seen": 1000, "user_agent": "a"},
				map[string]any{"ip": "10.0.0.2", "last_seen": 3000, "user_agent": "b"},
			}}}},
			"DEV": map[string]any{"sessions": []any{map[string]any{"connections": []any{map[string]any{"ip": "10.0.0.3", "last_seen": 2000}}}}},
		}})
	})
	srv.Handle(http.MethodGet, "/_synapse/admin/v1/whois/@never:test", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"user_id": "@never:test", "devices": map[string]any{"": map[string]any{"sessions": []any{}}}})
	})
	seen, err := c.LastSeen(context.Background(), wireUser)
	require.NoError(t, err)
	assert.Equal(t, int64(3000), *seen, "the newest connection")
	seen, err = c.LastSeen(context.Background(), "@never:test")
	require.NoError(t, err)
	assert.Nil(t, seen)
}

func TestWireProfile(t *testing.T) {
	t.Parallel()
	c, srv := setup(t)
	srv.Handle(http.MethodGet, "/_matrix/client/v3/profile/"+wireUserEscaped, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Query(t, r, nil)
		wiretest.NoBody(t, r)
		wiretest.WriteJSON(w, http.StatusOK, map[string]any{"displayname": "Al", "avatar_url": "mxc://test/a"})
	})
	srv.Handle(http.MethodGet, "/_matrix/client/v3/profile/@nobody:test", func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteJSON(w, http.StatusNotFound, map[string]any{"errcode": "M_NOT_FOUND", "error": "Profile was not found"})
	})
	p, err := c.Profile(context.Background(), wireUser)
	require.NoError(t, err)
	assert.Equal(t, "Al", *p.DisplayName)
	assert.Equal(t, "mxc://test/a", *p.AvatarURL)
	p, err = c.Profile(context.Background(), "@nobody:test")
	require.NoError(t, err)
	assert.Nil(t, p)
}
