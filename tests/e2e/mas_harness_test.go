package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// The MAS harness end to end, with raw HTTP: a user created through MAS's
// admin API reaches Synapse, logs in through MAS's compatibility login with
// the password MAS holds, and everything the test opened (a compatibility
// session and its device, a personal session) is gone at the end. The
// counting proxies see exactly the writes the test sent.
func TestWithMASHarness(t *testing.T) {
	m := synapsetest.StartMAS(t, synapsetest.MASConfig{})
	token, err := m.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	localpart := uniqueUser("mas-smoke")
	client := &http.Client{Timeout: 30 * time.Second}

	// Create, through the counting proxy, with a request written here.
	m.ResetCounts()
	body, _ := json.Marshal(map[string]any{"username": localpart, "displayname": "Smoke Test"})
	req, _ := http.NewRequest(http.MethodPost, m.MASProxy.URL+"/api/admin/v1/users", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var created struct {
		Data struct {
			Type       string `json:"type"`
			ID         string `json:"id"`
			Attributes struct {
				Username string `json:"username"`
				Admin    bool   `json:"admin"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(data, &created) != nil ||
		created.Data.Type != "user" || created.Data.Attributes.Username != localpart || len(created.Data.ID) != 26 {
		t.Fatalf("POST /api/admin/v1/users: %d %s", resp.StatusCode, data)
	}
	userID := created.Data.ID
	if w := m.MASProxy.Writes(); len(w) != 1 || w[0].Method != http.MethodPost || w[0].Path != "/api/admin/v1/users" {
		t.Fatalf("MAS proxy writes after one create: %+v", w)
	}

	took, err := m.WaitProvisioned(localpart, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Synapse had the user %s after the create answered", took.Round(time.Millisecond))

	// Reads through both proxies write nothing.
	m.ResetCounts()
	for _, target := range []string{
		m.MASProxy.URL + "/api/admin/v1/users/by-username/" + localpart,
		m.MASProxy.URL + "/api/admin/v1/users?filter[status]=active&count=only",
		m.SynapseProxy.URL + "/_matrix/client/v3/profile/" + url.PathEscape(m.UserID(localpart)),
	} {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		if strings.HasPrefix(target, m.MASProxy.URL) {
			// Synapse would introspect it, and refuse a token that
			// belongs to no user: the profile needs none.
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", target, resp.StatusCode)
		}
	}
	if w := m.Writes(); len(w) != 0 || len(m.MASProxy.Requests()) != 2 || len(m.SynapseProxy.Requests()) != 1 {
		t.Fatalf("reads counted wrong: writes %+v, MAS %d requests, Synapse %d", w, len(m.MASProxy.Requests()), len(m.SynapseProxy.Requests()))
	}

	// A password MAS's policy (minimum_complexity 3) accepts.
	password := "Smoke-test pw 7Qk!" + localpart
	if status, out, err := m.Admin(http.MethodPost, "/users/"+userID+"/set-password", map[string]any{"password": password}); err != nil || status != http.StatusNoContent {
		t.Fatalf("set-password: %d %v %v", status, out, err)
	}

	// Synapse's view of the user, through a personal session whose actor is
	// the user itself (a MAS user that is not a MAS admin).
	synToken, sessionID, err := m.SynapseToken(userID, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	status, user, err := m.Synapse(http.MethodGet, "/_synapse/admin/v2/users/"+url.PathEscape(m.UserID(localpart)), synToken, nil)
	if err != nil || status != http.StatusOK || user["displayname"] != "Smoke Test" || user["admin"] != false {
		t.Fatalf("Synapse's admin API on the new user: %d %v %v", status, user, err)
	}

	// Compatibility login through the MAS proxy: one password check, one
	// device in Synapse; logout ends both.
	m.ResetCounts()
	status, compat, device, err := compatLoginVia(m.MASProxy.URL, localpart, password)
	if err != nil || status != http.StatusOK || device == "" {
		t.Fatalf("compatibility login: %d %v", status, err)
	}
	if m.MASProxy.Hashes() != 1 {
		t.Fatalf("the proxy counted %d password checks for one login", m.MASProxy.Hashes())
	}
	status, who, err := m.Synapse(http.MethodGet, "/_matrix/client/v3/account/whoami", compat, nil)
	if err != nil || status != http.StatusOK || who["user_id"] != m.UserID(localpart) || who["device_id"] != device {
		t.Fatalf("whoami with the compatibility token: %d %v %v", status, who, err)
	}
	if !hasDevice(t, m, synToken, localpart, device) {
		t.Fatalf("Synapse lists no device %s after the compatibility login", device)
	}
	if n, err := m.Count("/compat-sessions?filter[user]=" + userID + "&filter[status]=active"); err != nil || n != 1 {
		t.Fatalf("active compatibility sessions after one login: %d %v", n, err)
	}
	if status, _, _, err := m.CompatLogin(localpart, password+"x"); err != nil || status != http.StatusForbidden {
		t.Fatalf("a wrong password: %d %v (want 403)", status, err)
	}
	if err := m.CompatLogout(compat); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Count("/compat-sessions?filter[user]=" + userID + "&filter[status]=active"); err != nil || n != 0 {
		t.Fatalf("active compatibility sessions after logout: %d %v", n, err)
	}
	// MAS deletes the device in Synapse (a job), and Synapse then refuses
	// the token although it cached the introspection.
	deadline := time.Now().Add(30 * time.Second)
	for hasDevice(t, m, synToken, localpart, device) {
		if time.Now().After(deadline) {
			t.Fatalf("device %s still in Synapse 30s after logout", device)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, _, _ := m.Synapse(http.MethodGet, "/_matrix/client/v3/account/whoami", compat, nil); status != http.StatusUnauthorized {
		t.Fatalf("the logged-out token still works on Synapse: %d", status)
	}

	// The personal session is revoked, and none is left active.
	if err := m.RevokePersonalSession(sessionID); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Count("/personal-sessions?filter[actor_user]=" + userID + "&filter[status]=active"); err != nil || n != 0 {
		t.Fatalf("active personal sessions after revoke: %d %v", n, err)
	}

	// mas-cli for set-up: a second user, admin in MAS, not in Synapse.
	other := uniqueUser("mas-cli")
	if _, err := m.CLI("register-user", "--yes", "--admin", "-p", password, other); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WaitProvisioned(other, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	u, err := m.UserByUsername(other)
	attrs, _ := u["attributes"].(map[string]any)
	if err != nil || attrs["admin"] != true {
		t.Fatalf("the user mas-cli registered as admin: %v %v", u, err)
	}
	status, list, err := m.Synapse(http.MethodGet, "/_synapse/admin/v2/users?guests=false&name="+other, synTokenFor(t, m, u), nil)
	users, _ := list["users"].([]any)
	if err != nil || status != http.StatusOK || len(users) != 1 || users[0].(map[string]any)["admin"] != false {
		t.Fatalf("Synapse's user list on a MAS admin (its admin field stays false): %d %v %v", status, list, err)
	}
	if status, out, _ := m.Synapse(http.MethodGet, "/_synapse/admin/v2/users", synTokenFor(t, m, u), nil); status != http.StatusBadRequest {
		t.Fatalf("Synapse's user list without guests=false: %d %v (want 400)", status, out)
	}
}

// An upstream OAuth provider declared through MASConfig.Extra exists in
// MAS, so links to it can be made.
func TestWithMASUpstreamProvider(t *testing.T) {
	m := synapsetest.StartMAS(t, synapsetest.MASConfig{Extra: synapsetest.TestUpstreamProvider})
	if n, err := m.Count("/upstream-oauth-providers"); err != nil || n != 1 {
		t.Fatalf("upstream providers: %d %v", n, err)
	}
	status, out, err := m.Admin(http.MethodPost, "/users", map[string]any{"username": "linked"})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create: %d %v %v", status, out, err)
	}
	userID := out["data"].(map[string]any)["id"].(string)
	status, out, err = m.Admin(http.MethodPost, "/upstream-oauth-links", map[string]any{
		"user_id": userID, "provider_id": synapsetest.TestUpstreamProviderID, "subject": "sub-1",
	})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("link: %d %v %v", status, out, err)
	}
	// mas-cli reads the extra config too.
	if _, err := m.CLI("register-user", "--yes", "-m", synapsetest.TestUpstreamProviderID+":sub-2", "linked2"); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Count("/upstream-oauth-links?filter[provider]=" + synapsetest.TestUpstreamProviderID); err != nil || n != 2 {
		t.Fatalf("links: %d %v", n, err)
	}
}

// compatLoginVia logs in with a password at base (MAS or its proxy).
func compatLoginVia(base, user, password string) (status int, token, device string, err error) {
	body, _ := json.Marshal(map[string]any{
		"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": user}, "password": password,
	})
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post(base+"/_matrix/client/v3/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out)
	return resp.StatusCode, out.AccessToken, out.DeviceID, nil
}

// hasDevice reports whether Synapse lists a device of the user.
func hasDevice(t *testing.T, m *synapsetest.MAS, token, localpart, device string) bool {
	t.Helper()
	status, out, err := m.Synapse(http.MethodGet, "/_synapse/admin/v2/users/"+url.PathEscape(m.UserID(localpart))+"/devices", token, nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("devices: %d %v %v", status, out, err)
	}
	devices, _ := out["devices"].([]any)
	for _, d := range devices {
		if dm, _ := d.(map[string]any); dm["device_id"] == device {
			return true
		}
	}
	return false
}

// synTokenFor mints a one-minute Synapse admin token acting as a MAS user
// (from UserByUsername), revoked when the test ends.
func synTokenFor(t *testing.T, m *synapsetest.MAS, user map[string]any) string {
	t.Helper()
	id, _ := user["id"].(string)
	token, session, err := m.SynapseToken(id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Cleanups run last-in first-out: MAS is still up.
		if err := m.RevokePersonalSession(session); err != nil {
			t.Errorf("revoking the personal session: %v", err)
		}
	})
	return token
}
