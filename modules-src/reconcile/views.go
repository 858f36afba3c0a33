package reconcile

import (
	"slices"

	"github.com/mxadmin/synapse/modules-src/synapse"
)

// UserView is a user as modules return it: its state, never a secret.
// Threepids and external IDs appear only when they were read.
func UserView(u *synapse.User) map[string]any {
	if u == nil {
		return nil
	}
	m := map[string]any{
		"name":        u.Name,
		"admin":       bool(u.Admin),
		"deactivated": bool(u.Deactivated),
		"locked":      bool(u.Locked),
		"erased":      bool(u.Erased),
		"displayname": u.Displayname,
		"avatar_url":  u.AvatarURL,
		"user_type":   u.UserType,
	}
	if u.Detailed {
		m["threepids"] = nonNilSlice(u.Threepids)
		m["external_ids"] = nonNilSlice(u.ExternalIDs)
	}
	return m
}

// diffViews shows, before and after, the fields the declaration manages plus
// whether the account is deactivated. A user that does not exist yet shows
// as an empty before. A password shows as a marker, never as a value.
func diffViews(d *Desired, cur, predicted *synapse.User, p *Plan) (before, after map[string]any) {
	fields := slices.DeleteFunc(d.Declared(), func(f string) bool { return f == "password" })
	fields = append(fields, "deactivated")
	if d.Erase {
		fields = append(fields, "erased")
	}
	before = map[string]any{}
	if cur != nil {
		before = pick(cur, fields)
	}
	after = pick(predicted, fields)
	if slices.Contains(p.Changes, "password") {
		if cur == nil {
			after["password"] = passwordSet
		} else {
			before["password"] = passwordHidden
			after["password"] = passwordChanged
			if p.PasswordNote != "" {
				after["password"] = passwordChanged + ": " + p.PasswordNote
			}
		}
	} else if d.Password != nil && cur != nil && d.UpdatePassword == PasswordAlways && !bool(cur.Deactivated) {
		// Managed and unchanged: shown as context.
		before["password"], after["password"] = passwordHidden, passwordHidden
	}
	return before, after
}

func pick(u *synapse.User, fields []string) map[string]any {
	all := UserView(u)
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		if v, ok := all[f]; ok {
			out[f] = v
		} else if f == "threepids" || f == "external_ids" {
			// Not read (shared-secret mode): say so rather than show [].
			out[f] = "(unknown)"
		}
	}
	return out
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
