package reconcile

import (
	"context"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// UserReader is what finding one user needs: FindUser reads a user by ID
// and, for a legacy mixed-case account, asks whether the name is taken in
// another case and reads the user list.
type UserReader interface {
	GetUser(ctx context.Context, userID string) (*synapse.User, error)
	UsernameAvailable(ctx context.Context, localpart string) (bool, error)
	ListUsers(ctx context.Context, pageSize int) ([]synapse.User, error)
}

// Client is every call the runner makes to Synapse. The runner depends on
// this rather than on *synapse.Client so that reading, password checks,
// applying and exclusive mode's choice of users to deactivate can be tested
// without a server; *synapse.Client is the one implementation that runs.
type Client interface {
	UserReader
	CreateUser(ctx context.Context, userID string) (synapse.CreateResult, *synapse.User, error)
	PutUser(ctx context.Context, userID string, update synapse.UserUpdate) (after *synapse.User, created bool, err error)
	Deactivate(ctx context.Context, userID string, erase bool) error
	Register(ctx context.Context, secret string, r synapse.Registration) (*synapse.Registered, error)
	PasswordHashes(ctx context.Context, adminID, term string) (map[string]string, error)

	// The fields with endpoints of their own (the fields table's Read,
	// Write and Support).
	Ratelimit(ctx context.Context, userID string) (*synapse.Ratelimit, error)
	SetRatelimit(ctx context.Context, userID string, r synapse.Ratelimit) error
	DeleteRatelimit(ctx context.Context, userID string) error
	ShadowBan(ctx context.Context, userID string, ban bool) error
	Suspend(ctx context.Context, userID string, suspend bool) error
	CanSuspend(ctx context.Context, userID string) (bool, error)
}

var _ Client = (*synapse.Client)(nil)
