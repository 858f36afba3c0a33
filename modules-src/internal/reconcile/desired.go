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
	"unicode/utf8"

	"golang.org/x/text/cases"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// names lists option names, each in the user's words, joined with ", ".
type names []string

// Render joins the names.
func (ns names) Render(n problem.Naming) string {
	out := make([]string, len(ns))
	for i, name := range ns {
		out[i] = n.Name(name)
	}
	return strings.Join(out, ", ")
}

// andNames lists option names as a sentence does: "a, b and c".
type andNames []string

// Render joins the names with commas and "and".
func (ns andNames) Render(n problem.Naming) string {
	out := make([]string, len(ns))
	for i, name := range ns {
		out[i] = n.Name(name)
	}
	return problem.Join(out)
}

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

// Desired is one user as the task declares it: its state, and the fields
// of the fields table it declares. A field not declared is not managed:
// whatever Synapse has for it is left alone.
type Desired struct {
	// Entry is the entry of the declaration, which messages name before
	// the full ID is known: the user as written, or users[3] in a batch.
	Entry     problem.Entry
	Localpart string
	// Server is the server part of a full ID as written, "" for a localpart.
	Server string

	State          State
	Erase          bool
	UpdatePassword PasswordPolicy
	LogoutDevices  bool
	// values are the declared fields by name, as their Declare made them.
	values map[string]any
}

// Declare declares a field with the value its option was given (as the
// option's type coercion makes it): checked against the field's length
// limit and canonicalised by its Declare. Its errors concern d's entry.
func (d *Desired) Declare(name string, v any) error {
	f := FieldNamed(name)
	if f == nil {
		return problem.Errorf(problem.Invalid, "%s is not a field of a user", problem.Option(name)).About(d.Entry)
	}
	if s, ok := v.(string); ok && f.MaxChars > 0 && utf8.RuneCountInString(s) > f.MaxChars {
		return problem.Errorf(problem.Invalid, "%s: at most %d characters (Synapse's limit)", problem.Option(f.Name), f.MaxChars).About(d.Entry)
	}
	if f.Declare != nil {
		var err error
		if v, err = f.Declare(v); err != nil {
			return about(err, d.Entry)
		}
	}
	d.set(name, v)
	return nil
}

// set declares a field with a value that is already canonical.
func (d *Desired) set(name string, v any) {
	if d.values == nil {
		d.values = map[string]any{}
	}
	d.values[name] = v
}

// Value is a declared field's value; ok is false when it is not declared.
func (d *Desired) Value(name string) (v any, ok bool) {
	v, ok = d.values[name]
	return v, ok
}

// Password is the declared password, or nil.
func (d *Desired) Password() *string {
	if pw, ok := d.values["password"].(string); ok {
		return &pw
	}
	return nil
}

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
				return nil, problem.Errorf(problem.Invalid, "%s: %q is not an email address", problem.Option(fmt.Sprintf("threepids[%d]", i)), t.Address)
			}
			t.Address = emailFold.String(local) + "@" + strings.ToLower(domain)
		}
		if t.Address == "" {
			return nil, problem.Errorf(problem.Invalid, "%s: the address is empty", problem.Option(fmt.Sprintf("threepids[%d]", i)))
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
			return nil, problem.Errorf(problem.Invalid, "%s: auth_provider and external_id may not be empty", problem.Option(fmt.Sprintf("external_ids[%d]", i)))
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
// request: what state=absent allows, what update_password needs (Declare
// checked each field on its own).
func (d *Desired) Validate() error {
	invalid := func(format string, args ...any) error {
		return problem.Errorf(problem.Invalid, format, args...).About(d.Entry)
	}
	if pw := d.Password(); pw != nil && *pw == "" {
		return invalid("%s may not be empty; leave it out to not manage the password", problem.Name("password"))
	}
	if d.UpdatePassword == PasswordAlways && d.Password() == nil {
		return invalid("%s=always needs a %s", problem.Name("update_password"), problem.Name("password"))
	}
	if d.State == StateAbsent {
		// Every declarable field is refused: the account is deactivated.
		extra := d.Declared()
		if len(extra) > 0 {
			sort.Strings(extra)
			return invalid("%s=absent deactivates the user, so %s cannot be set with it (a deactivated user cannot also be locked, and has no password)", problem.Name("state"), names(extra))
		}
	} else if d.Erase {
		return invalid("%s applies only with %s=absent", problem.Name("erase"), problem.Name("state"))
	}
	return nil
}
