package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// devicePrefix starts the device ID of every login run of the module.
const devicePrefix = "MXADMIN_SYNAPSE_ANSIBLE"

// ours keeps the devices of the module's login runs.
func ours(devices []string) []string {
	var out []string
	for _, d := range devices {
		if strings.HasPrefix(d, devicePrefix) {
			out = append(out, d)
		}
	}
	return out
}

func (f *fixture) ourDevices(t *testing.T) []string {
	t.Helper()
	devices, err := f.srv.Devices(f.token, f.adminID)
	require.NoError(t, err)
	return ours(devices)
}

func (f *fixture) loginArgs(extra map[string]any) map[string]any {
	a := map[string]any{"homeserver_url": f.proxy.URL, "admin_user": "admin", "admin_password": synapsetest.AdminPassword, "retries": 0}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

// Two login runs at the same time used to share one device: the first to
// finish logged out the other, which then failed most of its users with
// M_UNKNOWN_TOKEN.
func TestConcurrentLoginRunsDoNotLogEachOtherOut(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	batch := func(prefix string, n int) []any {
		var users []any
		for i := 0; i < n; i++ {
			users = append(users, map[string]any{"username": fmt.Sprintf("%s-%03d", prefix, i), "displayname": "Concurrent"})
		}
		return users
	}
	// The short run ends (and logs out) while the long one is still busy.
	short := startModule(t, "matrix_user", f.loginArgs(map[string]any{"users": batch(uniqueUser("cshort"), 20)}))
	long := startModule(t, "matrix_user", f.loginArgs(map[string]any{"users": batch(uniqueUser("clong"), 300), "concurrency": 2}))
	rs := short.wait(t, 2*time.Minute).mustSucceed(t)
	assert.Equal(t, 20, rs.summary()["created"])
	rl := long.wait(t, 5*time.Minute).mustSucceed(t)
	assert.Equal(t, 300, rl.summary()["created"])
	assert.Empty(t, f.ourDevices(t), "both logged out")
}

// blockUserList makes the proxy hold the user list request until the
// module gives up on it, so that a run can be signalled mid-way.
func blockUserList(f *fixture) {
	f.proxy.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/_synapse/admin/v2/users") {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Minute):
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
}

// waitForRequest waits until the proxy saw a request to path.
func waitForRequest(t *testing.T, f *fixture, suffix string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range f.proxy.Requests() {
			if strings.HasSuffix(r.Path, suffix) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no request to %s", suffix)
}

// SIGTERM or SIGINT (Ansible's task timeout, Ctrl-C) stops the run, logs out
// and still prints one JSON result.
func TestInterruptedLoginRunLogsOutAndReports(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		blockUserList(f)
		f.proxy.Reset()
		m := startModule(t, "matrix_user", f.loginArgs(map[string]any{"users": []any{map[string]any{"username": "sig-a"}, map[string]any{"username": "sig-b"}}}))
		waitForRequest(t, f, "/_synapse/admin/v2/users")
		require.Len(t, f.ourDevices(t), 1, "the run's device exists while it runs")
		require.NoError(t, m.cmd.Process.Signal(sig))
		r := m.wait(t, 30*time.Second)
		name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
		requireCleanFailure(t, r, "interrupted by "+name)
		assert.Equal(t, 1, r.Exit)
		assert.Empty(t, f.ourDevices(t), "%s: the run logged out before exiting", name)
		f.proxy.SetFault(nil)
	}
}

// A run killed with SIGKILL cannot log out. Its device stays while it
// could still be a live run (a concurrent run never cuts another off), and
// the next run removes it once it has not been seen for half an hour.
func TestKilledRunsDeviceRemovedByALaterRun(t *testing.T) {
	srv := synapsetest.New(t, synapsetest.Config{})
	f := fixtureOn(t, srv)
	blockUserList(f)
	m := startModule(t, "matrix_user", f.loginArgs(map[string]any{"users": []any{map[string]any{"username": "kill-a"}, map[string]any{"username": "kill-b"}}}))
	waitForRequest(t, f, "/_synapse/admin/v2/users")
	require.NoError(t, m.cmd.Process.Kill())
	<-m.done
	f.proxy.SetFault(nil)
	left := f.ourDevices(t)
	require.Len(t, left, 1, "a killed run leaves its device")

	// Recently seen: a later run leaves it alone.
	runModule(t, "matrix_user", f.loginArgs(map[string]any{"user": "kill-a"})).mustSucceed(t)
	assert.Equal(t, left, f.ourDevices(t), "a device seen minutes ago may be a live run: kept")

	// Make it look an hour old. Synapse writes last-seen times out every
	// 5 seconds; wait for that, then change the row under it.
	time.Sleep(6 * time.Second)
	ageDevice(t, srv, f.adminID, left[0], time.Hour)
	r := runModule(t, "matrix_user", f.loginArgs(map[string]any{"user": "kill-b"})).mustSucceed(t)
	assert.Empty(t, r.warnings())
	assert.Empty(t, f.ourDevices(t), "the killed run's device is gone, with its token")

	// A device left by a run killed right after its login, never used,
	// goes by the time in its ID; one of another client is never touched.
	stale := fmt.Sprintf("%s_%d_DEADBEEF0000", devicePrefix, time.Now().Add(-2*time.Hour).Unix())
	fresh := fmt.Sprintf("%s_%d_FEEDFACE0000", devicePrefix, time.Now().Unix())
	for _, id := range []string{stale, fresh, "SOMEPHONE"} {
		loginDevice(t, srv, id)
	}
	// Check mode only reads: it leaves the stale device to a real run.
	f.proxy.Reset()
	runModule(t, "matrix_user", f.loginArgs(map[string]any{"user": "kill-b", "_ansible_check_mode": true})).mustSucceed(t)
	devices, err := srv.Devices(f.token, f.adminID)
	require.NoError(t, err)
	assert.Contains(t, devices, stale, "check mode removes nothing")
	runModule(t, "matrix_user", f.loginArgs(map[string]any{"user": "kill-b"})).mustSucceed(t)
	devices, err = srv.Devices(f.token, f.adminID)
	require.NoError(t, err)
	assert.NotContains(t, devices, stale)
	assert.Contains(t, devices, fresh, "a run that just logged in is not cut off")
	assert.Contains(t, devices, "SOMEPHONE")
}

// loginDevice logs the test admin in on a device of the given ID.
func loginDevice(t *testing.T, srv *synapsetest.Server, deviceID string) {
	t.Helper()
	status, out, err := srv.Do(http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
		"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": "admin"},
		"password": synapsetest.AdminPassword, "device_id": deviceID,
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "%v", out)
}

// ageDevice sets a device's last-seen time in Synapse's database.
func ageDevice(t *testing.T, srv *synapsetest.Server, userID, deviceID string, ago time.Duration) {
	t.Helper()
	ts := time.Now().Add(-ago).UnixMilli()
	n, err := srv.Exec("UPDATE devices SET last_seen = ? WHERE user_id = ? AND device_id = ?", ts, userID, deviceID)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the device %s exists", deviceID)
	_, err = srv.Exec("UPDATE user_ips SET last_seen = ? WHERE user_id = ? AND device_id = ?", ts, userID, deviceID)
	require.NoError(t, err)
}
