package ecsfields

import (
	"testing"
	"time"
)

// TestParseTime reads the time forms of CEF rt and LEEF devTime, with now
// at 2025-06-15 12:00 UTC for the year-less ones.
func TestParseTime(t *testing.T) {
	loc := time.FixedZone("", 3600)
	now := func() time.Time { return time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1705053601000", time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC), true},
		{"1705053601", time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC), true},
		{"2024-01-12T10:00:01+02:00", time.Date(2024, 1, 12, 8, 0, 1, 0, time.UTC), true},
		{"Jan 12 2024 10:00:01", time.Date(2024, 1, 12, 9, 0, 1, 0, time.UTC), true},
		{"Jan 12 2024 10:00:01.250 GMT", time.Date(2024, 1, 12, 10, 0, 1, 25e7, time.UTC), true},
		{"Jan 12 2024 10:00:01 -0500", time.Date(2024, 1, 12, 15, 0, 1, 0, time.UTC), true},
		{"Jan 12 2024 10:00:01 +05:30", time.Date(2024, 1, 12, 4, 30, 1, 0, time.UTC), true},
		{"Jan 12 2024 10:00:01 CEST", time.Date(2024, 1, 12, 9, 0, 1, 0, time.UTC), true}, // unknown zone: loc
		{"Jun 16 10:00:01", time.Date(2025, 6, 16, 9, 0, 1, 0, time.UTC), true},           // within a day of now
		{"Dec 31 10:00:01", time.Date(2024, 12, 31, 9, 0, 1, 0, time.UTC), true},          // would be in the future
		{"Feb 30 2024 10:00:01", time.Time{}, false},
		{"Jan 12 2024 25:00:01", time.Time{}, false},
		{"Jan 12 2024 10:00", time.Time{}, false},
		{"12345", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, ok := ParseTime(tc.in, loc, now)
		if ok != tc.ok || !got.Equal(tc.want) || ok && got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
