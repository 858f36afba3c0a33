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

// LastSeen is when Synapse last saw a request of the user, in milliseconds
// since the epoch (nil when never), from its client IPs:
// GET /_synapse/admin/v1/whois/<user_id>, the newest last_seen of every
// connection of every session. It is the same record the user list's
// last_seen_ts is made of (Synapse 1.93 and later), for releases whose list
// and user GET do not carry it (1.90 has neither, checked). Synapse keeps the
// connections of logged-out devices too, so a user who logged out is still
// seen. The answer is one user's sessions, bounded like its devices.
func (c *Client) LastSeen(ctx context.Context, userID string) (*int64, error) {
	var out struct {
		Devices map[string]struct {
			Sessions []struct {
				Connections []struct {
					LastSeen *int64 `json:"last_seen"`
				} `json:"connections"`
			} `json:"sessions"`
		} `json:"devices"`
	}
	if _, err := c.call(ctx, http.MethodGet, path(adminV1, "whois", userID), nil, nil, &out, limitDevices); err != nil {
		return nil, err
	}
	var newest *int64
	for _, d := range out.Devices {
		for _, s := range d.Sessions {
			for _, conn := range s.Connections {
				if conn.LastSeen != nil && (newest == nil || *conn.LastSeen > *newest) {
					v := *conn.LastSeen
					newest = &v
				}
			}
		}
	}
	return newest, nil
}
