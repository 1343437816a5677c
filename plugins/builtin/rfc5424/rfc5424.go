// Package rfc5424 is the built-in parser for RFC 5424 syslog records
// (component id "parser.syslog_rfc5424"):
//
//	<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
//
// It owns the translation of one such record into an sdk.Event and nothing
// else: no I/O, no framing (octet counting and line splitting belong to the
// input), no shared state between Parser values.
//
// It must never panic on any input, never drop input (ev.Original always holds
// the raw record, and on a malformed record "message" holds everything from the
// point where parsing stopped), never retain raw or ev, and never allocate per
// field: every value is a substring of ev.Original, so a typical record costs
// one allocation (the Original string). Only a structured-data value that
// contains an escape, an SD key not seen before by this Parser, or an error
// return allocates more.
//
// # Fields set
//
//   - @timestamp (ev.Timestamp): TIMESTAMP converted to UTC; zero for "-".
//     Fractional seconds up to nanoseconds are kept.
//   - log.syslog.priority (int): PRI, 0..191.
//   - log.syslog.facility.code (int): PRI / 8, 0..23.
//   - log.syslog.severity.code (int): PRI % 8, 0..7.
//   - log.syslog.version (int): VERSION; only 1 is accepted.
//   - host.name: HOSTNAME, unless "-".
//   - log.syslog.appname and process.name: APP-NAME, unless "-".
//   - process.pid (int): PROCID when it is a decimal number.
//   - log.syslog.msgid: MSGID, unless "-".
//   - log.syslog.structured_data.<SD-ID>.<PARAM-NAME>: one string field per
//     SD-PARAM, with the escapes \" \\ \] undone (RFC 5424 section 6.3.3;
//     any other backslash is kept). An empty value sets nothing
//     (sdk.Event.SetStr drops empty strings); a repeated SD-ID or PARAM-NAME
//     sets the field again.
//   - message: MSG with a leading UTF-8 BOM removed and trailing spaces, tabs,
//     CR, LF and NUL trimmed. Not set when empty.
//
// A "-" (NILVALUE) sets nothing. ev.Original is always string(raw).
//
// # Errors
//
// A record that does not start with "<PRI>VERSION " returns an error wrapping
// sdk.ErrNotMatched. A record that does but is malformed later (PRI above
// 191, VERSION other than 1, bad TIMESTAMP, missing header field,
// unterminated structured data) returns a descriptive error with the byte
// position; the fields parsed before that point are set and "message" holds
// the rest of the record from the field that failed.
//
// Leniency: runs of spaces and tabs between header fields are accepted (a tab
// also ends a header field), field lengths
// are not limited, and a lower-case 't' or 'z' in the timestamp is accepted.
package rfc5424

import (
	"fmt"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id of this parser.
const ID = "parser.syslog_rfc5424"

// maxKeyCache bounds the number of structured-data keys a Parser remembers.
// Beyond it, new keys are built per record (one allocation each) instead.
const maxKeyCache = 4096

var errNotMatched = fmt.Errorf("rfc5424: missing <PRI>VERSION header: %w", sdk.ErrNotMatched)

const sdPrefix = syslogcore.FieldStructuredData + "."

// Parser parses RFC 5424 records. A Parser is not safe for concurrent use;
// give each input its own (the pipeline does).
type Parser struct {
	// keys caches "log.syslog.structured_data.<SD-ID>.<PARAM-NAME>" strings
	// so that steady-state parsing does not allocate them; recent is a
	// direct-mapped table in front of it.
	keys    map[string]string
	recent  [keySlots]keyEntry
	scratch []byte
}

// keySlots is the size of Parser.recent.
const keySlots = 64

type keyEntry struct{ id, name, key string }

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser.
func New() *Parser {
	return &Parser{keys: make(map[string]string), scratch: make([]byte, 0, 96)}
}

// ID returns "parser.syslog_rfc5424".
func (p *Parser) ID() string { return ID }

// Match reports whether raw starts with "<PRI>1 ", the RFC 5424 header with
// the only defined VERSION. PRI is not range-checked here.
func Match(raw []byte) bool {
	if len(raw) < 4 || raw[0] != '<' {
		return false
	}
	i := 1
	for i < len(raw) && i <= 4 && syslogcore.IsDigit(raw[i]) {
		i++
	}
	return i > 1 && i+2 < len(raw) && raw[i] == '>' && raw[i+1] == '1' && raw[i+2] == ' '
}

// Parse fills ev from one RFC 5424 record. See the package documentation for
// the fields set and the error contract.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	s := string(raw)
	ev.Original = s

	pri, i, state, err := syslogcore.ParsePRI(s)
	switch state {
	case syslogcore.PRIAbsent:
		return errNotMatched
	case syslogcore.PRIInvalid:
		if !versionFollows(s) {
			return errNotMatched
		}
		syslogcore.SetMessage(ev, s)
		return fmt.Errorf("rfc5424: %w", err)
	}
	// VERSION: NONZERO-DIGIT 0*2DIGIT.
	vs := i
	for i < len(s) && syslogcore.IsDigit(s[i]) && i-vs < 3 {
		i++
	}
	if i == vs || s[vs] == '0' || i >= len(s) || s[i] != ' ' {
		return errNotMatched
	}
	syslogcore.SetPRI(ev, pri)
	version, _ := syslogcore.ParseUint(s[vs:i])
	ev.SetInt(syslogcore.FieldVersion, version)
	if version != 1 {
		syslogcore.SetMessage(ev, s[vs:])
		return fmt.Errorf("rfc5424: version at byte %d: unsupported version %d", vs, version)
	}
	i = skipSP(s, i)

	// TIMESTAMP.
	if i >= len(s) {
		return fmt.Errorf("rfc5424: timestamp at byte %d: record ends after version", i)
	}
	if s[i] == '-' && (i+1 == len(s) || syslogcore.IsSpace(s[i+1])) {
		i++
	} else {
		ts, end, err := syslogcore.ParseISO(s, i, syslogcore.ISOStrict, nil)
		if err == nil && end < len(s) && !syslogcore.IsSpace(s[end]) {
			err = fmt.Errorf("timestamp at byte %d: unexpected %q", end, s[end])
		}
		if err != nil {
			syslogcore.SetMessage(ev, s[i:])
			return fmt.Errorf("rfc5424: %w", err)
		}
		ev.Timestamp = ts
		i = end
	}

	// HOSTNAME, APP-NAME, PROCID, MSGID.
	var hdr [4]string
	for k := range hdr {
		start := skipSP(s, i)
		if start >= len(s) || start == i {
			setHeader(ev, hdr[:k])
			syslogcore.SetMessage(ev, s[start:])
			return fmt.Errorf("rfc5424: %s at byte %d: missing", headerNames[k], start)
		}
		i = tokenEnd(s, start)
		hdr[k] = s[start:i]
	}
	setHeader(ev, hdr[:])

	// STRUCTURED-DATA.
	start := skipSP(s, i)
	if start >= len(s) || start == i {
		syslogcore.SetMessage(ev, s[i:])
		return fmt.Errorf("rfc5424: structured data at byte %d: missing", start)
	}
	i = start
	if s[i] == '-' {
		i++
	} else if s[i] == '[' {
		end, err := p.parseSD(s, i, ev)
		if err != nil {
			syslogcore.SetMessage(ev, s[start:])
			return fmt.Errorf("rfc5424: %w", err)
		}
		i = end
	} else {
		syslogcore.SetMessage(ev, s[start:])
		return fmt.Errorf("rfc5424: structured data at byte %d: expected '-' or '['", i)
	}

	// MSG.
	if i >= len(s) {
		return nil
	}
	if !syslogcore.IsSpace(s[i]) {
		syslogcore.SetMessage(ev, s[start:])
		return fmt.Errorf("rfc5424: structured data at byte %d: expected space before message", i)
	}
	msg := s[i+1:]
	if len(msg) >= 3 && msg[0] == 0xEF && msg[1] == 0xBB && msg[2] == 0xBF {
		msg = msg[3:]
	}
	syslogcore.SetMessage(ev, msg)
	return nil
}

var headerNames = [4]string{"hostname", "app-name", "procid", "msgid"}

// setHeader stores the header fields parsed so far (a prefix of HOSTNAME,
// APP-NAME, PROCID, MSGID), skipping NILVALUEs.
func setHeader(ev *sdk.Event, hdr []string) {
	for k, v := range hdr {
		if v == "-" {
			continue
		}
		switch k {
		case 0:
			ev.SetStr(syslogcore.FieldHostName, v)
		case 1:
			ev.SetStr(syslogcore.FieldAppName, v)
			ev.SetStr(syslogcore.FieldProcessName, v)
		case 2:
			syslogcore.SetPID(ev, v)
		case 3:
			ev.SetStr(syslogcore.FieldMsgID, v)
		}
	}
}

// versionFollows reports whether an invalid PRI is followed by "1 ", so the
// record was meant to be RFC 5424 and the error is "malformed", not "not
// matched".
func versionFollows(s string) bool {
	for i := 1; i < len(s) && i <= 6; i++ {
		if s[i] == '>' {
			return i+2 < len(s) && s[i+1] == '1' && s[i+2] == ' '
		}
	}
	return false
}

// skipSP skips the blanks between header fields. RFC 5424 allows exactly
// one SP; runs of spaces and tabs are accepted.
func skipSP(s string, i int) int { return syslogcore.SkipSpace(s, i) }

// tokenEnd returns the end of the header field starting at i.
func tokenEnd(s string, i int) int { return syslogcore.TokenEnd(s, i) }

// parseSD parses one or more SD-ELEMENTs starting at s[i] == '[' and sets a
// field per SD-PARAM. It returns the index just past the last ']'.
func (p *Parser) parseSD(s string, i int, ev *sdk.Event) (int, error) {
	for i < len(s) && s[i] == '[' {
		i++
		idStart := i
		for i < len(s) && isSDName(s[i]) {
			i++
		}
		if i == idStart {
			return i, fmt.Errorf("structured data at byte %d: empty SD-ID", i)
		}
		id := s[idStart:i]
		for {
			if i >= len(s) {
				return i, fmt.Errorf("structured data at byte %d: unterminated element %q", i, id)
			}
			if s[i] == ']' {
				i++
				break
			}
			if s[i] != ' ' {
				return i, fmt.Errorf("structured data at byte %d: unexpected %q in element %q", i, s[i], id)
			}
			i = skipSP(s, i)
			if i < len(s) && s[i] == ']' {
				continue
			}
			nameStart := i
			for i < len(s) && isSDName(s[i]) {
				i++
			}
			if i == nameStart {
				return i, fmt.Errorf("structured data at byte %d: empty PARAM-NAME in element %q", i, id)
			}
			name := s[nameStart:i]
			if i+1 >= len(s) || s[i] != '=' || s[i+1] != '"' {
				return i, fmt.Errorf("structured data at byte %d: expected =\" after %q", i, name)
			}
			i += 2
			valStart := i
			escaped := false
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					escaped = true
					i++
				}
				i++
			}
			if i >= len(s) {
				return valStart, fmt.Errorf("structured data at byte %d: unterminated value of %q", valStart, name)
			}
			val := s[valStart:i]
			i++ // closing quote
			if escaped {
				val = unescape(val)
			}
			ev.SetStr(p.key(id, name), val)
		}
	}
	return i, nil
}

// isSDName reports whether c may appear in an SD-NAME: PRINTUSASCII except
// '=', SP, ']' and '"'.
func isSDName(c byte) bool {
	return c > 32 && c < 127 && c != '=' && c != ']' && c != '"'
}

// unescape undoes \" \\ and \] in an SD-PARAM value; other backslashes stay.
func unescape(v string) string {
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			switch n := v[i+1]; n {
			case '"', '\\', ']':
				b = append(b, n)
				i++
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

// key returns "log.syslog.structured_data.<id>.<name>". A small
// direct-mapped table answers repeated keys with two string compares; behind
// it, a bounded map (looked up without allocating) holds every key seen. The
// table holds substrings of the key strings only, never of a record.
func (p *Parser) key(id, name string) string {
	h := (uint(len(id))*31 + uint(len(name))*17 + uint(id[len(id)-1])*7 +
		uint(name[0]) + uint(name[len(name)-1])*3) % keySlots
	e := &p.recent[h]
	if e.id == id && e.name == name && e.key != "" {
		return e.key
	}
	p.scratch = append(p.scratch[:0], sdPrefix...)
	p.scratch = append(p.scratch, id...)
	p.scratch = append(p.scratch, '.')
	p.scratch = append(p.scratch, name...)
	k, ok := p.keys[string(p.scratch)]
	if !ok {
		k = string(p.scratch)
		if len(p.keys) < maxKeyCache {
			p.keys[k] = k
		}
	}
	*e = keyEntry{id: k[len(sdPrefix) : len(sdPrefix)+len(id)], name: k[len(k)-len(name):], key: k}
	return k
}
