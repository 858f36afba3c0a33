package sshtest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// The harness itself: sshd starts, takes the key for root and TestUser
// through the relay, counts the bytes, and stops.
func TestStartStop(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for _, u := range []string{"root", TestUser} {
		s.Reset()
		args := append(strings.Fields(s.SSHArgs()), "-i", s.Key, "-p", fmt.Sprint(s.Port), "-o", "BatchMode=yes", u+"@127.0.0.1", "id -un")
		out, err := exec.Command("ssh", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh as %s: %v\n%s\n%s", u, err, out, s.LogTail(20))
		}
		if strings.TrimSpace(string(out)) != u {
			t.Errorf("logged in as %q, want %s", out, u)
		}
		if s.Sent() == 0 || s.Received() == 0 {
			t.Errorf("the relay counted %d bytes sent and %d received", s.Sent(), s.Received())
		}
	}
}
