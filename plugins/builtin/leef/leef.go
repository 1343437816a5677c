// Package leef is the built-in parser for IBM QRadar Log Event Extended
// Format records, versions 1.0 and 2.0 (component id "parser.leef"):
//
//	[SYSLOG HEADER ]LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
//	[SYSLOG HEADER ]LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|key=value<D>key=value...
//
// It owns the translation of one such record into an sdk.Event and nothing
// else. It never panics, never retains raw or ev, and keeps the raw record in
// ev.Original whatever the outcome. Values are substrings of the record; a
// record costs the ev.Original string, a copy of any syslog header, and a
// string per attribute name seen for the first time.
//
// # Accepted forms
//
//   - "LEEF:" at the start of the record, after a "<PRI>" or after a blank,
//     then a version of digits and dots. Anything before it is read as a
//     syslog header by package syslog (BSD or RFC 5424); text there that is
//     not a header is ignored.
//   - Header fields end at '|' ("\|" does not end one).
//   - LEEF 2.0 delimiter field: one character, or its code as "xHH", "0xHH"
//     (hex) or "\t". It may be empty or left out (then the attributes follow
//     EventID directly); the delimiter then is a tab, as in LEEF 1.0.
//   - Attributes are key=value split at the delimiter; the value is
//     everything after the first '='. A piece without '=' is skipped. When
//     the delimiter is a tab but the attributes hold none (a relay replaced
//     tabs), pairs are split at blanks instead, a value running to the blank
//     before the next key=. At most 256 pairs are read.
//
// # Fields set
//
//   - From a syslog header in front: @timestamp, host.name, process.name,
//     process.pid, log.syslog.priority, log.syslog.facility.code,
//     log.syslog.severity.code, and the RFC 5424 fields of package rfc5424.
//   - leef.version ("1.0", "2.0"), observer.vendor, observer.product,
//     observer.version, event.code (EventID).
//   - Predefined attributes with an ECS meaning: src → source.ip,
//     dst → destination.ip, srcPostNAT → source.nat.ip, dstPostNAT →
//     destination.nat.ip (only when the value is an IP address); srcPort →
//     source.port, dstPort → destination.port, srcPostNATPort →
//     source.nat.port, dstPostNATPort → destination.nat.port (int, 0..65535);
//     srcBytes → source.bytes, dstBytes → destination.bytes, totalBytes →
//     network.bytes, srcPackets → source.packets, dstPackets →
//     destination.packets, sev → event.severity (int); proto →
//     network.transport (lower case; 6, 17 and 1 become tcp, udp, icmp);
//     srcMAC → source.mac, dstMAC → destination.mac, usrName → user.name,
//     action → event.action, url → url.original, msg → message; devTime →
//     @timestamp (epoch milliseconds, RFC 3339 or
//     "Mmm dd yyyy hh:mm:ss[.fff][ zone]"; devTimeFormat is not read),
//     replacing the syslog header's time.
//   - Every other attribute, and a mapped one whose value does not fit, as
//     the string leef.attributes.<key>.
//
// An attribute given twice keeps its first value; an empty value sets
// nothing.
//
// # Errors
//
// A record without "LEEF:" and a version returns an error wrapping
// sdk.ErrNotMatched and sets no field. One with fewer than five header fields
// returns a descriptive error; the header fields read are set.
package leef

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
const ID = "parser.leef"

// maxPairs bounds the attributes read per record, which bounds the cost of
// the duplicate-key check.
const maxPairs = 256

const attrPrefix = "leef.attributes."

var errNotMatched = fmt.Errorf("leef: no LEEF header: %w", sdk.ErrNotMatched)

// Options configures a Parser. The zero value is valid.
type Options struct {
	// Location is the time zone of times without an offset, in the syslog
	// header and in devTime. Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer a missing year. Defaults to
	// time.Now.
	Now func() time.Time
}

// Parser parses LEEF records. A Parser is used by one goroutine at a time.
type Parser struct {
	hdr    sysheader.Header
	fields ecsfields.Store
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	return &Parser{
		hdr:    sysheader.New(opts.Location, opts.Now),
		fields: ecsfields.NewStore(attrPrefix, opts.Location, opts.Now),
	}
}

// ID returns "parser.leef".
func (p *Parser) ID() string { return ID }

// Parse fills ev from one LEEF record. See the package documentation.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	s := string(raw)
	ev.Original = s
	at := locate(s)
	if at < 0 {
		return errNotMatched
	}
	if at > 0 {
		p.hdr.Parse(raw[:at], ev)
	}
	var f [5]string
	n, i := 0, at+len("LEEF:")
	start := i
	for ; i < len(s) && n < len(f); i++ {
		switch s[i] {
		case '\\':
			i++
		case '|':
			f[n] = s[start:i]
			n++
			start = i + 1
		}
	}
	ev.SetStr("leef.version", f[0])
	ev.SetStr("observer.vendor", f[1])
	ev.SetStr("observer.product", f[2])
	ev.SetStr("observer.version", f[3])
	ev.SetStr("event.code", f[4])
	if n < len(f) {
		return fmt.Errorf("leef: header has %d of 5 fields", n)
	}
	delim := byte('\t')
	if f[0] != "1.0" && f[0] != "1" {
		if d, next, ok := delimiter(s, i); ok {
			delim, i = d, next
		}
	}
	attrs := syslogcore.TrimRight(s[i:])
	if delim == '\t' && strings.IndexByte(attrs, '\t') < 0 {
		p.blankPairs(attrs, ev)
	} else {
		p.pairs(attrs, delim, ev)
	}
	return nil
}

// locate returns the index of "LEEF:" followed by a version, or -1.
func locate(s string) int {
	for off := 0; off < len(s); {
		k := strings.Index(s[off:], "LEEF:")
		if k < 0 {
			return -1
		}
		k += off
		if (k == 0 || s[k-1] == ' ' || s[k-1] == '\t' || s[k-1] == '>') &&
			k+5 < len(s) && syslogcore.IsDigit(s[k+5]) {
			return k
		}
		off = k + 5
	}
	return -1
}

// delimiter reads the LEEF 2.0 delimiter field at s[i:] and returns the
// delimiter and where the attributes start. ok is false when s[i:] holds no
// delimiter field, that is the attributes start right away.
func delimiter(s string, i int) (d byte, next int, ok bool) {
	end := strings.IndexByte(s[i:], '|')
	if end < 0 {
		return 0, 0, false
	}
	field := s[i : i+end]
	next = i + end + 1
	switch {
	case field == "":
		return '\t', next, true
	case len(field) == 1 && field[0] != '=':
		return field[0], next, true
	case field == `\t`:
		return '\t', next, true
	}
	hex := field
	if len(hex) > 2 && (hex[:2] == "0x" || hex[:2] == "0X") {
		hex = hex[2:]
	} else if len(hex) > 1 && (hex[0] == 'x' || hex[0] == 'X') {
		hex = hex[1:]
	} else {
		return 0, 0, false
	}
	if len(hex) > 2 {
		return 0, 0, false
	}
	var v byte
	for k := 0; k < len(hex); k++ {
		c := hex[k]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return 0, 0, false
		}
	}
	if v == 0 {
		return 0, 0, false
	}
	return v, next, true
}

// pairs reads key=value pieces of s split at d.
func (p *Parser) pairs(s string, d byte, ev *sdk.Event) {
	for n := 0; n < maxPairs && s != ""; n++ {
		piece := s
		if k := strings.IndexByte(s, d); k >= 0 {
			piece, s = s[:k], s[k+1:]
		} else {
			s = ""
		}
		if eq := strings.IndexByte(piece, '='); eq > 0 {
			p.set(ev, strings.TrimSpace(piece[:eq]), piece[eq+1:])
		}
	}
}

// blankPairs reads key=value pairs separated by blanks, a value running to
// the blank before the next key=.
func (p *Parser) blankPairs(s string, ev *sdk.Event) {
	i := 0
	for n := 0; n < maxPairs; n++ {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		k := i
		for k < len(s) && isKeyByte(s[k]) {
			k++
		}
		if k == i || k >= len(s) || s[k] != '=' {
			return
		}
		vs := k + 1
		ve, next := len(s), len(s)
		blank := -1
		for j := vs; j < len(s) && next == len(s); j++ {
			switch c := s[j]; {
			case c == ' ' || c == '\t':
				blank = j
			case c == '=' && blank >= vs && isKey(s[blank+1:j]):
				ve, next = blank, blank+1
			}
		}
		p.set(ev, s[i:k], syslogcore.TrimRight(s[vs:ve]))
		i = next
	}
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

func isKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isKeyByte(s[i]) {
			return false
		}
	}
	return true
}

// mapping returns the ECS name of a LEEF attribute and how its value is
// read, or "" for an attribute without one.
func mapping(key string) (string, ecsfields.Kind) {
	switch key {
	case "src":
		return "source.ip", ecsfields.KindIP
	case "dst":
		return "destination.ip", ecsfields.KindIP
	case "srcPostNAT":
		return "source.nat.ip", ecsfields.KindIP
	case "dstPostNAT":
		return "destination.nat.ip", ecsfields.KindIP
	case "srcPort":
		return "source.port", ecsfields.KindPort
	case "dstPort":
		return "destination.port", ecsfields.KindPort
	case "srcPostNATPort":
		return "source.nat.port", ecsfields.KindPort
	case "dstPostNATPort":
		return "destination.nat.port", ecsfields.KindPort
	case "srcBytes":
		return "source.bytes", ecsfields.KindInt
	case "dstBytes":
		return "destination.bytes", ecsfields.KindInt
	case "totalBytes":
		return "network.bytes", ecsfields.KindInt
	case "srcPackets":
		return "source.packets", ecsfields.KindInt
	case "dstPackets":
		return "destination.packets", ecsfields.KindInt
	case "sev":
		return "event.severity", ecsfields.KindInt
	case "proto":
		return "network.transport", ecsfields.KindLower
	case "srcMAC":
		return "source.mac", ecsfields.KindStr
	case "dstMAC":
		return "destination.mac", ecsfields.KindStr
	case "usrName":
		return "user.name", ecsfields.KindStr
	case "action":
		return "event.action", ecsfields.KindStr
	case "url":
		return "url.original", ecsfields.KindStr
	case "msg":
		return "message", ecsfields.KindStr
	case "devTime":
		return "", ecsfields.KindTime
	}
	return "", ecsfields.KindStr
}

// set stores one attribute under its ECS name or as leef.attributes.<key>.
func (p *Parser) set(ev *sdk.Event, key, v string) {
	if v == "" || key == "" {
		return
	}
	ecs, kind := mapping(key)
	p.fields.Set(ev, key, v, ecs, kind)
}
