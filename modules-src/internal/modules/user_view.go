package modules

import (
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// userView is a user as the modules return it in their results: its
// state, never a secret. Threepids and external IDs appear only when they
// were read.
func userView(u *synapse.User) map[string]any {
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
		m["threepids"] = nonNil(u.Threepids)
		m["external_ids"] = nonNil(u.ExternalIDs)
	}
	return m
}

// nonNil shows an empty list as [], not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
