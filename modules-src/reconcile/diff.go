package reconcile

import (
	"slices"

	"github.com/mxadmin/synapse/modules-src/synapse"
)

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

// pick is the diff's view of the given fields of u: the values Synapse
// holds, never a secret. Threepids and external IDs that were not read
// (shared-secret mode) say so rather than show [].
func pick(u *synapse.User, fields []string) map[string]any {
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		if v, ok := fieldValue(u, f); ok {
			out[f] = v
		}
	}
	return out
}

// fieldValue is the value of one field of u (a name of fieldOrder) as a
// diff shows it; ok is false for any other name.
func fieldValue(u *synapse.User, field string) (v any, ok bool) {
	switch field {
	case "admin":
		return bool(u.Admin), true
	case "deactivated":
		return bool(u.Deactivated), true
	case "locked":
		return bool(u.Locked), true
	case "erased":
		return bool(u.Erased), true
	case "displayname":
		return u.Displayname, true
	case "avatar_url":
		return u.AvatarURL, true
	case "user_type":
		return u.UserType, true
	case "threepids":
		if !u.Detailed {
			return "(unknown)", true
		}
		return nonNilSlice(u.Threepids), true
	case "external_ids":
		if !u.Detailed {
			return "(unknown)", true
		}
		return nonNilSlice(u.ExternalIDs), true
	}
	return nil, false
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
