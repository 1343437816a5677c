// Package kv is the built-in parser for key=value records in the style of
// Fortinet FortiGate (component id "parser.kv"):
//
//	[SYSLOG HEADER ]date=2024-01-12 time=10:00:01 devname="fw01" srcip=10.0.0.1 action="deny" ...
//
// It owns the translation of one such record into an sdk.Event and nothing
// else. It never panics, never retains raw or ev, and keeps the raw record in
// ev.Original whatever the outcome. Values are substrings of the record; a
// record costs the ev.Original string, a copy of any syslog header, and a
// string per escape undone or key seen for the first time.
//
// # Accepted forms
//
//   - The payload starts at the first word of the form key= (a key is a
//     letter followed by letters, digits, '_', '-' or '.') among the first
//     eight words, or right after a leading "<PRI>". Anything before it must
//     be a syslog header, read by package syslog (BSD or RFC 5424), with no
//     text left over: "host app: a=b" is key=value, "some words a=b" is not.
//   - Values are in double or single quotes (inside, "\"", "\'" and "\\"
//     are undone) or unquoted. An unquoted value ends at a blank, except
//     that words that are not key= themselves belong to it ("msg=disk full
//     x=1" gives msg "disk full"). An empty value ("OUT= ") sets nothing.
//   - At most 512 pairs are read.
//
// # Fields set
//
//   - From a syslog header in front: @timestamp, host.name, process.name,
//     process.pid, log.syslog.priority, log.syslog.facility.code,
//     log.syslog.severity.code, and the RFC 5424 fields of package rfc5424.
//   - @timestamp from date (YYYY-MM-DD or YYYY/MM/DD) and time (hh:mm:ss)
//     with tz ("-0500", "+05:30", "UTC") or, without tz, Options.Location;
//     it replaces the syslog header's time. date, time and tz are then not
//     stored as fields.
//   - Keys with an ECS meaning: srcip, src, src_ip → source.ip and dstip,
//     dst, dst_ip → destination.ip (only when the value is an IP address);
//     srcport, src_port, sport, spt → source.port and dstport, dst_port,
//     dport, dpt → destination.port (int, 0..65535); sentbyte →
//     source.bytes, rcvdbyte → destination.bytes, sentpkt → source.packets,
//     rcvdpkt → destination.packets (int); proto, protocol → network.transport
//     (lower case; a number also sets network.iana_number and is named when
//     known: 6 tcp, 17 udp, 1 icmp, 58 ipv6-icmp, 47 gre, 50 esp, 51 ah,
//     132 sctp); service → network.protocol (lower case); user, username,
//     srcuser → user.name; action → event.action; msg → message; level →
//     log.level; logid → event.code; policyid → rule.id; devname →
//     observer.name; devid → observer.serial_number; srcintf →
//     observer.ingress.interface.name; dstintf →
//     observer.egress.interface.name; srcmac → source.mac; dstmac →
//     destination.mac; srccountry → source.geo.country_name; dstcountry →
//     destination.geo.country_name; hostname → destination.domain; url →
//     url.path when it starts with '/', url.original otherwise.
//   - observer.vendor "Fortinet" and observer.product "FortiGate" when the
//     record has a ten-digit logid and either vd or a devid starting with
//     "FG".
//   - Every other key, and a mapped one whose value does not fit, as the
//     string kv.<key>.
//
// A key given twice keeps its first value.
//
// # Errors
//
// A record whose payload does not start with key= after an optional syslog
// header returns an error wrapping sdk.ErrNotMatched and sets no field. A
// quote left open returns a descriptive error; the pairs before it are set
// and the open value runs to the end of the record.
package kv

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
const ID = "parser.kv"

// maxPairs bounds the pairs read per record, which bounds the cost of the
// duplicate-key check.
const maxPairs = 512

// maxHeaderWords bounds the words searched for the first key=: a syslog
// header has at most seven ("<PRI>1 TIMESTAMP HOST APP PROCID MSGID -").
const maxHeaderWords = 8

const kvPrefix = "kv."

var errNotMatched = fmt.Errorf("kv: record does not start with key=value: %w", sdk.ErrNotMatched)

// Options configures a Parser. The zero value is valid.
type Options struct {
	// Location is the time zone of times without an offset or tz, in the
	// syslog header and in date/time. Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer the year BSD syslog headers
	// lack. Defaults to time.Now.
	Now func() time.Time
}

// Parser parses key=value records. A Parser is used by one goroutine at a
// time.
type Parser struct {
	hdr    sysheader.Header
	fields ecsfields.Store
	loc    *time.Location
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	p := &Parser{loc: opts.Location, fields: ecsfields.NewStore(kvPrefix, nil, nil)}
	if p.loc == nil {
		p.loc = time.UTC
	}
	p.hdr = sysheader.New(p.loc, opts.Now)
	return p
}

// ID returns "parser.kv".
func (p *Parser) ID() string { return ID }

// record collects what is decided only once every pair is read.
type record struct {
	date, clock, tz   string
	logid, vd         bool
	fortiGateDeviceID bool
}

// Parse fills ev from one key=value record. See the package documentation.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	s := string(raw)
	ev.Original = s
	at := payloadStart(s)
	if at < 0 {
		return errNotMatched
	}
	if at > 0 {
		if rest, ok := p.hdr.Parse(raw[:at], ev); !ok || rest != "" {
			ev.Fields = ev.Fields[:0]
			ev.Timestamp = time.Time{}
			return errNotMatched
		}
	}
	var r record
	err := p.pairs(s, at, ev, &r)
	p.finish(ev, &r)
	return err
}

// payloadStart returns the index of the first key= word, or -1.
func payloadStart(s string) int {
	i := 0
	if _, end, state, _ := syslogcore.ParsePRI(s); state == syslogcore.PRIOK {
		i = end
	}
	for w := 0; w < maxHeaderWords; w++ {
		i = syslogcore.SkipSpace(s, i)
		if i >= len(s) {
			return -1
		}
		if keyEnd(s, i) > 0 {
			return i
		}
		i = syslogcore.TokenEnd(s, i)
	}
	return -1
}

// keyEnd returns the index of the '=' ending a key that starts at s[i], or
// -1 when s[i:] does not start with key=.
func keyEnd(s string, i int) int {
	if i >= len(s) || !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		return -1
	}
	for k := i + 1; k < len(s); k++ {
		c := s[k]
		switch {
		case c == '=':
			return k
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.':
		default:
			return -1
		}
	}
	return -1
}

// pairs reads the key=value pairs of s[i:].
func (p *Parser) pairs(s string, i int, ev *sdk.Event, r *record) error {
	for n := 0; n < maxPairs; n++ {
		i = syslogcore.SkipSpace(s, i)
		if i >= len(s) {
			return nil
		}
		eq := keyEnd(s, i)
		if eq < 0 {
			// Only a stray word after a quoted value gets here; skip it.
			i = syslogcore.TokenEnd(s, i)
			continue
		}
		key := s[i:eq]
		vs := eq + 1
		if vs < len(s) && (s[vs] == '"' || s[vs] == '\'') {
			q := s[vs]
			end := closeQuote(s, vs+1, q)
			if end < 0 {
				p.set(ev, r, key, unescape(syslogcore.TrimRight(s[vs+1:])))
				return fmt.Errorf("kv: quote at byte %d not closed", vs)
			}
			p.set(ev, r, key, unescape(s[vs+1:end]))
			i = end + 1
			continue
		}
		ve := syslogcore.TokenEnd(s, vs)
		for {
			j := syslogcore.SkipSpace(s, ve)
			if j >= len(s) || keyEnd(s, j) > 0 {
				break
			}
			ve = syslogcore.TokenEnd(s, j)
		}
		p.set(ev, r, key, syslogcore.TrimRight(s[vs:ve]))
		i = ve
	}
	return nil
}

// closeQuote returns the index of the quote q that ends a value starting at
// s[i], or -1.
func closeQuote(s string, i int, q byte) int {
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i
		}
	}
	return -1
}

// unescape undoes "\"", "\'" and "\\"; other backslashes are kept.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\'' || s[i+1] == '\\') {
			i++
			c = s[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Kinds of kv's own, resolved before ecsfields.Store.Set sees the pair.
const (
	kindProto = ecsfields.NumKinds + iota
	kindURL
)

// mapping returns the ECS name of a key and how its value is read, or ""
// for a key without one.
func mapping(key string) (string, ecsfields.Kind) {
	switch key {
	case "srcip", "src", "src_ip":
		return "source.ip", ecsfields.KindIP
	case "dstip", "dst", "dst_ip":
		return "destination.ip", ecsfields.KindIP
	case "srcport", "src_port", "sport", "spt":
		return "source.port", ecsfields.KindPort
	case "dstport", "dst_port", "dport", "dpt":
		return "destination.port", ecsfields.KindPort
	case "sentbyte":
		return "source.bytes", ecsfields.KindInt
	case "rcvdbyte":
		return "destination.bytes", ecsfields.KindInt
	case "sentpkt":
		return "source.packets", ecsfields.KindInt
	case "rcvdpkt":
		return "destination.packets", ecsfields.KindInt
	case "proto", "protocol":
		return "network.transport", kindProto
	case "service":
		return "network.protocol", ecsfields.KindLower
	case "user", "username", "srcuser":
		return "user.name", ecsfields.KindStr
	case "action":
		return "event.action", ecsfields.KindStr
	case "msg":
		return "message", ecsfields.KindStr
	case "level":
		return "log.level", ecsfields.KindStr
	case "logid":
		return "event.code", ecsfields.KindStr
	case "policyid":
		return "rule.id", ecsfields.KindStr
	case "devname":
		return "observer.name", ecsfields.KindStr
	case "devid":
		return "observer.serial_number", ecsfields.KindStr
	case "srcintf":
		return "observer.ingress.interface.name", ecsfields.KindStr
	case "dstintf":
		return "observer.egress.interface.name", ecsfields.KindStr
	case "srcmac":
		return "source.mac", ecsfields.KindStr
	case "dstmac":
		return "destination.mac", ecsfields.KindStr
	case "srccountry":
		return "source.geo.country_name", ecsfields.KindStr
	case "dstcountry":
		return "destination.geo.country_name", ecsfields.KindStr
	case "hostname":
		return "destination.domain", ecsfields.KindStr
	case "url":
		return "", kindURL
	}
	return "", ecsfields.KindStr
}

// ianaName names the IP protocol numbers FortiGate logs most.
func ianaName(n string) string {
	switch n {
	case "1":
		return "icmp"
	case "6":
		return "tcp"
	case "17":
		return "udp"
	case "47":
		return "gre"
	case "50":
		return "esp"
	case "51":
		return "ah"
	case "58":
		return "ipv6-icmp"
	case "132":
		return "sctp"
	}
	return ""
}

// set stores one pair under its ECS name or as kv.<key>.
func (p *Parser) set(ev *sdk.Event, r *record, key, v string) {
	switch key {
	case "date", "time", "tz":
		// Held back: they become @timestamp when all of them read.
		if r.stash(key, v) {
			return
		}
	case "logid":
		_, num := syslogcore.ParseUint(v)
		r.logid = num && len(v) == 10
	case "devid":
		r.fortiGateDeviceID = strings.HasPrefix(v, "FG")
	case "vd":
		r.vd = true
	}
	if v == "" {
		return
	}
	ecs, kind := mapping(key)
	switch kind {
	case kindProto:
		if _, ok := syslogcore.ParseUint(v); ok {
			ecsfields.SetStr(ev, "network.iana_number", v)
			if v = ianaName(v); v == "" {
				return
			}
			kind = ecsfields.KindStr
		} else {
			kind = ecsfields.KindLower
		}
	case kindURL:
		ecs = "url.original"
		if strings.HasPrefix(v, "/") {
			ecs = "url.path"
		}
		kind = ecsfields.KindStr
	}
	p.fields.Set(ev, key, v, ecs, kind)
}

// stash keeps the first date, time or tz and reports whether it did.
func (r *record) stash(key, v string) bool {
	var dst *string
	switch key {
	case "date":
		dst = &r.date
	case "time":
		dst = &r.clock
	default:
		dst = &r.tz
	}
	if *dst != "" || v == "" {
		return false
	}
	*dst = v
	return true
}

// finish sets what depends on the whole record: @timestamp from date, time
// and tz (or the three as plain fields when they do not make a time) and
// the observer of a FortiGate.
func (p *Parser) finish(ev *sdk.Event, r *record) {
	if t, ok := p.timestamp(r); ok {
		ev.Timestamp = t
	} else {
		for _, kv := range [...][2]string{{"date", r.date}, {"time", r.clock}, {"tz", r.tz}} {
			if kv[1] != "" {
				ecsfields.SetStr(ev, p.fields.Key(kv[0]), kv[1])
			}
		}
	}
	if r.logid && (r.vd || r.fortiGateDeviceID) {
		ev.SetStr("observer.vendor", "Fortinet")
		ev.SetStr("observer.product", "FortiGate")
	}
}

// timestamp builds @timestamp from date, time and tz.
func (p *Parser) timestamp(r *record) (time.Time, bool) {
	d, c := r.date, r.clock
	if len(d) != 10 || (d[4] != '-' && d[4] != '/') || d[7] != d[4] || len(c) < 8 || c[2] != ':' || c[5] != ':' {
		return time.Time{}, false
	}
	year, ok1 := syslogcore.Num4(d, 0)
	month, ok2 := syslogcore.Num2(d, 5)
	day, ok3 := syslogcore.Num2(d, 8)
	hour, ok4 := syslogcore.Num2(c, 0)
	minute, ok5 := syslogcore.Num2(c, 3)
	sec, ok6 := syslogcore.Num2(c, 6)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 ||
		day < 1 || day > syslogcore.DaysIn(month, year) || syslogcore.CheckClock(0, hour, minute, sec) != nil {
		return time.Time{}, false
	}
	ns := 0
	if len(c) > 8 {
		var end int
		var ok bool
		if ns, end, ok = syslogcore.ParseFrac(c, 9); c[8] != '.' || !ok || end != len(c) {
			return time.Time{}, false
		}
	}
	if r.tz == "" {
		return time.Date(year, time.Month(month), day, hour, minute, sec, ns, p.loc).UTC(), true
	}
	off, ok := zone(r.tz)
	if !ok {
		return time.Time{}, false
	}
	// An offset applied by hand: time.FixedZone would allocate per record.
	t := time.Date(year, time.Month(month), day, hour, minute, sec, ns, time.UTC)
	return t.Add(-time.Duration(off) * time.Second), true
}

// zone reads a non-empty tz value ("UTC", "GMT", "Z", "±hh", "±hhmm" or
// "±hh:mm") as an offset east of UTC in seconds.
func zone(tz string) (int, bool) {
	switch tz {
	case "UTC", "GMT", "Z":
		return 0, true
	}
	return ecsfields.ParseOffset(tz)
}
