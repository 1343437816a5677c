// Package cef is the built-in parser for ArcSight Common Event Format records
// (component id "parser.cef"):
//
//	[SYSLOG HEADER ]CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
//
// It owns the translation of one such record into an sdk.Event and nothing
// else. It never panics, never retains raw or ev, and keeps the raw record in
// ev.Original whatever the outcome. Values are substrings of the record; a
// record costs the ev.Original string, a copy of any syslog header, and a
// string per escape undone or extension key seen for the first time.
//
// # Accepted forms
//
//   - "CEF:" at the start of the record, after a "<PRI>", or after a blank,
//     optionally followed by blanks ("CEF: 0|"), then the version digits.
//     Anything before it is read as a syslog header by package syslog (BSD or
//     RFC 5424); text there that is not a header is ignored.
//   - A record that starts with the version digits and '|' without the "CEF:"
//     prefix ("0|Vendor|...") when it has all seven header fields, as some
//     relays strip the prefix.
//   - Header fields are split at unescaped '|'; "\|" and "\\" are undone.
//   - Extension: key=value pairs separated by blanks; a value runs to the
//     blank before the next key, so values may contain blanks. Keys are
//     letters, digits, '_', '.', '-', '[' and ']'. "\=", "\\", "\|", "\n" and
//     "\r" are undone in values. At most 256 pairs are read.
//
// # Fields set
//
//   - From a syslog header in front: @timestamp, host.name, process.name,
//     process.pid, log.syslog.priority, log.syslog.facility.code,
//     log.syslog.severity.code, and the RFC 5424 fields of package rfc5424.
//   - cef.version (int), observer.vendor, observer.product, observer.version,
//     event.code (Device Event Class ID), cef.name (Name), cef.severity
//     (Severity as written), event.severity (int, when Severity is a number).
//   - Extension keys with an ECS meaning, under their full or short name:
//     src/sourceAddress → source.ip, dst/destinationAddress → destination.ip,
//     dvc/deviceAddress → observer.ip (only when the value is an IP address);
//     spt/sourcePort → source.port, dpt/destinationPort → destination.port
//     (int, 0..65535); proto/transportProtocol → network.transport and
//     app/applicationProtocol → network.protocol (lower case);
//     smac → source.mac, dmac → destination.mac, shost → source.domain,
//     dhost → destination.domain, suser → source.user.name,
//     duser → destination.user.name, suid → source.user.id,
//     duid → destination.user.id, act → event.action, outcome → event.outcome,
//     request → url.original, requestMethod → http.request.method,
//     requestClientApplication → user_agent.original, fname → file.name,
//     filePath → file.path, dvchost → observer.hostname (each also under its
//     full CEF name); in/bytesIn → source.bytes, out/bytesOut →
//     destination.bytes, fsize/fileSize → file.size (int);
//     msg/message → message; rt/deviceReceiptTime → @timestamp (epoch
//     milliseconds, RFC 3339 or "Mmm dd yyyy hh:mm:ss[.fff][ zone]"),
//     replacing the syslog header's time.
//   - Every other extension key, and a mapped key whose value does not fit
//     (a non-IP src, a non-numeric spt, an unreadable rt), as the string
//     cef.extensions.<key>.
//   - message: the msg extension, or else Name.
//
// A key given twice keeps its first value.
//
// # Errors
//
// A record without a CEF header returns an error wrapping sdk.ErrNotMatched
// and sets no field. A record with "CEF:" but fewer than seven header fields,
// or an extension that does not start with key=, returns a descriptive error;
// the fields read before that point are set.
package cef

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
const ID = "parser.cef"

// maxPairs bounds the extension pairs read per record, which bounds the cost
// of the duplicate-key check.
const maxPairs = 256

const extPrefix = "cef.extensions."

var errNotMatched = fmt.Errorf("cef: no CEF header: %w", sdk.ErrNotMatched)

// Options configures a Parser. The zero value is valid.
type Options struct {
	// Location is the time zone of times without an offset, in the syslog
	// header and in rt. Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer a missing year. Defaults to
	// time.Now.
	Now func() time.Time
}

// Parser parses CEF records. A Parser is used by one goroutine at a time.
type Parser struct {
	hdr    sysheader.Header
	fields ecsfields.Store
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	return &Parser{
		hdr:    sysheader.New(opts.Location, opts.Now),
		fields: ecsfields.NewStore(extPrefix, opts.Location, opts.Now),
	}
}

// ID returns "parser.cef".
func (p *Parser) ID() string { return ID }

// Parse fills ev from one CEF record. See the package documentation.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	s := string(raw)
	ev.Original = s
	at, body, ok := locate(s)
	if !ok {
		return errNotMatched
	}
	var f [7]string
	n, ext := splitHeader(s[body:], f[:])
	ext += body
	if at == body && n < len(f) {
		return errNotMatched // no "CEF:" and not a whole header: not CEF
	}
	if at > 0 {
		p.hdr.Parse(raw[:at], ev)
	}
	if v, ok := syslogcore.ParseUint(strings.TrimSpace(f[0])); ok {
		ev.SetInt("cef.version", v)
	}
	ev.SetStr("observer.vendor", unescapeHeader(f[1]))
	ev.SetStr("observer.product", unescapeHeader(f[2]))
	ev.SetStr("observer.version", unescapeHeader(f[3]))
	ev.SetStr("event.code", unescapeHeader(f[4]))
	name := unescapeHeader(f[5])
	ev.SetStr("cef.name", name)
	if n < len(f) {
		return fmt.Errorf("cef: header has %d of 7 fields", n)
	}
	sev := strings.TrimSpace(f[6])
	ev.SetStr("cef.severity", sev)
	if v, ok := syslogcore.ParseUint(sev); ok {
		ev.SetInt("event.severity", v)
	}
	err := p.extension(s, ext, ev)
	if !ecsfields.Has(ev, "message") {
		ev.SetStr("message", name)
	}
	return err
}

// locate finds the CEF payload. at is where the payload (and so the end of
// any header) starts; body is where the version starts, past "CEF:" and
// blanks. For a record without the prefix at == body == 0.
func locate(s string) (at, body int, ok bool) {
	for off := 0; off < len(s); {
		k := strings.Index(s[off:], "CEF:")
		if k < 0 {
			break
		}
		k += off
		if k == 0 || s[k-1] == ' ' || s[k-1] == '\t' || s[k-1] == '>' {
			j := syslogcore.SkipSpace(s, k+4)
			if j < len(s) && syslogcore.IsDigit(s[j]) {
				return k, j, true
			}
		}
		off = k + 4
	}
	j := 0
	for j < len(s) && j < 4 && syslogcore.IsDigit(s[j]) {
		j++
	}
	if j > 0 && j < len(s) && s[j] == '|' {
		return 0, 0, true
	}
	return 0, 0, false
}

// splitHeader splits s at unescaped '|' into at most len(f) fields and
// returns how many it found and where the extension starts (len(s) when the
// header is incomplete).
func splitHeader(s string, f []string) (n, ext int) {
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '|':
			f[n] = s[start:i]
			n++
			start = i + 1
			if n == len(f) {
				return n, start
			}
		}
	}
	return n, len(s)
}

// unescapeHeader undoes "\|" and "\\"; any other backslash is kept.
func unescapeHeader(s string) string { return unescape(s, false) }

// unescapeValue undoes the extension escapes "\=", "\\", "\|", "\n", "\r".
func unescapeValue(s string) string { return unescape(s, true) }

// unescape undoes "\|" and "\\", and with ext also "\=", "\n" and "\r";
// any other backslash is kept.
func unescape(s string, ext bool) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch n := s[i+1]; {
			case n == '|' || n == '\\' || ext && n == '=':
				i++
				c = n
			case ext && n == 'n':
				i++
				c = '\n'
			case ext && n == 'r':
				i++
				c = '\r'
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '[' || c == ']'
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

// extension reads the key=value pairs of s[i:].
func (p *Parser) extension(s string, i int, ev *sdk.Event) error {
	for pairs := 0; pairs < maxPairs; pairs++ {
		i = skipBlank(s, i)
		if i >= len(s) {
			return nil
		}
		k := i
		for k < len(s) && isKeyByte(s[k]) {
			k++
		}
		if k == i || k >= len(s) || s[k] != '=' {
			return fmt.Errorf("cef: extension at byte %d: expected key=value", i)
		}
		key := s[i:k]
		vs := k + 1
		ve, next := len(s), len(s)
		blank := -1
		for j := vs; j < len(s); j++ {
			switch c := s[j]; {
			case c == '\\':
				j++
			case c == ' ' || c == '\t':
				blank = j
			case c == '=' && blank >= vs && isKey(s[blank+1:j]):
				ve, next = blank, blank+1
			}
			if next != len(s) {
				break
			}
		}
		p.set(ev, key, unescapeValue(trimBlank(s[vs:ve])))
		i = next
	}
	return nil
}

func skipBlank(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

func trimBlank(s string) string {
	return syslogcore.TrimRight(s)
}

// set stores one extension pair under its ECS name or as
// cef.extensions.<key>.
func (p *Parser) set(ev *sdk.Event, key, v string) {
	ecs, kind := mapping(key)
	p.fields.Set(ev, key, v, ecs, kind)
}

// mapping returns the ECS name of a CEF extension key and how its value is
// read, or "" for a key without one.
func mapping(key string) (string, ecsfields.Kind) {
	switch key {
	case "src", "sourceAddress":
		return "source.ip", ecsfields.KindIP
	case "dst", "destinationAddress":
		return "destination.ip", ecsfields.KindIP
	case "dvc", "deviceAddress":
		return "observer.ip", ecsfields.KindIP
	case "spt", "sourcePort":
		return "source.port", ecsfields.KindPort
	case "dpt", "destinationPort":
		return "destination.port", ecsfields.KindPort
	case "proto", "transportProtocol":
		return "network.transport", ecsfields.KindLower
	case "app", "applicationProtocol":
		return "network.protocol", ecsfields.KindLower
	case "smac", "sourceMacAddress":
		return "source.mac", ecsfields.KindStr
	case "dmac", "destinationMacAddress":
		return "destination.mac", ecsfields.KindStr
	case "shost", "sourceHostName":
		return "source.domain", ecsfields.KindStr
	case "dhost", "destinationHostName":
		return "destination.domain", ecsfields.KindStr
	case "suser", "sourceUserName":
		return "source.user.name", ecsfields.KindStr
	case "duser", "destinationUserName":
		return "destination.user.name", ecsfields.KindStr
	case "suid", "sourceUserId":
		return "source.user.id", ecsfields.KindStr
	case "duid", "destinationUserId":
		return "destination.user.id", ecsfields.KindStr
	case "act", "deviceAction":
		return "event.action", ecsfields.KindStr
	case "outcome", "eventOutcome":
		return "event.outcome", ecsfields.KindStr
	case "request", "requestURL":
		return "url.original", ecsfields.KindStr
	case "requestMethod":
		return "http.request.method", ecsfields.KindStr
	case "requestClientApplication":
		return "user_agent.original", ecsfields.KindStr
	case "fname", "fileName":
		return "file.name", ecsfields.KindStr
	case "filePath":
		return "file.path", ecsfields.KindStr
	case "dvchost", "deviceHostName":
		return "observer.hostname", ecsfields.KindStr
	case "in", "bytesIn":
		return "source.bytes", ecsfields.KindInt
	case "out", "bytesOut":
		return "destination.bytes", ecsfields.KindInt
	case "fsize", "fileSize":
		return "file.size", ecsfields.KindInt
	case "msg", "message":
		return "message", ecsfields.KindStr
	case "rt", "deviceReceiptTime":
		return "", ecsfields.KindTime
	}
	return "", ecsfields.KindStr
}
