package tokens

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/mas"
)

// MASClient is Client over the admin API of the Matrix Authentication
// Service, whose registration tokens differ from Synapse's in three ways
// this type hides from the planner:
//   - a token is addressed by an ID and cannot be looked up by its value,
//     so every lookup lists them all (List keeps the IDs it read);
//   - MAS deletes no token: it revokes one, and the revoked token stays.
//     A revoked token is absent to the planner, so state: absent revokes,
//     and a rerun sees it absent and changes nothing;
//   - a value that exists revoked cannot be created again (409): a
//     declared token that is revoked is unrevoked and given the declared
//     limit and expiry instead.
//
// MAS counts only the sign-ups a token completed (times_used): it is
// reported as Completed, and Pending is always 0.
type MASClient struct {
	C *mas.Client
	// PageSize is how many tokens one list request reads (1000 when 0).
	PageSize int

	mu sync.Mutex
	// read are the tokens the last list returned, revoked ones too, by
	// value.
	read map[string]mas.RegistrationToken
}

// NewMASClient is a MASClient over c.
func NewMASClient(c *mas.Client) *MASClient { return &MASClient{C: c} }

// masTime is the form expiries are sent in: RFC 3339 in UTC with the
// milliseconds, which is what the module's expiry_time holds.
const masTime = "2006-01-02T15:04:05.000Z07:00"

func toMASTime(ms *int64) *string {
	if ms == nil {
		return nil
	}
	s := time.UnixMilli(*ms).UTC().Format(masTime)
	return &s
}

func fromMAS(t *mas.RegistrationToken) (*Token, error) {
	out := &Token{Value: t.Token, UsesAllowed: t.UsageLimit, Completed: t.TimesUsed}
	if t.ExpiresAt != nil {
		at, err := time.Parse(time.RFC3339Nano, *t.ExpiresAt)
		if err != nil {
			return nil, fmt.Errorf("MAS answered an expiry that is not an RFC 3339 time (%q) [user-registration-tokens/%s]", httpapi.Untrusted(*t.ExpiresAt, 40), t.ID)
		}
		ms := at.UnixMilli()
		out.ExpiryTime = &ms
	}
	return out, nil
}

// List implements Client: the tokens MAS has that are not revoked.
func (m *MASClient) List(ctx context.Context) ([]Token, error) {
	got, err := m.C.RegistrationTokens(ctx, m.pageSize())
	if err != nil {
		return nil, err
	}
	read := make(map[string]mas.RegistrationToken, len(got))
	var out []Token
	for i := range got {
		read[got[i].Token] = got[i]
		if got[i].Revoked() {
			continue
		}
		t, err := fromMAS(&got[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	m.mu.Lock()
	m.read = read
	m.mu.Unlock()
	return out, nil
}

func (m *MASClient) pageSize() int {
	if m.PageSize > 0 {
		return m.PageSize
	}
	return 1000
}

// known is the token of that value the last list read.
func (m *MASClient) known(value string) (mas.RegistrationToken, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.read[value]
	return t, ok
}

// Get implements Client: it lists again (MAS has no lookup by value).
func (m *MASClient) Get(ctx context.Context, value string) (*Token, error) {
	if _, err := m.List(ctx); err != nil {
		return nil, err
	}
	t, ok := m.known(value)
	if !ok || t.Revoked() {
		return nil, nil
	}
	return fromMAS(&t)
}

// Create implements Client. A value MAS has revoked is unrevoked and set
// to the declared limit and expiry; any other value is created (MAS's
// create refuses a value that exists, so it never lands on one that
// raced in).
func (m *MASClient) Create(ctx context.Context, t Token) (*Token, bool, error) {
	if old, ok := m.known(t.Value); ok && old.Revoked() {
		return m.reinstate(ctx, old, t)
	}
	got, err := m.C.CreateRegistrationToken(ctx, mas.NewRegistrationToken{Token: t.Value, UsageLimit: t.UsesAllowed, ExpiresAt: toMASTime(t.ExpiryTime)})
	switch {
	case err == nil:
		out, err := fromMAS(got)
		return out, false, err
	case mas.StatusOf(err) == http.StatusConflict:
		return nil, false, fmt.Errorf("%w (the token was made meanwhile by someone else; rerun to see it)", err)
	case m.MayHaveApplied(err):
		// The answer was lost: whether the token exists now is for the
		// runner to read back.
		return nil, true, nil
	}
	return nil, false, err
}

// reinstate unrevokes old and sets want's limit and expiry where they
// differ.
func (m *MASClient) reinstate(ctx context.Context, old mas.RegistrationToken, want Token) (*Token, bool, error) {
	got, err := m.C.UnrevokeRegistrationToken(ctx, string(old.ID))
	if err != nil {
		return nil, false, err
	}
	cur, err := fromMAS(got)
	if err != nil {
		return nil, false, applied{err}
	}
	c := Change{}
	if !sameInt(cur.UsesAllowed, want.UsesAllowed) {
		c.SetUses, c.UsesAllowed = true, want.UsesAllowed
	}
	if !sameInt(cur.ExpiryTime, want.ExpiryTime) {
		c.SetExpiry, c.ExpiryTime = true, want.ExpiryTime
	}
	if c.Empty() {
		return cur, false, nil
	}
	got, err = m.C.UpdateRegistrationToken(ctx, string(old.ID), update(c))
	if err != nil {
		// The unrevoke was applied: the token is usable, with the limit
		// and expiry it had when it was revoked.
		return nil, false, applied{fmt.Errorf("it was unrevoked, but setting its limit and expiry failed: %w", err)}
	}
	out, err := fromMAS(got)
	if err != nil {
		return nil, false, applied{err}
	}
	return out, false, nil
}

func update(c Change) mas.RegistrationTokenUpdate {
	u := mas.RegistrationTokenUpdate{}
	if c.SetUses {
		u["usage_limit"] = c.UsesAllowed
	}
	if c.SetExpiry {
		u["expires_at"] = toMASTime(c.ExpiryTime)
	}
	return u
}

// id is the ID of the token of that value the last list read.
func (m *MASClient) id(value string) (string, error) {
	t, ok := m.known(value)
	if !ok {
		return "", errors.New("the token was not in MAS's list when it was read")
	}
	return string(t.ID), nil
}

// Update implements Client: PUT of the marked fields (MAS leaves an
// absent key alone; null removes the limit or the expiry).
func (m *MASClient) Update(ctx context.Context, value string, c Change) (*Token, error) {
	id, err := m.id(value)
	if err != nil {
		return nil, err
	}
	got, err := m.C.UpdateRegistrationToken(ctx, id, update(c))
	if err != nil {
		return nil, err
	}
	return fromMAS(got)
}

// Delete implements Client: MAS revokes (its DELETE is a 405). A token
// revoked meanwhile by someone else (MAS answers 400) is what was asked.
func (m *MASClient) Delete(ctx context.Context, value string) error {
	id, err := m.id(value)
	if err != nil {
		return err
	}
	_, err = m.C.RevokeRegistrationToken(ctx, id)
	if mas.StatusOf(err) == http.StatusBadRequest {
		if _, lerr := m.List(ctx); lerr == nil {
			if t, ok := m.known(value); ok && t.Revoked() {
				return nil
			}
		}
	}
	return err
}

// applied marks an error after which a write is known to have been
// applied (an unrevoke whose update failed).
type applied struct{ error }

func (a applied) Unwrap() error { return a.error }

// MayHaveApplied implements Client: MAS checks a request before it applies
// it, so a 4xx applied nothing; no answer, a 5xx or an answer that is not
// MAS's leave it unknown.
func (m *MASClient) MayHaveApplied(err error) bool {
	var done applied
	var refused *mas.Error
	var foreign *httpapi.ResponseError
	var unreachable *httpapi.UnreachableError
	switch {
	case errors.As(err, &done):
		return true
	case errors.As(err, &refused):
		return refused.Status >= 500
	case errors.As(err, &foreign):
		return foreign.Status >= 500 || foreign.Status < 300
	case errors.As(err, &unreachable):
		return true
	}
	return false
}
