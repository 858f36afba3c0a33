package synapse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// ErrHashesUnavailable means this Synapse does not serve password hashes
// (the legacy search_users endpoint is gone). Callers then set the password
// without knowing whether it changed, and say so.
var ErrHashesUnavailable = errors.New("this Synapse does not expose password hashes (the search_users admin endpoint is missing)")

// PasswordHashes reads the stored bcrypt hashes of every user whose ID
// contains term through the legacy, undocumented search_users admin
// endpoint: GET /_synapse/admin/v1/search_users/<admin_id>?term=<term>. It is the only way to learn whether a password is already set
// without setting it, which would cost a server-side hash and log the user
// out. Users without a password map to "". The term is matched with SQL
// LIKE (case-sensitive on PostgreSQL, "_" a wildcard), so callers filter the
// answer by exact ID. Give a non-empty term: an empty one returns every user
// only from Synapse 1.95 on, and null (read here as no users) before.
//
// A term that is a full user ID matches that user (and the few a "_" may
// stand for): its answer is bounded like one user's. Any other term may
// match every account, and its answer is bounded by the size of the server
// as the user list announced it (the hard cap before a list was read).
func (c *Client) PasswordHashes(ctx context.Context, adminID, term string) (map[string]string, error) {
	var rows []struct {
		Name         string  `json:"name"`
		PasswordHash *string `json:"password_hash"`
	}
	limit := hashesLimit(c.serverUsers.Load())
	if strings.HasPrefix(term, "@") && strings.Contains(term, ":") {
		limit = limitUser
	}
	_, err := c.call(ctx, http.MethodGet, path(adminV1, "search_users", adminID), url.Values{"term": {term}}, nil, &rows, limit)
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

// BcryptInputLimit is how much of its input bcrypt uses, in bytes; Synapse
// cuts the input there explicitly, and so must we to compare the same
// bytes.
const BcryptInputLimit = 72

// MaxBcryptCost is the highest bcrypt cost a stored hash may have to be
// compared. The cost comes from the server, and each step doubles the work:
// on a 2-core test machine one compare takes 0.2 s at Synapse's default of
// 12, 0.9 s at 14, about 2 s at 15, 4 to 5 s at 16, and cost 31 would run
// for days. Admins raise bcrypt_rounds to 13 or 14; 15 leaves room for one
// more and keeps a compare within a few seconds.
const MaxBcryptCost = 15

// CostError is a stored hash whose bcrypt cost is above MaxBcryptCost: it is
// not compared.
type CostError struct{ Cost int }

func (e *CostError) Error() string {
	return fmt.Sprintf("the stored password hash has bcrypt cost %d, above the %d this module compares (each step doubles the time of a compare: cost %d would take about %s here; Synapse's bcrypt_rounds is 12 by default)",
		e.Cost, MaxBcryptCost, e.Cost, costTime(e.Cost))
}

// costTime is roughly how long one compare takes at cost on the machine
// MaxBcryptCost was measured on (0.2 s at cost 12).
func costTime(cost int) string {
	seconds := 0.2 * math.Pow(2, float64(cost-12))
	switch {
	case seconds < 120:
		return fmt.Sprintf("%.0f seconds", math.Max(seconds, 1))
	case seconds < 2*3600:
		return fmt.Sprintf("%.0f minutes", seconds/60)
	case seconds < 2*86400:
		return fmt.Sprintf("%.0f hours", seconds/3600)
	}
	return fmt.Sprintf("%.0f days", seconds/86400)
}

// ComparePassword reports whether password (with the server's pepper) is
// the one stored as hash, computed the way Synapse does: NFKC-normalised
// password, then the pepper, as UTF-8, cut to 72 bytes, checked with bcrypt.
// A hash of a cost above MaxBcryptCost is a *CostError, never compared. The
// compare ends early, with the context's error, when ctx ends: bcrypt itself
// cannot be stopped, so it is left to finish in the background while the
// run goes on to stop. A hash that is not bcrypt does not match.
func ComparePassword(ctx context.Context, hash, password, pepper string) (bool, error) {
	if hash == "" {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, context.Cause(ctx)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err == nil && cost > MaxBcryptCost {
		return false, &CostError{Cost: cost}
	}
	input := []byte(norm.NFKC.String(password) + pepper)
	if len(input) > BcryptInputLimit {
		input = input[:BcryptInputLimit]
	}
	done := make(chan bool, 1)
	go func() { done <- bcrypt.CompareHashAndPassword([]byte(hash), input) == nil }()
	select {
	case same := <-done:
		return same, nil
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
}

// PasswordMatches is ComparePassword without a context: false for a hash it
// will not compare (a cost above MaxBcryptCost) as for one that differs.
func PasswordMatches(hash, password, pepper string) bool {
	same, err := ComparePassword(context.Background(), hash, password, pepper)
	return err == nil && same
}
