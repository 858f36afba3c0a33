package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Synapse refuses upper case in new user IDs, but accounts created before it
// did (or by an application service, or in the database) can have it:
// @John:example.com. Logins match them case-insensitively; the admin API
// does not. A declared user (always lower-cased) is matched to such an
// account case-insensitively and managed under the server's own ID, so that
// check mode does not predict "would be created" where the real run fails,
// and the account can be managed at all.

// caseIndex maps each lower-cased user ID of a user list to the IDs as the
// server has them, so that matching every declared user costs one lookup
// each instead of a scan of the whole list.
type caseIndex map[string][]string

func newCaseIndex(list []synapse.User) caseIndex {
	idx := make(caseIndex, len(list))
	for _, u := range list {
		key := strings.ToLower(u.Name)
		idx[key] = append(idx[key], u.Name)
	}
	return idx
}

// match names the account a declared userID is on the server: userID itself
// when it exists as written or not at all, else its one legacy mixed-case
// variant. Several variants are an error: nothing says which is meant.
func (idx caseIndex) match(userID string) (string, error) {
	var variants []string
	for _, name := range idx[strings.ToLower(userID)] {
		if name == userID {
			return userID, nil
		}
		variants = append(variants, name)
	}
	switch len(variants) {
	case 0:
		return userID, nil
	case 1:
		return variants[0], nil
	}
	sort.Strings(variants)
	return "", problem.Errorf(problem.Unresolved, "%s matches several accounts that differ only in case (%s): this module cannot tell which is meant; merge or deactivate the extra ones with the admin API", userID, strings.Join(variants, ", "))
}

// FindUser reads one user by ID. When no account has exactly that ID, it
// asks Synapse whether the name is taken in any case (its registration check
// compares case-insensitively: one request), and only then looks for the
// legacy mixed-case account in the user list. nil, nil: no such user in any
// case.
func FindUser(ctx context.Context, c UserReader, userID string) (*synapse.User, error) {
	u, err := c.GetUser(ctx, userID)
	if err != nil || u != nil {
		return u, err
	}
	if free, err := c.UsernameAvailable(ctx, localpartOf(userID)); err == nil && free {
		return nil, nil
	}
	// Taken in another case, or the check could not tell (an application
	// service's namespace, a name the server's rules refuse): the list says.
	all, err := c.ListUsers(ctx, listPageSize)
	if err == nil {
		_, server, _ := strings.Cut(userID, ":")
		err = checkListServer(all, server)
	}
	if err != nil {
		return nil, problem.Errorf(problem.Server, "reading the user list to look for %s in another case: %s", userID, err)
	}
	name, err := newCaseIndex(all).match(userID)
	if err != nil || name == userID {
		return nil, err
	}
	return c.GetUser(ctx, name)
}

// checkListServer refuses a user list that holds an account of another
// server: Synapse lists its own accounts only, so such a list is not its
// answer, and acting on it could create or keep the wrong accounts.
func checkListServer(all []synapse.User, server string) error {
	if server == "" {
		return nil
	}
	for _, u := range all {
		if !strings.HasPrefix(u.Name, "@") || !strings.HasSuffix(u.Name, ":"+server) || strings.Index(u.Name, ":") == 1 {
			name := u.Name
			if len(name) > maxUserIDLength {
				name = fmt.Sprintf("(a name of %d bytes)", len(name))
			}
			return fmt.Errorf("the user list holds %q, which is no user of this homeserver (%s): Synapse lists only its own accounts, so this answer is not Synapse's", name, server)
		}
	}
	return nil
}
