package ecsfields

import (
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
)

// monthOf returns 1..12 for an English month abbreviation in any case, or 0.
func monthOf(s string) int {
	if len(s) < 3 {
		return 0
	}
	const names = "janfebmaraprmayjunjulaugsepoctnovdec"
	var b [3]byte
	for i := 0; i < 3; i++ {
		b[i] = s[i] | 0x20
	}
	for m := 0; m < 12; m++ {
		if names[3*m] == b[0] && names[3*m+1] == b[1] && names[3*m+2] == b[2] {
			return m + 1
		}
	}
	return 0
}

// ParseTime reads the forms CEF and LEEF senders use for time values
// (rt, devTime): milliseconds (13 digits) or seconds (10 digits) since the
// epoch, RFC 3339, and "Mmm dd [yyyy ]hh:mm:ss[.fff][ zone]" where zone is
// UTC, GMT, Z or a numeric offset. Other zone names are ignored and loc
// applies, as it does to every time without an offset; a missing year is the
// latest one that does not put the time more than a day after now.
func ParseTime(v string, loc *time.Location, now func() time.Time) (time.Time, bool) {
	if n, ok := syslogcore.ParseUint(v); ok {
		switch len(v) {
		case 13:
			return time.UnixMilli(n).UTC(), true
		case 10:
			return time.Unix(n, 0).UTC(), true
		}
		return time.Time{}, false
	}
	if syslogcore.LooksISO(v, 0) {
		t, end, err := syslogcore.ParseISO(v, 0, syslogcore.ISOLenient, loc)
		return t, err == nil && end == len(v)
	}
	month := monthOf(v)
	if month == 0 || len(v) < 4 || v[3] != ' ' {
		return time.Time{}, false
	}
	i := syslogcore.SkipSpace(v, 4)
	day := 0
	for k := 0; k < 2 && i < len(v) && syslogcore.IsDigit(v[i]); k++ {
		day = day*10 + int(v[i]-'0')
		i++
	}
	if i >= len(v) || v[i] != ' ' {
		return time.Time{}, false
	}
	i++
	year := 0
	if y, ok := syslogcore.Num4(v, i); ok && i+4 < len(v) && v[i+4] == ' ' {
		year = y
		i += 5
	}
	hour, ok1 := syslogcore.Num2(v, i)
	minute, ok2 := syslogcore.Num2(v, i+3)
	sec, ok3 := syslogcore.Num2(v, i+6)
	if !ok1 || !ok2 || !ok3 || v[i+2] != ':' || v[i+5] != ':' || syslogcore.CheckClock(0, hour, minute, sec) != nil {
		return time.Time{}, false
	}
	i += 8
	ns := 0
	if i < len(v) && v[i] == '.' {
		var ok bool
		if ns, i, ok = syslogcore.ParseFrac(v, i+1); !ok {
			return time.Time{}, false
		}
	}
	if i < len(v) {
		if v[i] != ' ' {
			return time.Time{}, false
		}
		switch z := v[i+1:]; {
		case z == "UTC" || z == "GMT" || z == "Z":
			loc = time.UTC
		case len(z) >= 3 && (z[0] == '+' || z[0] == '-'):
			off, ok := ParseOffset(z)
			if !ok {
				return time.Time{}, false
			}
			loc = time.FixedZone("", off)
		}
	}
	if year == 0 {
		ref := now().In(loc)
		year = ref.Year()
		if time.Date(year, time.Month(month), day, hour, minute, sec, ns, loc).After(ref.Add(24 * time.Hour)) {
			year--
		}
	}
	if day < 1 || day > syslogcore.DaysIn(month, year) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, ns, loc).UTC(), true
}

// CLFTime parses the access-log time, "dd/Mon/yyyy:hh:mm:ss" (d) and
// "±hhmm" (z); the month is an English abbreviation as written ("Jan").
func CLFTime(d, z string) (time.Time, bool) {
	if len(d) != 20 || d[2] != '/' || d[6] != '/' || d[11] != ':' || d[14] != ':' || d[17] != ':' ||
		len(z) != 5 || (z[0] != '+' && z[0] != '-') {
		return time.Time{}, false
	}
	day, ok1 := syslogcore.Num2(d, 0)
	month := clfMonth(d[3:6])
	year, ok2 := syslogcore.Num4(d, 7)
	hour, ok3 := syslogcore.Num2(d, 12)
	minute, ok4 := syslogcore.Num2(d, 15)
	sec, ok5 := syslogcore.Num2(d, 18)
	oh, ok6 := syslogcore.Num2(z, 1)
	om, ok7 := syslogcore.Num2(z, 3)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || month == 0 || day < 1 ||
		day > syslogcore.DaysIn(month, year) || syslogcore.CheckClock(0, hour, minute, sec) != nil || oh > 23 || om > 59 {
		return time.Time{}, false
	}
	off := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
	if z[0] == '-' {
		off = -off
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC).Add(-off), true
}

// clfMonth returns 1..12 for an English month abbreviation written as in
// "Jan", or 0.
func clfMonth(m string) int {
	const names = "JanFebMarAprMayJunJulAugSepOctNovDec"
	for i := 0; i < 12; i++ {
		if names[3*i:3*i+3] == m {
			return i + 1
		}
	}
	return 0
}
