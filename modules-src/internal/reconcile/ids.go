package reconcile

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// maxUserIDLength is Synapse's limit on a whole user ID, in bytes.
const maxUserIDLength = 255

// ParseUserRef splits what a task gives as a user, a localpart ("john") or
// a full ID ("@john:example.com"), into its parts, lower-cased as Synapse
// stores them. Login is case-insensitive in Synapse and registration refuses
// upper case, so "John" can only mean "john". It refuses what Synapse would
// refuse, with the rule in the message, before any request is made.
func ParseUserRef(ref string) (localpart, server string, err error) {
	// Refuse non-ASCII before lower-casing: Unicode lower-casing maps some
	// characters into ASCII (the Kelvin sign U+212A becomes k), which would
	// quietly manage another user than the one written.
	for _, r := range ref {
		if r > unicode.MaxASCII {
			return "", "", fmt.Errorf("%q: a user ID may only contain ASCII characters (found %q, U+%04X)", ref, r, r)
		}
	}
	s := strings.ToLower(ref)
	if strings.HasPrefix(s, "@") {
		var ok bool
		localpart, server, ok = strings.Cut(s[1:], ":")
		if !ok || server == "" {
			return "", "", fmt.Errorf("%q is not a user ID: a full ID looks like @localpart:server.name", ref)
		}
	} else {
		localpart = s
		if strings.Contains(s, ":") {
			return "", "", fmt.Errorf("%q: a localpart may not contain ':'; write a full ID as @localpart:server.name", ref)
		}
	}
	if err := checkLocalpart(localpart); err != nil {
		return "", "", fmt.Errorf("%q: %v", ref, err)
	}
	// Whatever the server name (at least one byte), @localpart:x must fit
	// in 255 bytes: refuse a longer localpart now, before any request.
	if n := len(localpart); n > maxUserIDLength-3 {
		return "", "", fmt.Errorf("%q: the localpart is %d bytes; a user ID (@localpart:server) is at most %d bytes, so a localpart at most %d", ref, n, maxUserIDLength, maxUserIDLength-3)
	}
	if server != "" {
		if _, err := LocalID(localpart, server, Homeserver{}); err != nil {
			return "", "", fmt.Errorf("%q: %w", ref, err)
		}
	}
	return localpart, server, nil
}

// checkLocalpart applies Synapse's rules for new user IDs.
func checkLocalpart(localpart string) error {
	if localpart == "" {
		return fmt.Errorf("the localpart is empty")
	}
	for _, r := range localpart {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._=-/+", r)) {
			return fmt.Errorf("a localpart may only contain a-z, 0-9 and . _ = - / + (found %q)", r)
		}
	}
	if strings.Trim(localpart, "0123456789") == "" {
		return fmt.Errorf("a localpart may not be all digits (Synapse reserves those for guests)")
	}
	return nil
}

// Homeserver is the server user IDs are checked against.
type Homeserver struct {
	// Name is the server name; "" when it is not known yet.
	Name string
	// Configured says the name is the server_name option (checked before
	// any request), not one learned from the homeserver.
	Configured bool
}

// LocalID is the one check of a declared user's ID against the homeserver:
// the full ID of localpart, written with server ("" for a bare localpart),
// on hs. A user of another server is refused (problem.OtherServer: the
// admin API manages local users only), and so is an ID over Synapse's 255
// bytes (problem.IDTooLong). While hs.Name is not known, a full ID is taken
// as written and a bare localpart has no ID yet ("", nil).
func LocalID(localpart, server string, hs Homeserver) (string, error) {
	name := hs.Name
	if server != "" {
		if name != "" && server != name {
			return "", problem.Errorf(problem.OtherServer, "@%s:%s is on another server; %s, and the admin API manages local users only",
				localpart, server, hs)
		}
		name = server
	}
	if name == "" {
		return "", nil
	}
	id := UserID(localpart, name)
	if n := len(id); n > maxUserIDLength {
		return "", problem.Errorf(problem.IDTooLong, "the user ID %s is %d bytes; Synapse allows at most %d", id, n, maxUserIDLength)
	}
	return id, nil
}

// Render says where the server name comes from: "server_name is x" or
// "this homeserver is x".
func (hs Homeserver) Render(n problem.Naming) string {
	if hs.Configured {
		return n.Name("server_name") + " is " + hs.Name
	}
	return "this homeserver is " + hs.Name
}

// UserID is the full ID of a localpart on a server.
func UserID(localpart, server string) string { return "@" + localpart + ":" + server }

// localpartOf is the localpart of a full user ID.
func localpartOf(userID string) string {
	localpart, _, _ := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	return localpart
}
