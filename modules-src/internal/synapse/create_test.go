package synapse

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CreateUser sends an empty body, whatever happens, and tells a create of
// its own from an account that existed, and both from the case where a lost
// answer leaves it unknown.
func TestCreateUser(t *testing.T) {
	type answer struct {
		status int
		body   string
	}
	for name, tc := range map[string]struct {
		answers []answer
		want    CreateResult
		user    bool
		err     string
	}{
		"created":                {[]answer{{201, `{"name":"@a:test"}`}}, Created, true, ""},
		"existed":                {[]answer{{200, `{"name":"@a:test","admin":true}`}}, Existed, true, ""},
		"appeared in the window": {[]answer{{400, `{"errcode":"M_USER_IN_USE","error":"User ID already taken."}`}}, Existed, false, ""},
		"a 429 proves nothing was done": {[]answer{{429, `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1}`}, {200, `{"name":"@a:test"}`}},
			Existed, true, ""},
		"a lost answer, then the account": {[]answer{{502, `<html>bad gateway</html>`}, {200, `{"name":"@a:test"}`}}, MaybeCreated, true, ""},
		"a lost answer, then taken":       {[]answer{{500, `{"errcode":"M_UNKNOWN"}`}, {400, `{"errcode":"M_USER_IN_USE"}`}}, MaybeCreated, false, ""},
		"a lost answer, then created":     {[]answer{{503, ``}, {201, `{"name":"@a:test"}`}}, Created, true, ""},
		"refused":                         {[]answer{{403, `{"errcode":"M_FORBIDDEN","error":"You are not a server admin"}`}}, 0, false, "M_FORBIDDEN"},
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1)) - 1
				body, _ := io.ReadAll(r.Body)
				assert.Equal(t, http.MethodPut, r.Method)
				assert.Equal(t, "/_synapse/admin/v2/users/@a:test", r.URL.Path)
				assert.JSONEq(t, `{}`, string(body), "a create carries nothing that could change an existing account")
				a := tc.answers[min(n, len(tc.answers)-1)]
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(a.status)
				_, _ = io.WriteString(w, a.body)
			}))
			defer srv.Close()
			res, u, err := testClient(t, srv.URL, nil).CreateUser(context.Background(), "@a:test")
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, res)
			assert.Equal(t, tc.user, u != nil)
			if u != nil {
				assert.Equal(t, "@a:test", u.Name)
				assert.True(t, u.Detailed)
			}
		})
	}
}
