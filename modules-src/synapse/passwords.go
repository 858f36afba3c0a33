package synapse

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// ErrHashesUnavailable means this Synapse does not serve password hashes
// (the legacy search_users endpoint is gone). Callers then set the password
// without knowing whether it changed, and say so.
var ErrHashesUnavailable = errors.New("this Synapse does not expose password hashes (the search_users admin endpoint is missing)")

// PasswordHashes reads the stored bcrypt hashes of every user whose ID
// contains term through the legacy, undocumented search_users admin
// endpoint. It is the only way to learn whether a password is already set
// without setting it, which would cost a server-side hash and log the user
// out. Users without a password map to "". The term is matched with SQL
// LIKE (case-sensitive on PostgreSQL, "_" a wildcard), so callers filter the
// answer by exact ID. Give a non-empty term: an empty one returns every user
// only from Synapse 1.95 on, and null (read here as no users) before.
func (c *Client) PasswordHashes(ctx context.Context, adminID, term string) (map[string]string, error) {
	var rows []struct {
		Name         string  `json:"name"`
		PasswordHash *string `json:"password_hash"`
	}
	_, err := c.call(ctx, http.MethodGet, path(adminV1, "search_users", adminID), url.Values{"term": {term}}, nil, &rows)
	if err != nil {
		if StatusOf(err) == http.StatusNotFound {
			return nil, ErrHashesUnavailable
		}
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		if r.PasswordHash != nil {
			out[r.Name] = *r.PasswordHash
		} else {
			out[r.Name] = ""
		}
	}
	return out, nil
}

// bcryptInputLimit is how much of its input bcrypt uses; Synapse cuts the
// input there explicitly, and so must we to compare the same bytes.
const bcryptInputLimit = 72

// PasswordMatches reports whether password (with the server's pepper) is the
// one stored as hash, computed the way Synapse does: NFKC-normalised
// password, then the pepper, as UTF-8, cut to 72 bytes, checked with bcrypt.
func PasswordMatches(hash, password, pepper string) bool {
	if hash == "" {
		return false
	}
	input := []byte(norm.NFKC.String(password) + pepper)
	if len(input) > bcryptInputLimit {
		input = input[:bcryptInputLimit]
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), input) == nil
}
