package modules

import (
	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
)

// Names of the per-user options of matrix_user that are no field of the
// fields table (reconcile.Fields, from which every other per-user option
// comes).
const (
	optUser           = "user"
	optState          = "state"
	optErase          = "erase"
	optUpdatePassword = "update_password"
	optLogoutDevices  = "logout_devices"
	// optAdmin and optAvatarURL are fields; matrix_user_admin and the
	// messages about them name them.
	optAdmin     = "admin"
	optAvatarURL = "avatar_url"
)

// userOptionSpec is the spec of the options that describe one user. They
// are the top-level options of the single-user form and the keys of each
// entry of users. In entries, update_password and logout_devices have no
// default of their own: an entry that leaves them out takes the top-level
// value. Each field of the fields table is an option of its own.
func userOptionSpec(entry bool) []ansible.Option {
	opts := []ansible.Option{
		{Name: optUser, Type: ansible.TypeStr, Aliases: []string{"username"}, Required: entry},
		{Name: optState, Type: ansible.TypeStr, Choices: []string{"present", "absent"}, Default: "present"},
		{Name: optErase, Type: ansible.TypeBool, Default: false},
		{Name: optUpdatePassword, Type: ansible.TypeStr, Choices: []string{"always", "on_create"}, Default: "on_create"},
		{Name: optLogoutDevices, Type: ansible.TypeBool, Default: true},
	}
	if entry {
		opts[3].Default, opts[4].Default = nil, nil
	}
	for _, f := range reconcile.Fields() {
		o := f.Option
		o.Name = f.Name
		opts = append(opts, optionOf(o))
	}
	return opts
}

// optionOf is a field's option as the argument spec declares it.
func optionOf(o reconcile.Option) ansible.Option {
	out := ansible.Option{Name: o.Name, Type: ansible.Type(o.Type), Elements: ansible.Type(o.Elements), Required: o.Required,
		Choices: o.Choices, NoLog: o.NoLog, Min: o.Min, Max: o.Max}
	for _, sub := range o.Options {
		out.Options = append(out.Options, optionOf(sub))
	}
	return out
}

// perUserOnly are the per-user options that make no sense at the top level
// of the batch form (update_password and logout_devices do: they are the
// default for every entry).
func perUserOnly() []string {
	names := []string{optState, optErase}
	for _, f := range reconcile.Fields() {
		names = append(names, f.Name)
	}
	return names
}

// userOptions are one user's options as the task gave them, decoded once
// from the arguments.
type userOptions struct {
	User  string
	State string
	Erase bool
	// UpdatePassword and LogoutDevices hold the value with the spec's
	// default applied ("" and false in an entry, which has none); the
	// Given flags say whether the task set them, as an entry that did not
	// takes the top-level value.
	UpdatePassword      string
	UpdatePasswordGiven bool
	LogoutDevices       bool
	LogoutDevicesGiven  bool
	// Fields are the fields the task gave (an option not given, or null,
	// is not managed), by name, as validation coerced them.
	Fields map[string]any
}

// decodeUser reads one user's options (the top level of the task, or one
// entry of users).
func decodeUser(p *ansible.Params) userOptions {
	u := userOptions{
		User:                p.String(optUser),
		State:               p.String(optState),
		Erase:               p.Bool(optErase),
		UpdatePassword:      p.String(optUpdatePassword),
		UpdatePasswordGiven: p.Given(optUpdatePassword),
		LogoutDevices:       p.Bool(optLogoutDevices),
		LogoutDevicesGiven:  p.Given(optLogoutDevices),
		Fields:              map[string]any{},
	}
	for _, f := range reconcile.Fields() {
		if p.Given(f.Name) {
			u.Fields[f.Name] = p.Value(f.Name)
		}
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
		UpdatePassword: reconcile.PasswordPolicy(u.UpdatePassword),
		LogoutDevices:  u.LogoutDevices,
	}
	for _, f := range reconcile.Fields() {
		if v, ok := u.Fields[f.Name]; ok {
			if err := d.Declare(f.Name, v); err != nil {
				return nil, err
			}
		}
	}
	if fallback != nil {
		// The top-level update_password is a default for entries that
		// have a password; an entry without one has nothing to update.
		if !u.UpdatePasswordGiven && d.Password() != nil {
			d.UpdatePassword = reconcile.PasswordPolicy(fallback.UpdatePassword)
		}
		if !u.LogoutDevicesGiven {
			d.LogoutDevices = fallback.LogoutDevices
		}
	}
	if d.UpdatePassword == "" {
		d.UpdatePassword = reconcile.PasswordOnCreate
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}
