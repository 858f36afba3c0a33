package synapse

import (
	"context"
	"net/http"
)

// Profile is a user's public profile.
type Profile struct {
	DisplayName *string `json:"displayname"`
	AvatarURL   *string `json:"avatar_url"`
}

// Profile reads a user's public profile, as any client may:
// GET /_matrix/client/v3/profile/<user_id>. On a homeserver that delegates
// to MAS, the module holds no Synapse token, and this is how the MAS backend
// reads the display name and avatar, which stay in Synapse. A user Synapse
// does not know (M_NOT_FOUND) is nil.
func (c *Client) Profile(ctx context.Context, userID string) (*Profile, error) {
	out := &Profile{}
	_, err := c.call(ctx, http.MethodGet, path(clientV3, "profile", userID), nil, nil, out, limitSmall)
	if HasErrcode(err, ErrcodeNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
