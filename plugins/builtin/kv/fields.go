package kv

import (
	"net/netip"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// maxKeyCache bounds the number of "kv.<key>" strings a Parser
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
