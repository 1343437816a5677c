// Package ecsfields holds what the built-in device parsers (cef, leef, kv,
// ciscoasa, iptables, sshd, accesslog, jsonlines) share to turn the values of
// a payload into ECS fields: the readers of typed values (IP addresses,
// ports, protocol names, the times devices write), the first-value-wins
// setters, and Store, which files a payload's key=value pairs under their
// ECS names or under the parser's own prefix.
//
// It owns those rules only; which key means what stays with each parser. It
// must never panic on any input, never retain an event, never allocate for a
// value the record already holds (values handed back are substrings of their
// input, and field names are remembered once built), and never depend on
// package syslog or on any parser: the parsers depend on it.
package ecsfields

import (
	"net/netip"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Has reports whether ev already holds key. A record that names the same
// thing twice (a repeated key, or two keys mapped to one ECS field) keeps
// the first value: a field set twice is ambiguous downstream.
func Has(ev *sdk.Event, key string) bool {
	for i := range ev.Fields {
		if ev.Fields[i].Key == key {
			return true
		}
	}
	return false
}

// SetStr stores v under key unless v is empty or ev already holds key.
func SetStr(ev *sdk.Event, key, v string) {
	if v != "" && !Has(ev, key) {
		ev.SetStr(key, v)
	}
}

// SetInt stores n under key unless ev already holds key.
func SetInt(ev *sdk.Event, key string, n int64) {
	if !Has(ev, key) {
		ev.SetInt(key, n)
	}
}

// IsIP reports whether s is an IP address. The byte check first spares
// netip.ParseAddr, whose error allocates, the words that cannot be one
// ("outside:10.0.0.1", "X.X.X.X", host names).
func IsIP(s string) bool {
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

// ParsePort reads a port number, 0..65535.
func ParsePort(s string) (int64, bool) {
	n, ok := syslogcore.ParseUint(s)
	return n, ok && n <= 65535
}

// Lower returns s in lower case, naming the IP protocol numbers 6, 17 and 1
// (tcp, udp, icmp), without allocating for the usual values.
func Lower(s string) string {
	switch s {
	case "TCP", "tcp", "6":
		return "tcp"
	case "UDP", "udp", "17":
		return "udp"
	case "ICMP", "icmp", "1":
		return "icmp"
	}
	return ToLower(s)
}

// ToLower returns s in lower case; s itself when it has no upper-case ASCII
// letter.
func ToLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// ParseOffset reads a numeric zone offset, "±hh", "±hhmm" or "±hh:mm", as
// seconds east of UTC.
func ParseOffset(z string) (int, bool) {
	if len(z) < 3 || z[0] != '+' && z[0] != '-' {
		return 0, false
	}
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
		return 0, false
	}
	if !okh || !okm || oh > 23 || om > 59 {
		return 0, false
	}
	off := oh*3600 + om*60
	if z[0] == '-' {
		off = -off
	}
	return off, true
}
