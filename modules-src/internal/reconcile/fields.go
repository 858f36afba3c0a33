package reconcile

import (
	"fmt"
	"slices"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// field is everything the planner, the diff and validation know about one
// per-user field. Adding a field starts here (see CONTRIBUTING.md).
type field struct {
	name string
	// given reports whether the declaration manages the field; nil for
	// the fields a run sets from state (deactivated, erased), which are
	// no option of their own and so never declared, refused or validated.
	given func(d *Desired) bool
	// differs reports whether the declared value differs from u's; nil
	// when planModify decides itself (password: its hash is compared
	// elsewhere, and update_password decides).
	differs func(d *Desired, u *synapse.User) bool
	// send puts the declared value into a PUT body. A create sends no
	// field (see Plan.Create): a second PUT sends each declared field
	// that differs from what Synapse gave the new account.
	send func(d *Desired, body *synapse.UserUpdate)
	// show is the field's value in u as a diff shows it; nil for a value
	// never shown (password: the diff shows a marker).
	show func(u *synapse.User) any
	// text and maxChars are Synapse's length limit, in characters (Python's
	// len), for a string field; maxChars 0 is no limit.
	text     func(d *Desired) *string
	maxChars int
	// registrable: a shared-secret registration can set the field.
	registrable bool
	// selfGuard refuses a change that would lock out the admin the module
	// authenticates as (id); nil when no value of the field can.
	selfGuard func(d *Desired, id string) error
}

// Synapse's limits, in characters (Python's len): longer values are
// refused by the server, the display name and avatar only when changed.
const (
	maxPasswordLen    = 512
	maxDisplaynameLen = 256
	maxAvatarURLLen   = 1000
)

// fields in the order they are reported (Synapse's own order of applying a
// modification).
var fields = []field{
	{
		name:        "password",
		given:       func(d *Desired) bool { return d.Password != nil },
		send:        func(d *Desired, b *synapse.UserUpdate) { b.Password = d.Password },
		text:        func(d *Desired) *string { return d.Password },
		maxChars:    maxPasswordLen,
		registrable: true,
	},
	{
		name:        "displayname",
		given:       func(d *Desired) bool { return d.Displayname != nil },
		differs:     func(d *Desired, u *synapse.User) bool { return *d.Displayname != deref(u.Displayname) },
		send:        func(d *Desired, b *synapse.UserUpdate) { b.Displayname = d.Displayname },
		show:        func(u *synapse.User) any { return u.Displayname },
		text:        func(d *Desired) *string { return d.Displayname },
		maxChars:    maxDisplaynameLen,
		registrable: true,
	},
	{
		name:    "threepids",
		given:   func(d *Desired) bool { return d.Threepids != nil },
		differs: func(d *Desired, u *synapse.User) bool { return !sameThreepids(*d.Threepids, u.Threepids) },
		send:    func(d *Desired, b *synapse.UserUpdate) { b.Threepids = d.Threepids },
		show: func(u *synapse.User) any {
			if !u.Detailed {
				return "(unknown)"
			}
			return nonNilSlice(u.Threepids)
		},
	},
	{
		name:    "external_ids",
		given:   func(d *Desired) bool { return d.ExternalIDs != nil },
		differs: func(d *Desired, u *synapse.User) bool { return !sameExternalIDs(*d.ExternalIDs, u.ExternalIDs) },
		send:    func(d *Desired, b *synapse.UserUpdate) { b.ExternalIDs = d.ExternalIDs },
		show: func(u *synapse.User) any {
			if !u.Detailed {
				return "(unknown)"
			}
			return nonNilSlice(u.ExternalIDs)
		},
	},
	{
		name:     "avatar_url",
		given:    func(d *Desired) bool { return d.AvatarURL != nil },
		differs:  func(d *Desired, u *synapse.User) bool { return *d.AvatarURL != deref(u.AvatarURL) },
		send:     func(d *Desired, b *synapse.UserUpdate) { b.AvatarURL = d.AvatarURL },
		show:     func(u *synapse.User) any { return u.AvatarURL },
		text:     func(d *Desired) *string { return d.AvatarURL },
		maxChars: maxAvatarURLLen,
	},
	{
		name:        "admin",
		given:       func(d *Desired) bool { return d.Admin != nil },
		differs:     func(d *Desired, u *synapse.User) bool { return *d.Admin != bool(u.Admin) },
		send:        func(d *Desired, b *synapse.UserUpdate) { b.Admin = d.Admin },
		show:        func(u *synapse.User) any { return bool(u.Admin) },
		registrable: true,
		selfGuard: func(d *Desired, id string) error {
			if !*d.Admin {
				return problem.Errorf(problem.SelfGuard, "refusing to demote %s: it is the admin this module authenticates as (Synapse forbids demoting yourself)", id)
			}
			return nil
		},
	},
	{
		name: "deactivated",
		show: func(u *synapse.User) any { return bool(u.Deactivated) },
	},
	{
		name: "erased",
		show: func(u *synapse.User) any { return bool(u.Erased) },
	},
	{
		name:    "locked",
		given:   func(d *Desired) bool { return d.Locked != nil },
		differs: func(d *Desired, u *synapse.User) bool { return *d.Locked != bool(u.Locked) },
		send:    func(d *Desired, b *synapse.UserUpdate) { b.Locked = d.Locked },
		show:    func(u *synapse.User) any { return bool(u.Locked) },
		selfGuard: func(d *Desired, id string) error {
			if *d.Locked {
				return problem.Errorf(problem.SelfGuard, "refusing to lock %s: it is the admin this module authenticates as", id)
			}
			return nil
		},
	},
	{
		name:        "user_type",
		given:       func(d *Desired) bool { return d.UserType != nil },
		differs:     func(d *Desired, u *synapse.User) bool { return *d.UserType != deref(u.UserType) },
		send:        func(d *Desired, b *synapse.UserUpdate) { b.UserType = d.UserType },
		show:        func(u *synapse.User) any { return u.UserType },
		registrable: true,
	},
}

// fieldNamed is the table entry of a field name. An unknown name is a
// programming error (a misspelt name would otherwise vanish from changes
// and the diff while its request is still sent), so it panics; the module's
// dispatch turns a panic into a failed result.
func fieldNamed(name string) field {
	i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
	if i < 0 {
		panic(fmt.Sprintf("reconcile: unknown user field %q", name))
	}
	return fields[i]
}

// ordered puts field names into report order; it panics on a name that is
// not in the fields table rather than drop it.
func ordered(names []string) []string {
	for _, n := range names {
		fieldNamed(n)
	}
	out := make([]string, 0, len(names))
	for _, f := range fields {
		if slices.Contains(names, f.name) {
			out = append(out, f.name)
		}
	}
	return out
}

// registrableFields lists, in report order, the fields a shared-secret
// registration can set.
func registrableFields() []string {
	var out []string
	for _, f := range fields {
		if f.registrable {
			out = append(out, f.name)
		}
	}
	return out
}

// declaredFields lists, in report order, the fields d manages: all of
// them, or with registrableOnly those a shared-secret registration can set.
func declaredFields(d *Desired, registrableOnly bool) []string {
	var out []string
	for _, f := range fields {
		if f.given != nil && f.given(d) && (f.registrable || !registrableOnly) {
			out = append(out, f.name)
		}
	}
	return out
}
