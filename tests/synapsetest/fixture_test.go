package synapsetest

import (
	"net/http"
	"net/url"
	"testing"
)

// A fixture written into the database is what Synapse itself reports: its
// admin API counts and reads the accounts as registered ones, with their
// admin flags, deactivation and application service, and an ordinary
// account logs in with the fixture's password.
func TestPopulate(t *testing.T) {
	bridge := AppService{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}
	// search_all_users: the directory then finds accounts that share no room.
	s := New(t, Config{AppServices: []AppService{bridge}, Extra: "user_directory:\n  search_all_users: true\n"})
	_, token := s.Admin(t)
	before, err := s.UserCount(token)
	if err != nil {
		t.Fatal(err)
	}
	f := Fixture{Prefix: "fx", Users: 250, Admins: 3, Deactivated: 20, AppService: "bridge", AppServiceUsers: 30, Password: "fixture-pw-1"}
	if err := s.Populate(f); err != nil {
		t.Fatal(err)
	}
	after, err := s.UserCount(token)
	if err != nil {
		t.Fatal(err)
	}
	if after-before != f.Total() {
		t.Fatalf("the admin API lists %d accounts more after the fixture, want %d", after-before, f.Total())
	}
	check := func(localpart, field string, want any) {
		t.Helper()
		u, err := s.User(token, s.UserID(localpart))
		if err != nil || u == nil {
			t.Fatalf("GET %s: %v %v", localpart, u, err)
		}
		if u[field] != want {
			t.Errorf("%s: %s is %v, want %v", localpart, field, u[field], want)
		}
	}
	check(f.Name(3), "admin", true)
	check(f.Name(4), "admin", false)
	check(f.Name(4), "displayname", f.Name(4))
	check("fx-gone-000020", "deactivated", true)
	check("bridge_fx-000030", "appservice_id", "bridge")
	if _, err := s.Login(f.Name(250), f.Password); err != nil {
		t.Fatalf("a fixture account cannot log in with its password: %v", err)
	}
	// The user directory finds an ordinary account and not a bridge's.
	for term, want := range map[string]int{f.Name(17): 1, "bridge_fx-000001": 0} {
		status, out, err := s.Do(http.MethodPost, "/_matrix/client/v3/user_directory/search", token, map[string]any{"search_term": term})
		if err != nil || status != http.StatusOK {
			t.Fatalf("directory search %s: %d %v %v", url.QueryEscape(term), status, out, err)
		}
		if got := len(out.(map[string]any)["results"].([]any)); got != want {
			t.Errorf("directory search %s: %d results, want %d", term, got, want)
		}
	}
}
