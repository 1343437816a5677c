// Package syslogcore holds the byte-level pieces shared by the built-in syslog
// parsers (rfc3164, rfc5424, syslog): the <PRI> header, RFC 3339 timestamps,
// numeric fields, message trimming and the ECS field names they set.
//
// It owns no state and performs no I/O. Every function works by index
// arithmetic over a string that is already the event's Original, so values
// handed back are substrings of it and cost no allocation. Nothing here may
// panic on any input: every index is checked against the length first.
package syslogcore

import (
	"fmt"
	"time"

	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ECS field names set by the syslog parsers.
const (
	FieldHostName       = "host.name"
	FieldProcessName    = "process.name"
	FieldProcessPID     = "process.pid"
	FieldFacility       = "log.syslog.facility.code"
	FieldSeverity       = "log.syslog.severity.code"
	FieldPriority       = "log.syslog.priority"
	FieldVersion        = "log.syslog.version"
	FieldMsgID          = "log.syslog.msgid"
	FieldAppName        = "log.syslog.appname"
	FieldMessage        = "message"
	FieldStructuredData = "log.syslog.structured_data" // prefix: .<SD-ID>.<PARAM-NAME>
)

// MaxPRI is the largest valid PRI value: facility 23, severity 7.
const MaxPRI = 191

// PRI results.
const (
	PRIAbsent  = iota // the record does not start with '<' digit
	PRIOK             // a valid <PRI>
	PRIInvalid        // '<' digits but not a valid PRI; see the returned error
)

// ParsePRI reads "<N>" at the start of s. It returns the PRI value, the index
// just past '>', and one of PRIAbsent, PRIOK or PRIInvalid. PRIAbsent means s
// does not start with '<' followed by a digit, so it is not a PRI at all.
// PRIInvalid comes with an error naming the byte position.
func ParsePRI(s string) (pri, end, state int, err error) {
	if len(s) < 2 || s[0] != '<' || !IsDigit(s[1]) {
		return 0, 0, PRIAbsent, nil
	}
	i := 1
	for i < len(s) && IsDigit(s[i]) {
		if i > 3 {
			return 0, 0, PRIInvalid, fmt.Errorf("pri at byte 1: more than 3 digits")
		}
		pri = pri*10 + int(s[i]-'0')
		i++
	}
	if i >= len(s) || s[i] != '>' {
		return 0, 0, PRIInvalid, fmt.Errorf("pri at byte %d: expected '>'", i)
	}
	if pri > MaxPRI {
		return 0, 0, PRIInvalid, fmt.Errorf("pri at byte 1: %d out of range 0..%d", pri, MaxPRI)
	}
	return pri, i + 1, PRIOK, nil
}

// SetPRI stores priority, facility and severity derived from pri.
func SetPRI(ev *sdk.Event, pri int) {
	ev.SetInt(FieldPriority, int64(pri))
	ev.SetInt(FieldFacility, int64(pri>>3))
	ev.SetInt(FieldSeverity, int64(pri&7))
}

// IsDigit reports whether c is an ASCII digit.
func IsDigit(c byte) bool { return c >= '0' && c <= '9' }

// IsSpace reports whether c separates syslog header fields leniently (space
// or tab).
func IsSpace(c byte) bool { return c == ' ' || c == '\t' }

// SkipSpace returns the first index >= i that is not a space or tab.
func SkipSpace(s string, i int) int {
	for i < len(s) && IsSpace(s[i]) {
		i++
	}
	return i
}

// TokenEnd returns the first index >= i holding a space or tab, or len(s).
func TokenEnd(s string, i int) int {
	for i < len(s) && !IsSpace(s[i]) {
		i++
	}
	return i
}

// ParseUint parses s as a decimal number of at most 18 digits (so it cannot
// overflow int64). ok is false for an empty, non-numeric or longer string.
func ParseUint(s string) (n int64, ok bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !IsDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// SetPID stores process.pid when pid is numeric.
func SetPID(ev *sdk.Event, pid string) {
	if n, ok := ParseUint(pid); ok {
		ev.SetInt(FieldProcessPID, n)
	}
}

// TrimRight drops trailing spaces, tabs, CR, LF and NUL: line terminators and
// padding that senders add and that carry no content.
func TrimRight(s string) string {
	n := len(s)
	for n > 0 {
		switch s[n-1] {
		case ' ', '\t', '\r', '\n', 0:
			n--
			continue
		}
		break
	}
	return s[:n]
}

// SetMessage stores s, trimmed on the right, as the message field.
func SetMessage(ev *sdk.Event, s string) {
	ev.SetStr(FieldMessage, TrimRight(s))
}

// Num2 parses two ASCII digits at s[i:i+2]; ok is false when out of bounds or
// not digits.
func Num2(s string, i int) (int, bool) {
	if i < 0 || i+2 > len(s) || !IsDigit(s[i]) || !IsDigit(s[i+1]) {
		return 0, false
	}
	return int(s[i]-'0')*10 + int(s[i+1]-'0'), true
}

// Num4 parses four ASCII digits at s[i:i+4].
func Num4(s string, i int) (int, bool) {
	a, ok1 := Num2(s, i)
	b, ok2 := Num2(s, i+2)
	return a*100 + b, ok1 && ok2
}

// DaysIn returns the number of days in month m (1..12) of year y.
func DaysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// ParseFrac reads the digits of a fractional second starting at i (just past
// the '.' or ','). It returns nanoseconds and the index past the digits; digits
// beyond the ninth are read and ignored. ok is false when there is no digit.
func ParseFrac(s string, i int) (ns, end int, ok bool) {
	start := i
	scale := 100000000
	for i < len(s) && IsDigit(s[i]) {
		ns += int(s[i]-'0') * scale
		scale /= 10
		i++
	}
	return ns, i, i > start
}

// LooksISO reports whether s[i:] starts with "DDDD-DD-DD", the shape of an
// RFC 3339 / ISO 8601 date.
func LooksISO(s string, i int) bool {
	if i+10 > len(s) {
		return false
	}
	for k := 0; k < 10; k++ {
		c := s[i+k]
		if k == 4 || k == 7 {
			if c != '-' {
				return false
			}
		} else if !IsDigit(c) {
			return false
		}
	}
	return true
}

// ISOMode selects how strictly ParseISO reads a timestamp.
type ISOMode uint8

const (
	// ISOStrict is RFC 5424 TIMESTAMP: 'T' separator, '.' fraction, and a
	// mandatory "Z" or "±hh:mm" offset.
	ISOStrict ISOMode = iota
	// ISOLenient also accepts a space separator, a ',' fraction, "±hhmm" and
	// "±hh" offsets, and no offset at all (then loc applies).
	ISOLenient
)

// ParseISO parses an RFC 3339 timestamp at s[i:]. It returns the time in UTC
// and the index just past it. The caller checks what follows. Errors name the
// byte position.
func ParseISO(s string, i int, mode ISOMode, loc *time.Location) (time.Time, int, error) {
	start := i
	if !LooksISO(s, i) {
		return time.Time{}, i, fmt.Errorf("timestamp at byte %d: expected YYYY-MM-DD", start)
	}
	year, _ := Num4(s, i)
	month, _ := Num2(s, i+5)
	day, _ := Num2(s, i+8)
	i += 10
	if i >= len(s) || !(s[i] == 'T' || s[i] == 't' || (mode == ISOLenient && s[i] == ' ')) {
		return time.Time{}, i, fmt.Errorf("timestamp at byte %d: expected 'T' after date", i)
	}
	i++
	hour, ok1 := Num2(s, i)
	minute, ok2 := Num2(s, i+3)
	sec, ok3 := Num2(s, i+6)
	if !ok1 || !ok2 || !ok3 || s[i+2] != ':' || s[i+5] != ':' {
		return time.Time{}, i, fmt.Errorf("timestamp at byte %d: expected hh:mm:ss", i)
	}
	i += 8
	ns := 0
	if i < len(s) && (s[i] == '.' || (mode == ISOLenient && s[i] == ',')) {
		var ok bool
		ns, i, ok = ParseFrac(s, i+1)
		if !ok {
			return time.Time{}, i, fmt.Errorf("timestamp at byte %d: expected fraction digits", i)
		}
	}
	if err := checkDate(start, year, month, day, hour, minute, sec); err != nil {
		return time.Time{}, start, err
	}
	off, hasOff := 0, false
	if i < len(s) {
		switch c := s[i]; c {
		case 'Z', 'z':
			hasOff = true
			i++
		case '+', '-':
			oh, ok := Num2(s, i+1)
			if !ok {
				return time.Time{}, i, fmt.Errorf("timestamp at byte %d: bad offset", i)
			}
			j := i + 3
			om := 0
			switch {
			case j < len(s) && s[j] == ':':
				if om, ok = Num2(s, j+1); !ok {
					return time.Time{}, i, fmt.Errorf("timestamp at byte %d: bad offset", i)
				}
				j += 3
			case mode == ISOLenient:
				if m, ok := Num2(s, j); ok {
					om = m
					j += 2
				}
			default:
				return time.Time{}, i, fmt.Errorf("timestamp at byte %d: offset must be ±hh:mm", i)
			}
			if oh > 23 || om > 59 {
				return time.Time{}, i, fmt.Errorf("timestamp at byte %d: offset out of range", i)
			}
			off = oh*3600 + om*60
			if c == '-' {
				off = -off
			}
			hasOff = true
			i = j
		}
	}
	if !hasOff {
		if mode == ISOStrict {
			return time.Time{}, i, fmt.Errorf("timestamp at byte %d: missing offset", i)
		}
		if loc == nil {
			loc = time.UTC
		}
		t := time.Date(year, time.Month(month), day, hour, minute, sec, ns, loc)
		return t.UTC(), i, nil
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, ns, time.UTC)
	return t.Add(-time.Duration(off) * time.Second), i, nil
}

// checkDate validates calendar fields; pos is reported in the error.
func checkDate(pos, year, month, day, hour, minute, sec int) error {
	switch {
	case month < 1 || month > 12:
		return fmt.Errorf("timestamp at byte %d: month %d out of range", pos, month)
	case day < 1 || day > DaysIn(month, year):
		return fmt.Errorf("timestamp at byte %d: day %d out of range", pos, day)
	case hour > 23:
		return fmt.Errorf("timestamp at byte %d: hour %d out of range", pos, hour)
	case minute > 59:
		return fmt.Errorf("timestamp at byte %d: minute %d out of range", pos, minute)
	case sec > 60: // 60: leap second, normalized by time.Date
		return fmt.Errorf("timestamp at byte %d: second %d out of range", pos, sec)
	}
	return nil
}

// CheckClock validates hour, minute and second; pos is reported in the error.
func CheckClock(pos, hour, minute, sec int) error {
	return checkDate(pos, 2000, 1, 1, hour, minute, sec)
}
