package synapsetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// These helpers set up and inspect a test server with plain HTTP written
// for the tests, so that a bug in the module's own client cannot hide itself.

func testTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Only the harness's own requests skip verification; the module's TLS
	// behaviour is tested through its own options.
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test helper
	return t
}

// Do sends one request and decodes the JSON answer (nil for an empty body).
func (s *Server) Do(method, path, token string, body any) (int, any, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var out any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("%s %s: not JSON: %q", method, path, data)
		}
	}
	return resp.StatusCode, out, nil
}

// Register creates a user with the shared secret, as register_new_matrix_user
// does, and returns an access token of the new user.
func (s *Server) Register(localpart, password string, admin bool) (string, error) {
	status, out, err := s.Do(http.MethodGet, "/_synapse/admin/v1/register", "", nil)
	if err != nil || status != http.StatusOK {
		return "", fmt.Errorf("nonce: %d %v %v", status, out, err)
	}
	nonce := out.(map[string]any)["nonce"].(string)
	mac := hmac.New(sha1.New, []byte(s.SharedSecret))
	kind := "notadmin"
	if admin {
		kind = "admin"
	}
	mac.Write([]byte(nonce + "\x00" + localpart + "\x00" + password + "\x00" + kind))
	status, out, err = s.Do(http.MethodPost, "/_synapse/admin/v1/register", "", map[string]any{
		"nonce": nonce, "username": localpart, "password": password, "admin": admin,
		"mac": hex.EncodeToString(mac.Sum(nil)),
	})
	if err != nil || status != http.StatusOK {
		return "", fmt.Errorf("register %s: %d %v %v", localpart, status, out, err)
	}
	return out.(map[string]any)["access_token"].(string), nil
}

// Login logs a user in and returns the access token.
func (s *Server) Login(localpart, password string) (string, error) {
	status, out, err := s.Do(http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": localpart},
		"password":   password,
	})
	if err != nil || status != http.StatusOK {
		return "", fmt.Errorf("login %s: %d %v %v", localpart, status, out, err)
	}
	return out.(map[string]any)["access_token"].(string), nil
}

// TokenValid reports whether an access token still works.
func (s *Server) TokenValid(token string) bool {
	status, _, err := s.Do(http.MethodGet, "/_matrix/client/v3/account/whoami", token, nil)
	return err == nil && status == http.StatusOK
}

// User reads a user through the admin API; nil when it does not exist.
func (s *Server) User(token, userID string) (map[string]any, error) {
	status, out, err := s.Do(http.MethodGet, "/_synapse/admin/v2/users/"+url.PathEscape(userID), token, nil)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		return nil, nil
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET user %s: %d %v", userID, status, out)
	}
	return out.(map[string]any), nil
}

// PasswordHash reads a user's stored hash (search_users), "" when none.
func (s *Server) PasswordHash(token, adminID, userID string) (string, error) {
	status, out, err := s.Do(http.MethodGet, "/_synapse/admin/v1/search_users/"+url.PathEscape(adminID)+"?term="+url.QueryEscape(userID), token, nil)
	if err != nil || status != http.StatusOK {
		return "", fmt.Errorf("search_users: %d %v %v", status, out, err)
	}
	for _, row := range out.([]any) {
		m := row.(map[string]any)
		if m["name"] == userID {
			h, _ := m["password_hash"].(string)
			return h, nil
		}
	}
	return "", fmt.Errorf("%s not found by search_users", userID)
}

// Devices lists a user's device IDs through the admin API.
func (s *Server) Devices(token, userID string) ([]string, error) {
	status, out, err := s.Do(http.MethodGet, "/_synapse/admin/v2/users/"+url.PathEscape(userID)+"/devices", token, nil)
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("devices: %d %v %v", status, out, err)
	}
	var ids []string
	for _, d := range out.(map[string]any)["devices"].([]any) {
		ids = append(ids, d.(map[string]any)["device_id"].(string))
	}
	return ids, nil
}

// RegisterAppserviceUser registers a user in an application service's
// namespace, as a bridge does, with the service's token.
func (s *Server) RegisterAppserviceUser(as AppService, localpart string) error {
	status, out, err := s.Do(http.MethodPost, "/_matrix/client/v3/register", as.ASToken, map[string]any{
		"type": "m.login.application_service", "username": localpart, "inhibit_login": true,
	})
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("appservice register %s: %d %v %v", localpart, status, out, err)
	}
	return nil
}

// RegisterGuest registers a guest account and returns its user ID.
func (s *Server) RegisterGuest() (string, error) {
	status, out, err := s.Do(http.MethodPost, "/_matrix/client/v3/register?kind=guest", "", map[string]any{})
	if err != nil || status != http.StatusOK {
		return "", fmt.Errorf("guest register: %d %v %v", status, out, err)
	}
	return out.(map[string]any)["user_id"].(string), nil
}

// admins caches one admin account per server for the tests.
var (
	adminsMu sync.Mutex
	admins   = map[*Server][2]string{}
)

// Admin returns an admin of the server (@admin) and its access token,
// registering it on first use.
func (s *Server) Admin(t TB) (id, token string) {
	t.Helper()
	adminsMu.Lock()
	defer adminsMu.Unlock()
	if pair, ok := admins[s]; ok {
		return pair[0], pair[1]
	}
	token, err := s.Register("admin", AdminPassword, true)
	if err != nil {
		t.Fatalf("registering the test admin: %v", err)
	}
	admins[s] = [2]string{s.UserID("admin"), token}
	return s.UserID("admin"), token
}

// AdminPassword is the password of the test admin (@admin).
const AdminPassword = "admin-test-password-7Qk"
