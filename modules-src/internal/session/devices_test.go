package session

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

func TestDeviceIDsAreUniquePerRun(t *testing.T) {
	now := time.Unix(1764150000, 0)
	a, b := newDeviceID(now), newDeviceID(now)
	assert.NotEqual(t, a, b, "two runs in the same second get two devices")
	assert.Regexp(t, regexp.MustCompile(`^MXADMIN_SYNAPSE_ANSIBLE_1764150000_[0-9A-F]{12}$`), a)
	login, ours := deviceLoginTime(a)
	assert.True(t, ours)
	assert.Equal(t, now, login)
}

func TestStaleDevices(t *testing.T) {
	now := time.Unix(1764150000, 0)
	ms := func(ago time.Duration) *int64 { v := now.Add(-ago).UnixMilli(); return &v }
	id := func(ago time.Duration) string { return newDeviceID(now.Add(-ago)) }
	current := id(time.Hour) // this run (a long one) is never removed
	oldUnused, oldSeen, freshLogin, recentlySeen := id(2*time.Hour), id(3*time.Hour), id(time.Minute), id(5*time.Hour)
	devices := []synapse.Device{
		{DeviceID: current, LastSeenTS: ms(2 * time.Hour)},
		{DeviceID: oldUnused},                                                      // killed right after its login, 2 h ago
		{DeviceID: oldSeen, LastSeenTS: ms(time.Hour)},                             // killed an hour ago
		{DeviceID: freshLogin},                                                     // a run that just logged in
		{DeviceID: recentlySeen, LastSeenTS: ms(3 * time.Minute)},                  // a long run, still going
		{DeviceID: "MXADMIN_SYNAPSE_ANSIBLE", LastSeenTS: ms(40 * time.Minute)},    // the old fixed device, unused
		{DeviceID: "MXADMIN_SYNAPSE_ANSIBLE"},                                      // never seen: no time to judge by
		{DeviceID: "ELEMENTPHONE", LastSeenTS: ms(24 * time.Hour)},                 // not ours
		{DeviceID: "MXADMIN_SYNAPSE_ANSIBLEX_1_A", LastSeenTS: ms(24 * time.Hour)}, // not our prefix
		{DeviceID: "MXADMIN_SYNAPSE_ANSIBLE_notanumber_A", LastSeenTS: ms(24 * time.Hour)},
	}
	assert.Equal(t, []string{oldUnused, oldSeen, "MXADMIN_SYNAPSE_ANSIBLE"}, staleDevices(devices, current, now))
}
