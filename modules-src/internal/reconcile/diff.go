package reconcile

import (
	"slices"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
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
func pick(u *synapse.User, names []string) map[string]any {
	out := make(map[string]any, len(names))
	for _, name := range names {
		if f := fieldNamed(name); f.show != nil {
			out[name] = f.show(u)
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
