package synapsetest

import (
	"net/http"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	begin := time.Now()
	s := New(t, Config{})
	t.Logf("started in %s at %s", time.Since(begin), s.URL)
	status, out, err := s.Do(http.MethodGet, "/_matrix/client/versions", "", nil)
	if err != nil || status != http.StatusOK || out == nil {
		t.Fatalf("versions: %d %v %v", status, out, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HTTPClient().Get(s.URL + "/health"); err == nil {
		t.Fatal("server still answers after Stop")
	}
}
