package modules

import (
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Names of the per-user options of matrix_user.
const (
	optUser           = "user"
	optState          = "state"
	optErase          = "erase"
	optPassword       = "password"
	optUpdatePassword = "update_password"
	optLogoutDevices  = "logout_devices"
	optAdmin          = "admin"
	optDisplayname    = "displayname"
	optAvatarURL      = "avatar_url"
	optUserType       = "user_type"
	optLocked         = "locked"
	optThreepids      = "threepids"
	optExternalIDs    = "external_ids"
)

// userOptionSpec is the spec of the options that describe one user. They
// are the top-level options of the single-user form and the keys of each
// entry of users. In entries, update_password and logout_devices have no
// default of their own: an entry that leaves them out takes the top-level
// value.
func userOptionSpec(entry bool) []ansible.Option {
	opts := []ansible.Option{
		{Name: optUser, Type: ansible.TypeStr, Aliases: []string{"username"}, Required: entry},
		{Name: optState, Type: ansible.TypeStr, Choices: []string{"present", "absent"}, Default: "present"},
		{Name: optErase, Type: ansible.TypeBool, Default: false},
		{Name: optPassword, Type: ansible.TypeStr, NoLog: true},
		{Name: optUpdatePassword, Type: ansible.TypeStr, Choices: []string{"always", "on_create"}, Default: "on_create"},
		{Name: optLogoutDevices, Type: ansible.TypeBool, Default: true},
		{Name: optAdmin, Type: ansible.TypeBool},
		{Name: optDisplayname, Type: ansible.TypeStr},
		{Name: optAvatarURL, Type: ansible.TypeStr},
		{Name: optUserType, Type: ansible.TypeStr},
		{Name: optLocked, Type: ansible.TypeBool},
		{Name: optThreepids, Type: ansible.TypeList, Elements: ansible.TypeDict, Options: []ansible.Option{
			{Name: "medium", Type: ansible.TypeStr, Required: true, Choices: []string{"email", "msisdn"}},
			{Name: "address", Type: ansible.TypeStr, Required: true},
		}},
		{Name: optExternalIDs, Type: ansible.TypeList, Elements: ansible.TypeDict, Options: []ansible.Option{
			{Name: "auth_provider", Type: ansible.TypeStr, Required: true},
			{Name: "external_id", Type: ansible.TypeStr, Required: true},
		}},
	}
	if entry {
		for i := range opts {
			if opts[i].Name == optUpdatePassword || opts[i].Name == optLogoutDevices {
				opts[i].Default = nil
			}
		}
	}
	return opts
}

// perUserOnly are the per-user options that make no sense at the top level
// of the batch form (update_password and logout_devices do: they are the
// default for every entry).
var perUserOnly = []string{optState, optErase, optPassword, optAdmin, optDisplayname, optAvatarURL, optUserType, optLocked, optThreepids, optExternalIDs}

// userOptions are one user's options as the task gave them, decoded once
// from the arguments: a nil pointer is an option not given (or null), which
// the declaration leaves unmanaged.
type userOptions struct {
	User     string
	State    string
	Erase    bool
	Password *string
	// UpdatePassword and LogoutDevices hold the value with the spec's
	// default applied ("" and false in an entry, which has none); the
	// Given flags say whether the task set them, as an entry that did not
	// takes the top-level value.
	UpdatePassword      string
	UpdatePasswordGiven bool
	LogoutDevices       bool
	LogoutDevicesGiven  bool
	Admin               *bool
	Displayname         *string
	AvatarURL           *string
	UserType            *string
	Locked              *bool
	Threepids           *[]synapse.Threepid
	ExternalIDs         *[]synapse.ExternalID
}

// decodeUser reads one user's options (the top level of the task, or one
// entry of users).
func decodeUser(p *ansible.Params) userOptions {
	u := userOptions{
		User:                p.String(optUser),
		State:               p.String(optState),
		Erase:               p.Bool(optErase),
		Password:            p.OptString(optPassword),
		UpdatePassword:      p.String(optUpdatePassword),
		UpdatePasswordGiven: p.Given(optUpdatePassword),
		LogoutDevices:       p.Bool(optLogoutDevices),
		LogoutDevicesGiven:  p.Given(optLogoutDevices),
		Admin:               p.OptBool(optAdmin),
		Displayname:         p.OptString(optDisplayname),
		AvatarURL:           p.OptString(optAvatarURL),
		UserType:            p.OptString(optUserType),
		Locked:              p.OptBool(optLocked),
	}
	if p.Given(optThreepids) {
		threepids := []synapse.Threepid{}
		for _, t := range p.List(optThreepids) {
			threepids = append(threepids, synapse.Threepid{Medium: t.String("medium"), Address: t.String("address")})
		}
		u.Threepids = &threepids
	}
	if p.Given(optExternalIDs) {
		ids := []synapse.ExternalID{}
		for _, e := range p.List(optExternalIDs) {
			ids = append(ids, synapse.ExternalID{AuthProvider: e.String("auth_provider"), ExternalID: e.String("external_id")})
		}
		u.ExternalIDs = &ids
	}
	return u
}

// desiredFrom turns one user's options into a declaration, checking
// everything that can be checked before a request. fallback holds the
// top-level options an entry falls back to (nil for the single form).
func desiredFrom(u userOptions, entry problem.Entry, fallback *userOptions) (*reconcile.Desired, error) {
	localpart, server, err := reconcile.ParseUserRef(u.User)
	if err != nil {
		return nil, problem.Errorf(problem.Invalid, "%s: %s", problem.Option(optUser), err).About(entry)
	}
	d := &reconcile.Desired{
		Entry:          entry,
		Localpart:      localpart,
		Server:         server,
		State:          reconcile.State(u.State),
		Erase:          u.Erase,
		Password:       u.Password,
		UpdatePassword: reconcile.PasswordPolicy(u.UpdatePassword),
		LogoutDevices:  u.LogoutDevices,
		Admin:          u.Admin,
		Displayname:    u.Displayname,
		AvatarURL:      u.AvatarURL,
		UserType:       u.UserType,
		Locked:         u.Locked,
	}
	if fallback != nil {
		// The top-level update_password is a default for entries that
		// have a password; an entry without one has nothing to update.
		if !u.UpdatePasswordGiven && d.Password != nil {
			d.UpdatePassword = reconcile.PasswordPolicy(fallback.UpdatePassword)
		}
		if !u.LogoutDevicesGiven {
			d.LogoutDevices = fallback.LogoutDevices
		}
	}
	if d.UpdatePassword == "" {
		d.UpdatePassword = reconcile.PasswordOnCreate
	}
	if d.AvatarURL != nil && *d.AvatarURL != "" && !strings.HasPrefix(*d.AvatarURL, "mxc://") {
		return nil, problem.Errorf(problem.Invalid, "%s: %q is not an mxc:// URI (upload the image to the media repository first; \"\" removes the avatar)", problem.Option(optAvatarURL), *d.AvatarURL).About(entry)
	}
	if u.Threepids != nil {
		out, err := reconcile.CanonicalThreepids(*u.Threepids)
		if err != nil {
			return nil, about(err, entry)
		}
		d.Threepids = &out
	}
	if u.ExternalIDs != nil {
		out, err := reconcile.CanonicalExternalIDs(*u.ExternalIDs)
		if err != nil {
			return nil, about(err, entry)
		}
		d.ExternalIDs = &out
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// about is err concerning the entry e.
func about(err error, e problem.Entry) error {
	if m, ok := err.(*problem.Message); ok {
		return m.About(e)
	}
	return problem.Errorf(problem.Invalid, "%s", err).About(e)
}
