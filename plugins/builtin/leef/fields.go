package leef

import (
	"net/netip"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// maxKeyCache bounds the number of "leef.attributes.<key>" strings a Parser
// remembers; beyond it a new key costs one allocation per record.
const maxKeyCache = 1024

// keyCache builds prefixed field names without allocating once a name has
// been seen.
type keyCache struct {
	m   map[string]string
	buf []byte
}

func (c *keyCache) key(prefix, name string) string {
	c.buf = append(append(c.buf[:0], prefix...), name...)
	if k, ok := c.m[string(c.buf)]; ok {
		return k
	}
	k := string(c.buf)
	if len(c.m) < maxKeyCache {
		if c.m == nil {
			c.m = make(map[string]string)
		}
		c.m[k] = k
	}
	return k
}

// has reports whether ev already holds key. A record that names the same
// thing twice (a repeated key, or two keys mapped to one ECS field) keeps
// the first value: a field set twice is ambiguous downstream.
func has(ev *sdk.Event, key string) bool {
	for i := range ev.Fields {
		if ev.Fields[i].Key == key {
			return true
		}
	}
	return false
}

// isIP reports whether s is an IP address. The byte check first spares
// netip.ParseAddr, whose error allocates, the words that cannot be one
// ("outside:10.0.0.1", "X.X.X.X", host names).
func isIP(s string) bool {
	hex, colon, dot := false, false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.':
			dot = true
		case c == ':':
			colon = true
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			hex = true
		case c == '%' && colon:
			i = len(s) // an IPv6 zone: any text
		default:
			return false
		}
	}
	if !colon && (hex || !dot) {
		return false
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

func parsePort(s string) (int64, bool) {
	n, ok := syslogcore.ParseUint(s)
	return n, ok && n <= 65535
}

// lower returns s in lower case, without allocating for the usual values.
func lower(s string) string {
	switch s {
	case "TCP", "tcp", "6":
		return "tcp"
	case "UDP", "udp", "17":
		return "udp"
	case "ICMP", "icmp", "1":
		return "icmp"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

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

// parseTime reads the forms LEEF senders use for devTime: milliseconds
// (13 digits) or seconds (10 digits) since the epoch, RFC 3339, and
// "Mmm dd [yyyy ]hh:mm:ss[.fff][ zone]" where zone is UTC, GMT, Z or a
// numeric offset. Other zone names are ignored and loc applies, as it does
// to every time without an offset; a missing year is the latest one that
// does not put the time more than a day after now.
func parseTime(v string, loc *time.Location, now func() time.Time) (time.Time, bool) {
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
			oh, okh := syslogcore.Num2(z, 1)
			om, okm := 0, true
			switch len(z) {
			case 3:
			case 5:
				om, okm = syslogcore.Num2(z, 3)
			case 6:
				om, okm = syslogcore.Num2(z, 4)
				okm = okm && z[3] == ':'
			default:
				okm = false
			}
			if !okh || !okm || oh > 23 || om > 59 {
				return time.Time{}, false
			}
			off := oh*3600 + om*60
			if z[0] == '-' {
				off = -off
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
