package synapse

import (
	"context"
	"net/http"
)

// Device is one device (login session) of a user, as the admin API lists it.
type Device struct {
	DeviceID string `json:"device_id"`
	// LastSeenTS is when Synapse last saw a request from the device, in
	// milliseconds since the epoch; nil when it never did. Synapse updates
	// it at most every two minutes and writes it out every few seconds.
	LastSeenTS *int64 `json:"last_seen_ts"`
}

// Devices lists a user's devices:
// GET /_synapse/admin/v2/users/<user_id>/devices.
func (c *Client) Devices(ctx context.Context, userID string) ([]Device, error) {
	var out struct {
		Devices []Device `json:"devices"`
	}
	if _, err := c.call(ctx, http.MethodGet, path(adminV2, "users", userID, "devices"), nil, nil, &out, limitDevices); err != nil {
		return nil, err
	}
	return out.Devices, nil
}

// DeleteDevices removes devices of a user, and with them their access
// tokens: POST /_synapse/admin/v2/users/<user_id>/delete_devices (no
// interactive auth needed, unlike the client API).
func (c *Client) DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error {
	_, err := c.call(ctx, http.MethodPost, path(adminV2, "users", userID, "delete_devices"), nil, map[string]any{"devices": deviceIDs}, nil, limitSmall)
	return err
}
