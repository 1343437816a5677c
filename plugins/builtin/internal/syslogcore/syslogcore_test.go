package syslogcore

import (
	"strings"
	"testing"
	"time"
)

func TestCore_ParsePRI(t *testing.T) {
	for _, tc := range []struct {
		in              string
		pri, end, state int
		errHas          string
	}{
		{in: "<0>x", pri: 0, end: 3, state: PRIOK},
		{in: "<191>", pri: 191, end: 5, state: PRIOK},
		{in: "<013>", pri: 13, end: 5, state: PRIOK},
		{in: "<192>", state: PRIInvalid, errHas: "pri at byte 1: 192 out of range 0..191"},
		{in: "<1913>", state: PRIInvalid, errHas: "more than 3 digits"},
		{in: "<13", state: PRIInvalid, errHas: "pri at byte 3: expected '>'"},
		{in: "<13 >", state: PRIInvalid, errHas: "pri at byte 3: expected '>'"},
		{in: "<>", state: PRIAbsent},
		{in: "<a>", state: PRIAbsent},
		{in: "<", state: PRIAbsent},
		{in: "", state: PRIAbsent},
		{in: "13>", state: PRIAbsent},
	} {
		pri, end, state, err := ParsePRI(tc.in)
		if pri != tc.pri || end != tc.end || state != tc.state ||
			(tc.errHas == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("ParsePRI(%q) = %d, %d, %d, %v; want %d, %d, %d, %q",
				tc.in, pri, end, state, err, tc.pri, tc.end, tc.state, tc.errHas)
		}
	}
}

func TestCore_ParseISO(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	for _, tc := range []struct {
		in     string
		mode   ISOMode
		want   time.Time
		end    int
		errHas string
	}{
		{in: "2024-01-12T10:00:01Z", mode: ISOStrict, want: time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC), end: 20},
		{in: "2024-01-12T10:00:01.1+02:00 x", mode: ISOStrict, want: time.Date(2024, 1, 12, 8, 0, 1, 1e8, time.UTC), end: 27},
		{in: "2024-01-12T10:00:01.1234567891-00:30", mode: ISOStrict, want: time.Date(2024, 1, 12, 10, 30, 1, 123456789, time.UTC), end: 36},
		{in: "2016-12-31T23:59:60Z", mode: ISOStrict, want: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), end: 20},
		{in: "2024-01-12 10:00:01", mode: ISOLenient, want: time.Date(2024, 1, 12, 8, 0, 1, 0, time.UTC), end: 19},
		{in: "2024-01-12 10:00:01,5+0100", mode: ISOLenient, want: time.Date(2024, 1, 12, 9, 0, 1, 5e8, time.UTC), end: 26},
		{in: "2024-01-12T10:00:01+01", mode: ISOLenient, want: time.Date(2024, 1, 12, 9, 0, 1, 0, time.UTC), end: 22},
		{in: "2024-01-12 10:00:01Z", mode: ISOStrict, errHas: "byte 10: expected 'T'"},
		{in: "2024-01-12T10:00:01,5Z", mode: ISOStrict, errHas: "byte 19: missing offset"},
		{in: "2024-01-12T10:00:01+0100", mode: ISOStrict, errHas: "byte 19: offset must be ±hh:mm"},
		{in: "2024-01-12T10:00:01+01:", mode: ISOStrict, errHas: "byte 19: bad offset"},
		{in: "2024-01-12T10:00:01.Z", mode: ISOStrict, errHas: "byte 20: expected fraction digits"},
		{in: "2024-01-12T24:00:01Z", mode: ISOStrict, errHas: "byte 0: hour 24"},
		{in: "2024-01-12T23:60:01Z", mode: ISOStrict, errHas: "byte 0: minute 60"},
		{in: "2024-04-31T23:00:01Z", mode: ISOStrict, errHas: "byte 0: day 31"},
		{in: "2024-00-01T23:00:01Z", mode: ISOStrict, errHas: "byte 0: month 0"},
		{in: "2024-01-12T10:00", mode: ISOLenient, errHas: "byte 11: expected hh:mm:ss"},
		{in: "2024/01/12T10:00:01Z", mode: ISOLenient, errHas: "byte 0: expected YYYY-MM-DD"},
	} {
		got, end, err := ParseISO(tc.in, 0, tc.mode, plus2)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("ParseISO(%q) error = %v, want %q", tc.in, err, tc.errHas)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC || end != tc.end {
			t.Errorf("ParseISO(%q) = %v, %d, %v; want %v, %d", tc.in, got, end, err, tc.want, tc.end)
		}
	}
}

func TestCore_ParseUint(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "16378": 16378, "999999999999999999": 999999999999999999} {
		if n, ok := ParseUint(in); !ok || n != want {
			t.Errorf("ParseUint(%q) = %d, %v", in, n, ok)
		}
	}
	for _, in := range []string{"", "-1", "12a", "1234567890123456789", " 1"} {
		if n, ok := ParseUint(in); ok {
			t.Errorf("ParseUint(%q) = %d, want not ok", in, n)
		}
	}
}

func TestCore_TrimRight(t *testing.T) {
	for in, want := range map[string]string{
		"a \t\r\n\x00": "a",
		" a":           " a",
		"\r\n":         "",
		"":             "",
		"a\tb":         "a\tb",
	} {
		if got := TrimRight(in); got != want {
			t.Errorf("TrimRight(%q) = %q, want %q", in, got, want)
		}
	}
}
