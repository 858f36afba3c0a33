// Package reconcile brings Synapse users to a declared state: it compares
// what the task declares (Desired) with what Synapse reports (the current
// user), turns the difference into a Plan of as few requests as the admin API
// allows, and applies plans with bounded concurrency. Planning is pure and
// tested without a server; reading and applying go through the Client
// interface (*synapse.Client in a run, an in-memory fake in the unit tests).
package reconcile

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// State is whether the account should be usable.
type State string

// The states a user can be declared in.
const (
	StatePresent State = "present"
	StateAbsent  State = "absent" // deactivated
)

// PasswordPolicy says when a declared password is applied.
type PasswordPolicy string

// The update_password choices.
const (
	PasswordOnCreate PasswordPolicy = "on_create"
	PasswordAlways   PasswordPolicy = "always"
)

// Desired is one user as the task declares it. A nil field is not managed:
// whatever Synapse has for it is left alone.
type Desired struct {
	// Ref names the entry in messages before the full ID is known: the
	// user as written, or users[3] in a batch.
	Ref       string
	Localpart string
	// Server is the server part of a full ID as written, "" for a localpart.
	Server string

	State          State
	Erase          bool
	Password       *string
	UpdatePassword PasswordPolicy
	LogoutDevices  bool
	Admin          *bool
	Displayname    *string
	AvatarURL      *string
	UserType       *string
	Locked         *bool
	Threepids      *[]synapse.Threepid
	ExternalIDs    *[]synapse.ExternalID
}

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
		if err := CheckIDLength(localpart, server); err != nil {
			return "", "", fmt.Errorf("%q: %v", ref, err)
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

// CheckIDLength applies Synapse's 255-byte limit to the whole user ID.
func CheckIDLength(localpart, server string) error {
	if n := len("@" + localpart + ":" + server); n > maxUserIDLength {
		return fmt.Errorf("the user ID @%s:%s is %d bytes; Synapse allows at most %d", localpart, server, n, maxUserIDLength)
	}
	return nil
}

// UserID is the full ID of a localpart on a server.
func UserID(localpart, server string) string { return "@" + localpart + ":" + server }

var emailFold = cases.Fold()

// CanonicalThreepids prepares declared threepids the way Synapse stores
// them, so that comparing with what Synapse reports does not see a
// difference where Synapse would see none: email addresses are trimmed,
// their local part case-folded and their domain lower-cased (Synapse's
// canonicalise_email), duplicates dropped, and the list sorted.
func CanonicalThreepids(in []synapse.Threepid) ([]synapse.Threepid, error) {
	seen := map[synapse.Threepid]bool{}
	out := make([]synapse.Threepid, 0, len(in))
	for i, t := range in {
		t.Address = strings.TrimSpace(t.Address)
		if t.Medium == "email" {
			local, domain, ok := strings.Cut(t.Address, "@")
			if !ok || strings.Contains(domain, "@") || local == "" || domain == "" {
				return nil, fmt.Errorf("threepids[%d]: %q is not an email address", i, t.Address)
			}
			t.Address = emailFold.String(local) + "@" + strings.ToLower(domain)
		}
		if t.Address == "" {
			return nil, fmt.Errorf("threepids[%d]: the address is empty", i)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sortThreepids(out)
	return out, nil
}

// CanonicalExternalIDs refuses empty values, drops duplicates and sorts, so
// that the declared list compares equal to Synapse's whatever its order.
func CanonicalExternalIDs(in []synapse.ExternalID) ([]synapse.ExternalID, error) {
	seen := map[synapse.ExternalID]bool{}
	out := make([]synapse.ExternalID, 0, len(in))
	for i, e := range in {
		if e.AuthProvider == "" || e.ExternalID == "" {
			return nil, fmt.Errorf("external_ids[%d]: auth_provider and external_id may not be empty", i)
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	sortExternalIDs(out)
	return out, nil
}

func sortThreepids(s []synapse.Threepid) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Medium != s[j].Medium {
			return s[i].Medium < s[j].Medium
		}
		return s[i].Address < s[j].Address
	})
}

func sortExternalIDs(s []synapse.ExternalID) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].AuthProvider != s[j].AuthProvider {
			return s[i].AuthProvider < s[j].AuthProvider
		}
		return s[i].ExternalID < s[j].ExternalID
	})
}

// Validate checks the rules between fields of one declaration, before any
// request: what state=absent allows, what update_password needs, Synapse's
// length limits.
func (d *Desired) Validate() error {
	if d.Password != nil && *d.Password == "" {
		return fmt.Errorf("password may not be empty; leave it out to not manage the password")
	}
	for _, f := range fields {
		if f.maxChars > 0 {
			if v := f.text(d); v != nil && utf8.RuneCountInString(*v) > f.maxChars {
				return fmt.Errorf("option %s: at most %d characters (Synapse's limit)", f.name, f.maxChars)
			}
		}
	}
	if d.UpdatePassword == PasswordAlways && d.Password == nil {
		return fmt.Errorf("update_password=always needs a password")
	}
	if d.State == StateAbsent {
		// Every declarable field is refused: the account is deactivated.
		extra := d.Declared()
		if len(extra) > 0 {
			sort.Strings(extra)
			return fmt.Errorf("state=absent deactivates the user, so %s cannot be set with it (a deactivated user cannot also be locked, and has no password)", strings.Join(extra, ", "))
		}
	} else if d.Erase {
		return fmt.Errorf("erase applies only with state=absent")
	}
	return nil
}
