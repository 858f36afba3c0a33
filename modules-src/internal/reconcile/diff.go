package reconcile

import (
	"slices"
)

// diffViews shows, before and after, the fields the declaration manages plus
// whether the account is deactivated. A user that does not exist yet shows
// as an empty before. A password shows as a marker, never as a value.
func diffViews(d *Desired, cur, predicted *Account, p *Plan) (before, after map[string]any) {
	names := slices.DeleteFunc(d.Declared(), func(n string) bool { return mustField(n).Secret })
	names = append(names, stateDeactivated)
	if d.Erase {
		names = append(names, stateErased)
	}
	before = map[string]any{}
	if cur != nil {
		before = pick(cur, names)
	}
	after = pick(predicted, names)
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
	} else if d.Password() != nil && cur != nil && d.UpdatePassword == PasswordAlways && !cur.Deactivated {
		// Managed and unchanged: shown as context.
		before["password"], after["password"] = passwordHidden, passwordHidden
	}
	return before, after
}

// pick is the diff's view of the given fields of a: the values the
// server holds, never a secret; a field that was not read (shared-secret
// mode) says so rather than show a value it may not have.
func pick(a *Account, names []string) map[string]any {
	out := make(map[string]any, len(names))
	for _, name := range names {
		out[name] = a.show(name)
	}
	return out
}
