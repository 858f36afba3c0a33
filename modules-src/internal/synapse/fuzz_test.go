package synapse

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzServerAnswers answers every request of the client with arbitrary
// bytes and an arbitrary status: whatever a server or a proxy in front of it
// sends, the client returns a value or an error, never panics or loops.
func FuzzServerAnswers(f *testing.F) {
	for _, seed := range []struct {
		status uint16
		body   string
	}{
		{200, `{"name":"@a:b","admin":1,"threepids":[{"medium":"email"}],"external_ids":null}`},
		{200, `{"users":[{"name":"@a:b"}],"total":5,"next_token":"0"}`},
		{200, `{"users":[],"next_token":7}`},
		{200, `{"users":[{"name":"@a:b"},{"name":"@a:b"}],"total":2}`},
		{200, `[{"name":"@a:b","password_hash":null}]`},
		{200, `{"nonce":"n","user_id":"@a:b"}`},
		{429, `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":-5}`},
		{404, `{"errcode":"M_NOT_FOUND"}`},
		{502, `<html>bad gateway</html>`},
		{200, ``}, {200, `null`}, {201, `{"name":5}`}, {302, ``},
	} {
		f.Add(seed.status, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		code := int(status%500) + 100
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		c, err := New(Config{BaseURL: srv.URL, Token: "t", Retries: 0, Timeout: 2 * time.Second,
			MaxRetryWait: time.Millisecond, RetryWaitMin: time.Microsecond, RetryWaitMax: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, _ = c.GetUser(ctx, "@a:b")
		_, _ = c.ListUsers(ctx, 10)
		_, _, _ = c.PutUser(ctx, "@a:b", UserUpdate{})
		_, _, _ = c.CreateUser(ctx, "@a:b")
		_, _ = c.PasswordHashes(ctx, "@admin:b", "")
		_, _ = c.Whoami(ctx)
		_, _ = c.DelegatesAuth(ctx)
		_, _ = c.Register(ctx, "s", Registration{Localpart: "a", Password: "p"})
		_ = c.Deactivate(ctx, "@a:b", true)
	})
}
