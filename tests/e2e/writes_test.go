package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// changed means Synapse acknowledged a write, or one was sent whose answer
// was lost (then the message says it may have been applied). A write
// Synapse refused, or one never sent, is no change; a create that failed
// reports no user.

func TestRefusedWritesAreNoChange(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{AppServices: []synapsetest.AppService{{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}}})
	f := fixtureOn(t, srv)

	// A create Synapse refuses (400 M_EXCLUSIVE: an application service's
	// namespace).
	r := f.run(t, map[string]any{"user": "bridge_refused", "password": "refused-pass-1"})
	requireCleanFailure(t, r, "cannot create @bridge_refused:test.local", "M_EXCLUSIVE")
	assert.False(t, r.changed(), "a refused create is no change")
	assert.Nil(t, r.Result["user"], "a failed create reports no user")
	assert.False(t, r.bool("created"))

	// The same in a batch: the refused create counts as failed, and the
	// batch changed nothing.
	keep := uniqueUser("keep")
	_, err := srv.Register(keep, "keep-pass-1", false)
	require.NoError(t, err)
	r = f.run(t, map[string]any{"users": []any{map[string]any{"username": "bridge_refused"}, map[string]any{"username": keep}}})
	require.True(t, r.failed())
	assert.False(t, r.changed())
	assert.Equal(t, map[string]int{"created": 0, "updated": 0, "reactivated": 0, "deactivated": 0, "unchanged": 1, "failed": 1}, r.summary())

	// A wrong registration shared secret (403).
	r = runModule(t, "matrix_user", map[string]any{"homeserver_url": f.proxy.URL, "service_account": "", "registration_shared_secret": "not-the-secret-1", "user": uniqueUser("wrongsecret"), "password": "wrong-secret-pass"})
	requireCleanFailure(t, r, "registration_shared_secret does not match")
	assert.False(t, r.changed())
	assert.Nil(t, r.Result["user"])
}

// A run interrupted (SIGTERM: Ansible's task timeout) before a write sends
// it never, and does not count it. Here the run is stopped while it reads
// back the first password it set: the next user's create is never sent.
func TestInterruptedRunCountsOnlyWhatItSent(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	p := uniqueUser("sigterm")
	held := make(chan struct{})
	var once sync.Once
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/search_users/") {
			once.Do(func() { close(held) })
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	m := startModule(t, "matrix_user", f.args(map[string]any{"users": []any{
		map[string]any{"username": p + "-a", "password": "sigterm-pass-a"},
		map[string]any{"username": p + "-b", "password": "sigterm-pass-b"},
	}}))
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the read back never came")
	}
	require.NoError(t, m.cmd.Process.Signal(syscall.SIGTERM))
	r := m.wait(t, 30*time.Second)
	requireCleanFailure(t, r, "interrupted by SIGTERM")
	a, b := r.batchUsers()[srv.UserID(p+"-a")], r.batchUsers()[srv.UserID(p+"-b")]
	assert.Equal(t, "created", a["action"], "the first was created before the signal")
	assert.Equal(t, "failed", b["action"])
	assert.Contains(t, b["error"], "was not created: the run was interrupted (interrupted by SIGTERM)")
	assert.True(t, r.changed(), "one create was acknowledged")
	assert.Nil(t, f.read(t, p+"-b"), "never sent")
	for _, req := range f.proxy.Writes() {
		assert.NotContains(t, req.Path, p+"-b", "nothing was sent for %s-b", p)
	}

	// Interrupted with nothing sent: no change.
	existing := uniqueUser("sigterm-old")
	_, err := srv.Register(existing, "sigterm-old-pass", false)
	require.NoError(t, err)
	held = make(chan struct{})
	once = sync.Once{}
	m = startModule(t, "matrix_user", f.args(map[string]any{"user": existing, "password": "sigterm-new-pass", "update_password": "always"}))
	<-held
	require.NoError(t, m.cmd.Process.Signal(syscall.SIGTERM))
	r = m.wait(t, 30*time.Second)
	requireCleanFailure(t, r, "interrupted by SIGTERM")
	assert.False(t, r.changed())
	_, err = srv.Login(existing, "sigterm-old-pass")
	assert.NoError(t, err)
}

// matrix_user_admin: a refusal is no change; a write whose answer was lost
// is, and says it may have been applied.
func TestAdminWriteRefusedOrLost(t *testing.T) {
	f := newFixture(t)
	name := f.plainUser(t, "adminwrite")
	isAdminPut := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/admin")
	}
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if isAdminPut(r) {
			writeJSONAnswer(w, http.StatusBadRequest, map[string]any{"errcode": "M_UNKNOWN", "error": "refused by a test"})
			return true
		}
		return false
	})
	r := f.runAdmin(t, map[string]any{"user": name, "admin": true})
	requireCleanFailure(t, r, "cannot make @"+name+":test.local a server admin", "refused by a test")
	assert.False(t, r.changed())
	assert.NotContains(t, r.msg(), "may still")

	// Applied, then the connection cut before the answer.
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !isAdminPut(r) {
			return false
		}
		if st, _, err := f.srv.Do(http.MethodPut, r.URL.Path, f.token, map[string]any{"admin": true}); err != nil || st != http.StatusOK {
			t.Errorf("setting admin behind the module's back: %d %v", st, err)
		}
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return true
	})
	r = f.runAdmin(t, map[string]any{"user": name, "admin": true, "retries": 0})
	f.proxy.SetFault(nil)
	requireCleanFailure(t, r, "the request may still have been applied (rerun to see)")
	assert.True(t, r.changed())
	assert.Equal(t, true, f.read(t, name)["admin"])
	r = f.runAdmin(t, map[string]any{"user": name, "admin": true}).mustSucceed(t)
	assert.False(t, r.changed(), "the rerun sees it")
}

// The same rule counts a batch: users whose writes were refused are failed
// and no change; the others' are.
func TestBatchChangedCountsOnlyWritesThatLanded(t *testing.T) {
	f := newFixture(t)
	p := uniqueUser("landed")
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+f.srv.UserID(p+"-refused")) {
			writeJSONAnswer(w, http.StatusBadRequest, map[string]any{"errcode": "M_INVALID_PARAM", "error": "refused by a test"})
			return true
		}
		return false
	})
	defer f.proxy.SetFault(nil)
	users := []any{map[string]any{"username": p + "-refused", "password": "landed-pass-1"}}
	r := f.run(t, map[string]any{"users": users})
	require.True(t, r.failed())
	assert.False(t, r.changed(), "only a refused create: no change")
	users = append(users, map[string]any{"username": p + "-fine", "password": "landed-pass-2"})
	r = f.run(t, map[string]any{"users": users})
	require.True(t, r.failed())
	assert.True(t, r.changed())
	assert.Equal(t, 1, r.summary()["created"])
	assert.Equal(t, 1, r.summary()["failed"])
	assert.Contains(t, fmt.Sprint(r.batchUsers()[f.srv.UserID(p+"-refused")]["error"]), "users[0] ("+p+"-refused): cannot create")
}
