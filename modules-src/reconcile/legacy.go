package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mxadmin/synapse/modules-src/synapse"
)

// Synapse refuses upper case in new user IDs, but accounts created before it
// did (or by an application service, or in the database) can have it:
// @John:example.com. Logins match them case-insensitively; the admin API
// does not. A declared user (always lower-cased) is matched to such an
// account case-insensitively and managed under the server's own ID, so that
// check mode does not predict "would be created" where the real run fails,
// and the account can be managed at all.

// caseVariants are the accounts of list whose ID differs from userID only in
// case (userID itself excluded), sorted.
func caseVariants(list []synapse.User, userID string) []string {
	var out []string
	for _, u := range list {
		if u.Name != userID && strings.EqualFold(u.Name, userID) {
			out = append(out, u.Name)
		}
	}
	sort.Strings(out)
	return out
}

func ambiguous(userID string, variants []string) error {
	return fmt.Errorf("%s matches several accounts that differ only in case (%s): this module cannot tell which is meant; merge or deactivate the extra ones with the admin API", userID, strings.Join(variants, ", "))
}

// FindUser reads one user by ID; when no account has exactly that ID, it
// looks for a legacy mixed-case account in the user list (one request per
// pageSize accounts, only for a user that seems not to exist) and reads
// that. nil, nil: no such user in any case.
func FindUser(ctx context.Context, c UserReader, userID string, pageSize int) (*synapse.User, error) {
	u, err := c.GetUser(ctx, userID)
	if err != nil || u != nil {
		return u, err
	}
	all, err := c.ListUsers(ctx, pageSize)
	if err != nil {
		return nil, fmt.Errorf("reading the user list to look for %s in another case: %w", userID, err)
	}
	switch variants := caseVariants(all, userID); len(variants) {
	case 0:
		return nil, nil
	case 1:
		return c.GetUser(ctx, variants[0])
	default:
		return nil, ambiguous(userID, variants)
	}
}
