package tokens

import (
	"context"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// SynapseClient is Client over Synapse's admin API, where a token is
// addressed by its value and deleted for good.
type SynapseClient struct{ C *synapse.Client }

func fromSynapse(t *synapse.RegistrationToken) *Token {
	if t == nil {
		return nil
	}
	return &Token{Value: t.Token, UsesAllowed: t.UsesAllowed, ExpiryTime: t.ExpiryTime, Pending: t.Pending, Completed: t.Completed}
}

// List implements Client.
func (s SynapseClient) List(ctx context.Context) ([]Token, error) {
	got, err := s.C.RegistrationTokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(got))
	for i := range got {
		out[i] = *fromSynapse(&got[i])
	}
	return out, nil
}

// Get implements Client.
func (s SynapseClient) Get(ctx context.Context, value string) (*Token, error) {
	t, err := s.C.RegistrationToken(ctx, value)
	return fromSynapse(t), err
}

// Create implements Client.
func (s SynapseClient) Create(ctx context.Context, t Token) (*Token, bool, error) {
	got, maybe, err := s.C.CreateRegistrationToken(ctx, synapse.NewRegistrationToken{Token: t.Value, UsesAllowed: t.UsesAllowed, ExpiryTime: t.ExpiryTime})
	return fromSynapse(got), maybe, err
}

// Update implements Client.
func (s SynapseClient) Update(ctx context.Context, value string, c Change) (*Token, error) {
	u := synapse.RegistrationTokenUpdate{}
	if c.SetUses {
		u["uses_allowed"] = c.UsesAllowed
	}
	if c.SetExpiry {
		u["expiry_time"] = c.ExpiryTime
	}
	got, err := s.C.UpdateRegistrationToken(ctx, value, u)
	return fromSynapse(got), err
}

// Delete implements Client.
func (s SynapseClient) Delete(ctx context.Context, value string) error {
	return s.C.DeleteRegistrationToken(ctx, value)
}

// MayHaveApplied implements Client: Synapse checks a token request before
// it applies it, and each request is one change.
func (s SynapseClient) MayHaveApplied(err error) bool { return synapse.MayHaveApplied(err, 1) }
