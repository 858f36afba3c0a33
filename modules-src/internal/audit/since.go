package audit

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxAge bounds a duration: a century is older than any Matrix account, and
// a larger number of hours would wrap around in a time.Duration.
const maxAge = 100 * 365 * 24 * time.Hour

var durationForm = regexp.MustCompile(`^([0-9]{1,7})\s*([hdw])$`)

// Cutoff turns an inactivity threshold into the moment before which an
// account's last activity counts as inactivity: a duration back from now
// (36h, 90d, 12w: hours, days, weeks; no months or years, whose length
// varies, and no minutes, which an "m" would leave ambiguous), or a date
// (2026-01-31, midnight UTC) or time (RFC 3339, 2026-01-31T12:00:00Z) that is
// not in the future. The error says the rule, for the caller to prefix
// with the option's name.
func Cutoff(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if m := durationForm.FindStringSubmatch(strings.ToLower(s)); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64) // at most 7 digits
		unit := map[string]time.Duration{"h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		if n == 0 {
			return time.Time{}, fmt.Errorf("%q is no time at all: give a duration of at least 1h", s)
		}
		if time.Duration(n) > maxAge/unit {
			return time.Time{}, fmt.Errorf("%q is more than a century", s)
		}
		return now.Add(-time.Duration(n) * unit), nil
	}
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if t.After(now) {
			return time.Time{}, fmt.Errorf("%s is in the future (now is %s): give a past date, or a duration such as 90d", s, now.UTC().Format(time.RFC3339))
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (a whole number of hours, days or weeks: 36h, 90d, 12w) nor a date (2026-01-31, or 2026-01-31T12:00:00Z)", s)
}
