// Package iptables is the built-in parser for netfilter LOG target records
// (iptables, nftables "log", firewalld, UFW, Proxmox VE firewall; component
// id "parser.iptables"):
//
//	[SYSLOG HEADER ][[ uptime] ][LOG PREFIX ]IN=eth0 OUT= MAC=... SRC=198.51.100.7 DST=192.0.2.1 LEN=60 ... PROTO=TCP SPT=40001 DPT=22 ...
//
// It owns the translation of one such record into an sdk.Event and nothing
// else. It never panics, never retains raw or ev, and keeps the raw record in
// ev.Original whatever the outcome. Every value is a substring of the record
// or a constant, except the two MAC addresses (one string for both); a
// record also costs the ev.Original string and a copy of any syslog header.
//
// # Accepted forms
//
//   - The payload starts at the word "IN=" (or, for records that leave out
//     an empty IN, "OUT="). Before it come, all optional: a syslog header
//     read by package syslog (BSD or RFC 5424, usually with the tag
//     "kernel:"), the kernel's "[seconds.micros]" uptime, and the log prefix
//     set in the rule ("IPTABLES-DROP:", "[UFW BLOCK]",
//     "filter_IN_public_REJECT: "). A log prefix holding '=' is not one: the
//     record is then not matched.
//   - Proxmox VE firewall lines, "VMID LEVEL CHAIN dd/Mon/yyyy:hh:mm:ss
//     ±hhmm [PREFIX: ]IN=...", in place of the syslog header.
//   - The payload is blank-separated KEY=VALUE words and bare flags (DF,
//     SYN); words other than those listed below set nothing.
//
// # Fields set
//
//   - From a syslog header: @timestamp, host.name, process.name,
//     process.pid, log.syslog.priority, log.syslog.facility.code,
//     log.syslog.severity.code, and the RFC 5424 fields of package rfc5424.
//     From a Proxmox line: @timestamp, and rule.name (the chain).
//   - rule.name: the log prefix without blanks, surrounding brackets and a
//     trailing ':' ("[UFW BLOCK]" gives "UFW BLOCK").
//   - event.action: the last word of the log prefix (words split at
//     characters other than letters and digits) that is a verdict, in lower
//     case: drop, reject, block, deny, accept, allow, audit or limit.
//   - IN → observer.ingress.interface.name, OUT →
//     observer.egress.interface.name (when not empty).
//   - MAC (destination, source and EtherType, as the kernel prints them) →
//     destination.mac and source.mac, upper case with '-' (ECS form).
//   - SRC → source.ip, DST → destination.ip (only valid addresses);
//     network.type "ipv4" or "ipv6" from SRC.
//   - SPT → source.port, DPT → destination.port (int).
//   - PROTO → network.transport in lower case (ICMPv6 gives ipv6-icmp; a
//     number is stored as network.iana_number instead).
//   - iptables.length (int, the first LEN: the IP packet length),
//     iptables.ttl (int, TTL or HOPLIMIT), iptables.id (int, ID).
//
// A key given twice keeps its first value.
//
// # Errors
//
// A record without IN= or OUT=, or whose log prefix holds '=', returns an
// error wrapping sdk.ErrNotMatched and sets no field. Every other record
// parses.
package iptables

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/ecsfields"
	"github.com/vigil-sec/vigil/plugins/builtin/internal/sysheader"
	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id of this parser.
const ID = "parser.iptables"

var errNotMatched = fmt.Errorf("iptables: no netfilter IN=/OUT= fields: %w", sdk.ErrNotMatched)

// Options configures a Parser. The zero value is valid.
type Options struct {
	// Location is the time zone of syslog timestamps without an offset.
	// Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer a missing year. Defaults to
	// time.Now.
	Now func() time.Time
}

// Parser parses netfilter LOG records. A Parser is used by one goroutine at
// a time.
type Parser struct {
	hdr sysheader.Header
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	return &Parser{hdr: sysheader.New(opts.Location, opts.Now)}
}

// ID returns "parser.iptables".
func (p *Parser) ID() string { return ID }

// Parse fills ev from one netfilter record. See the package documentation.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	s := string(raw)
	ev.Original = s
	at := anchor(s, "IN=")
	if at < 0 {
		if at = anchor(s, "OUT="); at < 0 {
			return errNotMatched
		}
	}
	prefix := s[:at]
	if at > 0 {
		if rest, ok := p.hdr.Parse(raw[:at], ev); ok {
			prefix = rest
		} else if rest, ok := proxmox(prefix, ev); ok {
			prefix = rest
		}
	}
	prefix = strings.TrimSpace(dropUptime(strings.TrimSpace(prefix)))
	if strings.IndexByte(prefix, '=') >= 0 {
		ev.Fields = ev.Fields[:0]
		ev.Timestamp = time.Time{}
		return errNotMatched
	}
	if name := ruleName(prefix); name != "" && !ecsfields.Has(ev, "rule.name") {
		ev.SetStr("rule.name", name)
	}
	if a := verdict(prefix); a != "" {
		ev.SetStr("event.action", a)
	}
	payload(s[at:], ev)
	return nil
}

// anchor returns the index of the first word starting with key, or -1.
func anchor(s, key string) int {
	for off := 0; off < len(s); {
		k := strings.Index(s[off:], key)
		if k < 0 {
			return -1
		}
		k += off
		if k == 0 || s[k-1] == ' ' || s[k-1] == '\t' {
			return k
		}
		off = k + len(key)
	}
	return -1
}

// dropUptime removes the kernel's "[ 1234.567890]" from the front of s.
func dropUptime(s string) string {
	if len(s) < 3 || s[0] != '[' {
		return s
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == ']':
			if i == 1 {
				return s
			}
			return s[i+1:]
		case c == ' ' || c == '.' || syslogcore.IsDigit(c):
		default:
			return s
		}
	}
	return s
}

// ruleName trims the log prefix to the name the rule gave it.
func ruleName(p string) string {
	p = strings.TrimSuffix(p, ":")
	if len(p) >= 2 && p[0] == '[' && p[len(p)-1] == ']' {
		p = p[1 : len(p)-1]
	}
	return strings.TrimSpace(p)
}

// verdict returns the last verdict word of the log prefix, or "".
func verdict(p string) string {
	v := ""
	for i := 0; i < len(p); {
		for i < len(p) && !isAlnum(p[i]) {
			i++
		}
		j := i
		for j < len(p) && isAlnum(p[j]) {
			j++
		}
		if w := verdictWord(p[i:j]); w != "" {
			v = w
		}
		i = j
	}
	return v
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func verdictWord(w string) string {
	for _, v := range [...]string{"drop", "reject", "block", "deny", "accept", "allow", "audit", "limit"} {
		if strings.EqualFold(w, v) {
			return v
		}
	}
	return ""
}

// proxmox reads "VMID LEVEL CHAIN dd/Mon/yyyy:hh:mm:ss ±hhmm REST" and
// returns REST, the log prefix.
func proxmox(s string, ev *sdk.Event) (string, bool) {
	var w [5]string
	i := 0
	for n := range w {
		i = syslogcore.SkipSpace(s, i)
		e := syslogcore.TokenEnd(s, i)
		if e == i {
			return "", false
		}
		w[n] = s[i:e]
		i = e
	}
	if _, ok := syslogcore.ParseUint(w[0]); !ok {
		return "", false
	}
	if _, ok := syslogcore.ParseUint(w[1]); !ok {
		return "", false
	}
	t, ok := ecsfields.CLFTime(w[3], w[4])
	if !ok {
		return "", false
	}
	ev.Timestamp = t
	ev.SetStr("rule.name", w[2])
	return s[i:], true
}

// payload reads the KEY=VALUE words.
func payload(s string, ev *sdk.Event) {
	for i := 0; i < len(s); {
		i = syslogcore.SkipSpace(s, i)
		e := syslogcore.TokenEnd(s, i)
		w := s[i:e]
		i = e
		eq := strings.IndexByte(w, '=')
		if eq <= 0 || eq == len(w)-1 {
			continue
		}
		key, v := w[:eq], w[eq+1:]
		switch key {
		case "IN":
			ecsfields.SetStr(ev, "observer.ingress.interface.name", v)
		case "OUT":
			ecsfields.SetStr(ev, "observer.egress.interface.name", v)
		case "MAC":
			macs(v, ev)
		case "SRC":
			if ecsfields.IsIP(v) && !ecsfields.Has(ev, "source.ip") {
				ev.SetStr("source.ip", v)
				ev.SetStr("network.type", pick(strings.IndexByte(v, ':') >= 0, "ipv6", "ipv4"))
			}
		case "DST":
			if ecsfields.IsIP(v) {
				ecsfields.SetStr(ev, "destination.ip", v)
			}
		case "SPT":
			setPort(ev, "source.port", v)
		case "DPT":
			setPort(ev, "destination.port", v)
		case "PROTO":
			if _, ok := syslogcore.ParseUint(v); ok {
				ecsfields.SetStr(ev, "network.iana_number", v)
			} else {
				ecsfields.SetStr(ev, "network.transport", transport(v))
			}
		case "LEN":
			setInt(ev, "iptables.length", v)
		case "TTL", "HOPLIMIT":
			setInt(ev, "iptables.ttl", v)
		case "ID":
			setInt(ev, "iptables.id", v)
		}
	}
}

// macs splits the kernel's MAC field, "dd:dd:dd:dd:dd:dd:ss:ss:ss:ss:ss:ss:tt:tt"
// (destination, source, EtherType), into ECS-form addresses. One string
// holds both to cost a single allocation.
func macs(v string, ev *sdk.Event) {
	if len(v) != 41 {
		return
	}
	var b [34]byte
	for k := 0; k < 12; k++ {
		hi, lo := v[3*k], v[3*k+1]
		if !isHex(hi) || !isHex(lo) || v[3*k+2] != ':' {
			return
		}
		o := 3*k - boolInt(k >= 6)
		b[o], b[o+1] = upper(hi), upper(lo)
		if k != 5 && k != 11 {
			b[o+2] = '-'
		}
	}
	both := string(b[:])
	ecsfields.SetStr(ev, "destination.mac", both[:17])
	ecsfields.SetStr(ev, "source.mac", both[17:])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func transport(v string) string {
	switch v {
	case "TCP":
		return "tcp"
	case "UDP":
		return "udp"
	case "ICMP":
		return "icmp"
	case "ICMPv6", "ICMPV6":
		return "ipv6-icmp"
	case "UDPLITE":
		return "udplite"
	case "SCTP":
		return "sctp"
	case "GRE":
		return "gre"
	case "ESP":
		return "esp"
	case "AH":
		return "ah"
	}
	return strings.ToLower(v)
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

func setPort(ev *sdk.Event, key, v string) {
	if n, ok := ecsfields.ParsePort(v); ok {
		ecsfields.SetInt(ev, key, n)
	}
}

func setInt(ev *sdk.Event, key, v string) {
	if n, ok := syslogcore.ParseUint(v); ok {
		ecsfields.SetInt(ev, key, n)
	}
}
