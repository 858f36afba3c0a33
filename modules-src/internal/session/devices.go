package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// DevicePrefix starts the device ID of every password login of the module:
// DevicePrefix_<unix seconds of the login>_<random>. Each run has a device
// of its own, so that two runs at the same time never log each other out
// (a shared device ID did: the first to finish removed the other's token).
// The bare prefix is the one device every run used before.
const DevicePrefix = "MXADMIN_SYNAPSE_ANSIBLE"

// StaleDeviceAge is how long a device of ours must have been unused before
// a later run removes it as left behind by a killed run. A live run sends a
// request at least every KeepaliveInterval, and Synapse records a device's
// last use at most two minutes late, so a live run's device is never older
// than about seven minutes: half an hour leaves room for clock skew between
// the hosts.
const StaleDeviceAge = 30 * time.Minute

// KeepaliveInterval is how often a login run that is busy without
// requests (comparing thousands of password hashes) tells Synapse it lives.
const KeepaliveInterval = 5 * time.Minute

// newDeviceID is a device ID of our prefix for a login at now.
func newDeviceID(now time.Time) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s_%d_%s", DevicePrefix, now.Unix(), strings.ToUpper(hex.EncodeToString(b)))
}

// deviceLoginTime is the login time written in one of our device IDs;
// ok is false for IDs not of our prefix, and the time zero for the bare
// prefix of older versions.
func deviceLoginTime(id string) (t time.Time, ok bool) {
	if id == DevicePrefix {
		return time.Time{}, true
	}
	rest, found := strings.CutPrefix(id, DevicePrefix+"_")
	if !found {
		return time.Time{}, false
	}
	secs, _, found := strings.Cut(rest, "_")
	if !found {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// staleDevices picks the devices of earlier runs that are safe to remove:
// ours by prefix, not the current one, and unused for StaleDeviceAge: last
// seen that long ago, or, never seen, logged in that long ago. A device
// with neither time (the old fixed ID, never used) is left alone.
func staleDevices(devices []synapse.Device, current string, now time.Time) []string {
	var out []string
	for _, d := range devices {
		if d.DeviceID == current {
			continue
		}
		login, ours := deviceLoginTime(d.DeviceID)
		if !ours {
			continue
		}
		last := login
		if d.LastSeenTS != nil && *d.LastSeenTS > 0 {
			last = time.UnixMilli(*d.LastSeenTS)
		}
		if !last.IsZero() && now.Sub(last) > StaleDeviceAge {
			out = append(out, d.DeviceID)
		}
	}
	return out
}

// removeStaleDevices removes the devices killed runs left on the admin
// account, so that they do not pile up and their tokens stop working. A
// failure is a warning: the run itself is not affected.
func (s *Session) removeStaleDevices(ctx context.Context) {
	devices, err := s.Client.Devices(ctx, s.Me)
	if err != nil {
		s.Warnings = append(s.Warnings, problem.Errorf(problem.Server, "could not list the devices of %s to remove those of earlier, killed runs: %s", s.Me, s.Explain(err)))
		return
	}
	stale := staleDevices(devices, s.deviceID, time.Now())
	if len(stale) == 0 {
		return
	}
	if err := s.Client.DeleteDevices(ctx, s.Me, stale); err != nil {
		s.Warnings = append(s.Warnings, problem.Errorf(problem.Server, "could not remove %d device(s) of earlier, killed runs from %s: %s", len(stale), s.Me, s.Explain(err)))
	}
}

// keepAlive sends a cheap request every KeepaliveInterval until stop is
// closed, so that Synapse's last-seen time of this run's device stays
// recent and no other run takes it for a killed one.
func (s *Session) keepAlive(ctx context.Context, stop <-chan struct{}) {
	tick := time.NewTicker(KeepaliveInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			reqCtx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
			_, _ = s.Client.Whoami(reqCtx)
			cancel()
		}
	}
}
