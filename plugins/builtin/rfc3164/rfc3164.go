// Package rfc3164 is the built-in parser for BSD syslog records (RFC 3164 and
// the dialects real devices and log files use; component id
// "parser.syslog_rfc3164"):
//
//	[<PRI>]TIMESTAMP [HOSTNAME] [TAG[[PID]]:] MSG
//
// It owns the translation of one such record into an sdk.Event and nothing
// else: no I/O, no framing (line splitting belongs to the input), no state
// shared between Parser values.
//
// It must never panic on any input, never drop input (ev.Original always holds
// the raw record, and on a malformed record "message" holds everything from the
// point where parsing stopped), never retain raw or ev, and never allocate per
// field: every value is a substring of ev.Original, so a record costs one
// allocation (the Original string).
//
// # Accepted forms
//
//   - PRI: optional "<N>", N in 0..191. Without it (lines of /var/log/auth.log
//     and the like) the record must start with a timestamp.
//   - TIMESTAMP, one of:
//     "Mmm dd hh:mm:ss" with the day as one or two digits after one or more
//     blanks (so "Jan 2", "Jan 02" and the space-padded form all parse),
//     month names in any case, optional fractional seconds
//     ("10:00:01.123"), and an optional year after the day
//     ("Jan 12 2024 10:00:01", Cisco ASA); or
//     RFC 3339 / ISO 8601 ("2024-01-12T10:00:01.5+01:00"), also with a space
//     instead of 'T', ',' before the fraction, "+hhmm" or "+hh" offsets, or no
//     offset.
//     Blanks before the timestamp and a colon right after it
//     ("10:00:01: %ASA-...") are skipped.
//   - HOSTNAME: the next word, unless it is already a TAG ("sshd[1]:",
//     "sshd:") or starts with '%' (a Cisco message id): then the record has
//     no hostname. A lone ":" after the hostname (Cisco ASA "fw01 : %ASA-...")
//     is skipped.
//   - TAG: "prog[pid]:", "prog:", "prog[pid]" followed by a space (macOS
//     "launchd[1] (svc): ..."), or a multi-word name with a numeric pid
//     ("Microsoft Word[14463]:", at most three words). A word starting with '%' is never a tag.
//     Anything else is message.
//
// With a PRI but no recognizable timestamp (FortiGate "<189>date=...", Cisco
// "<166>%ASA-..."), the rest of the record is the message, as RFC 3164
// section 4.3.3 prescribes for relays, and Parse returns no error.
//
// # Year
//
// BSD timestamps carry no year. It is chosen from Options.Now in
// Options.Location: the latest year that does not put the timestamp more than
// 31 days after the reference time. So a line dated Dec 31 read on Jan 2 is
// placed in the previous year, and a line dated Jan 1 read on Dec 31 (a sender
// whose clock is slightly ahead) in the next one.
//
// # Fields set
//
//   - @timestamp (ev.Timestamp): in UTC. Timestamps without an offset are
//     read in Options.Location.
//   - log.syslog.priority, log.syslog.facility.code, log.syslog.severity.code
//     (int): only when a PRI is present.
//   - host.name: HOSTNAME.
//   - process.name: the TAG's program name.
//   - process.pid (int): the TAG's pid when it is a decimal number.
//   - message: MSG, with leading spaces after the TAG and trailing spaces,
//     tabs, CR, LF and NUL trimmed. Not set when empty.
//
// # Errors
//
// A record that has no PRI and does not start with a timestamp-shaped prefix
// (a month name followed by a day, or "YYYY-MM-DD" and an hour) returns an error wrapping
// sdk.ErrNotMatched. A PRI out of range, or a timestamp-shaped prefix that does
// not parse (month 13, day 32, "Jan 12 25:00:00"), returns a descriptive error
// with the byte position; "message" then holds the record from that point.
package rfc3164

import (
	"fmt"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id of this parser.
const ID = "parser.syslog_rfc3164"

// yearHorizon is how far after the reference time a year-less timestamp may
// fall before it is placed in the previous year.
const yearHorizon = 31 * 24 * time.Hour

// maxTag bounds the length of a TAG's program name.
const maxTag = 128

// maxTagSpaces bounds the number of blanks in a multi-word program name
// ("Google Chrome Helper[1]:").
const maxTagSpaces = 2

// maxPID bounds the length of the text between '[' and ']' in a TAG.
const maxPID = 24

var errNotMatched = fmt.Errorf("rfc3164: no <PRI> and no timestamp at start of record: %w", sdk.ErrNotMatched)

// Options configures a Parser. The zero value is valid.
type Options struct {
	// Location is the time zone of timestamps that carry no offset.
	// Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer the missing year.
	// Defaults to time.Now.
	Now func() time.Time
}

// Parser parses BSD syslog records. Its methods are safe to call from one
// goroutine at a time.
type Parser struct {
	loc *time.Location
	now func() time.Time
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	p := &Parser{loc: opts.Location, now: opts.Now}
	if p.loc == nil {
		p.loc = time.UTC
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// ID returns "parser.syslog_rfc3164".
func (p *Parser) ID() string { return ID }

// Parse fills ev from one BSD syslog record. See the package documentation for
// the accepted forms, the fields set and the error contract.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	s := string(raw)
	ev.Original = s

	pri, i, state, err := syslogcore.ParsePRI(s)
	switch state {
	case syslogcore.PRIInvalid:
		syslogcore.SetMessage(ev, s)
		return fmt.Errorf("rfc3164: %w", err)
	case syslogcore.PRIOK:
		syslogcore.SetPRI(ev, pri)
	}

	i = syslogcore.SkipSpace(s, i)
	var ts time.Time
	end := i
	switch {
	case bsdShape(s, i):
		ts, end, err = p.parseBSD(s, i)
	case isoShape(s, i):
		ts, end, err = syslogcore.ParseISO(s, i, syslogcore.ISOLenient, p.loc)
	default:
		if state != syslogcore.PRIOK {
			return errNotMatched
		}
		syslogcore.SetMessage(ev, s[i:])
		return nil
	}
	if err == nil && end < len(s) {
		if s[end] == ':' && (end+1 == len(s) || syslogcore.IsSpace(s[end+1])) {
			end++ // Cisco: "Apr 30 15:10:58: %DOT1X-..."
		}
		if end < len(s) && !syslogcore.IsSpace(s[end]) {
			err = fmt.Errorf("timestamp at byte %d: unexpected %q", end, s[end])
		}
	}
	if err != nil {
		syslogcore.SetMessage(ev, s[i:])
		return fmt.Errorf("rfc3164: %w", err)
	}
	ev.Timestamp = ts

	i = syslogcore.SkipSpace(s, end)
	if i < len(s) && s[i] != '%' {
		te := syslogcore.TokenEnd(s, i)
		if !isTagWord(s[i:te]) {
			ev.SetStr(syslogcore.FieldHostName, s[i:te])
			i = syslogcore.SkipSpace(s, te)
		}
	}
	i = parseTag(s, i, ev)
	syslogcore.SetMessage(ev, s[i:])
	return nil
}

// monthOf returns 1..12 for a three-letter English month abbreviation in any
// case, or 0.
func monthOf(a, b, c byte) int {
	switch uint32(a|0x20)<<16 | uint32(b|0x20)<<8 | uint32(c|0x20) {
	case 'j'<<16 | 'a'<<8 | 'n':
		return 1
	case 'f'<<16 | 'e'<<8 | 'b':
		return 2
	case 'm'<<16 | 'a'<<8 | 'r':
		return 3
	case 'a'<<16 | 'p'<<8 | 'r':
		return 4
	case 'm'<<16 | 'a'<<8 | 'y':
		return 5
	case 'j'<<16 | 'u'<<8 | 'n':
		return 6
	case 'j'<<16 | 'u'<<8 | 'l':
		return 7
	case 'a'<<16 | 'u'<<8 | 'g':
		return 8
	case 's'<<16 | 'e'<<8 | 'p':
		return 9
	case 'o'<<16 | 'c'<<8 | 't':
		return 10
	case 'n'<<16 | 'o'<<8 | 'v':
		return 11
	case 'd'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

// bsdShape reports whether s[i:] starts like a BSD timestamp: a month
// abbreviation, spaces, a digit.
func bsdShape(s string, i int) bool {
	if i+4 >= len(s) || monthOf(s[i], s[i+1], s[i+2]) == 0 || !syslogcore.IsSpace(s[i+3]) {
		return false
	}
	j := syslogcore.SkipSpace(s, i+3)
	return j < len(s) && syslogcore.IsDigit(s[j])
}

// isoShape reports whether s[i:] starts like an ISO 8601 date and time:
// "YYYY-MM-DD", 'T' or a space, two digits and ':'.
func isoShape(s string, i int) bool {
	if !syslogcore.LooksISO(s, i) || i+13 >= len(s) {
		return false
	}
	c := s[i+10]
	return (c == 'T' || c == 't' || c == ' ') && syslogcore.IsDigit(s[i+11]) &&
		syslogcore.IsDigit(s[i+12]) && s[i+13] == ':'
}

// parseBSD parses "Mmm dd [yyyy ]hh:mm:ss[.frac]" at s[i:] (bsdShape holds)
// and returns the time in UTC and the index just past it.
func (p *Parser) parseBSD(s string, i int) (time.Time, int, error) {
	start := i
	month := monthOf(s[i], s[i+1], s[i+2])
	i = syslogcore.SkipSpace(s, i+3)
	day := int(s[i] - '0')
	i++
	if i < len(s) && syslogcore.IsDigit(s[i]) {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if i >= len(s) || !syslogcore.IsSpace(s[i]) {
		return time.Time{}, i, fmt.Errorf("timestamp at byte %d: expected space after day", i)
	}
	i = syslogcore.SkipSpace(s, i)
	year := 0
	if y, ok := syslogcore.Num4(s, i); ok && i+4 < len(s) && syslogcore.IsSpace(s[i+4]) {
		year = y
		i = syslogcore.SkipSpace(s, i+4)
	}
	hour, ok1 := syslogcore.Num2(s, i)
	minute, ok2 := syslogcore.Num2(s, i+3)
	sec, ok3 := syslogcore.Num2(s, i+6)
	if !ok1 || !ok2 || !ok3 || s[i+2] != ':' || s[i+5] != ':' {
		return time.Time{}, i, fmt.Errorf("timestamp at byte %d: expected hh:mm:ss", i)
	}
	i += 8
	ns := 0
	if i+1 < len(s) && s[i] == '.' && syslogcore.IsDigit(s[i+1]) {
		ns, i, _ = syslogcore.ParseFrac(s, i+1)
	}
	if err := syslogcore.CheckClock(start, hour, minute, sec); err != nil {
		return time.Time{}, start, err
	}
	if day < 1 || day > syslogcore.DaysIn(month, 2000) {
		return time.Time{}, start, fmt.Errorf("timestamp at byte %d: day %d out of range", start, day)
	}
	var t time.Time
	if year == 0 {
		year, t = p.inferYear(month, day, hour, minute, sec, ns)
	} else {
		t = time.Date(year, time.Month(month), day, hour, minute, sec, ns, p.loc)
	}
	if day > syslogcore.DaysIn(month, year) {
		return time.Time{}, start, fmt.Errorf("timestamp at byte %d: day %d out of range in %d", start, day, year)
	}
	return t.UTC(), i, nil
}

// inferYear returns the latest year that places the date no more than
// yearHorizon after the reference time, and the date in that year.
func (p *Parser) inferYear(month, day, hour, minute, sec, ns int) (int, time.Time) {
	now := p.now().In(p.loc)
	limit := now.Add(yearHorizon)
	y := now.Year()
	m := time.Month(month)
	if m < now.Month() {
		if t := time.Date(y+1, m, day, hour, minute, sec, ns, p.loc); !t.After(limit) {
			return y + 1, t
		}
	}
	t := time.Date(y, m, day, hour, minute, sec, ns, p.loc)
	if t.After(limit) {
		return y - 1, time.Date(y-1, m, day, hour, minute, sec, ns, p.loc)
	}
	return y, t
}

// isTagWord reports whether the word after the timestamp is a TAG rather than
// a hostname: it ends with ':' ("sshd:", "sshd[1]:") or is "prog[pid]".
func isTagWord(w string) bool {
	n := len(w)
	if n == 0 {
		return false
	}
	if w[n-1] == ':' {
		return true
	}
	if w[n-1] != ']' {
		return false
	}
	for k := 1; k < n-1; k++ {
		if w[k] == '[' {
			return true
		}
	}
	return false
}

// parseTag reads a TAG at s[i:], sets process.name and process.pid, and
// returns where the message starts (i when there is no TAG).
func parseTag(s string, i int, ev *sdk.Event) int {
	if i >= len(s) {
		return i
	}
	if s[i] == ':' && (i+1 == len(s) || syslogcore.IsSpace(s[i+1])) {
		return syslogcore.SkipSpace(s, i+1) // "fw01 : %ASA-..."
	}
	if s[i] == '%' {
		return i
	}
	j := i
	for j < len(s) && j-i <= maxTag {
		c := s[j]
		if c == ':' || c == '[' || c == ' ' || c == '\t' {
			break
		}
		j++
	}
	if j == i || j >= len(s) || j-i > maxTag {
		return i
	}
	switch s[j] {
	case ':':
		if j+1 == len(s) || syslogcore.IsSpace(s[j+1]) {
			ev.SetStr(syslogcore.FieldProcessName, s[i:j])
			return syslogcore.SkipSpace(s, j+1)
		}
		return i
	case '[':
		return tagWithPID(s, i, j, false, ev)
	}
	// A name with spaces needs "[pid]:" to be told apart from a message.
	k, spaces := j, 0
	for k < len(s) && k-i <= maxTag && spaces <= maxTagSpaces {
		c := s[k]
		if c == '[' || c == ':' || c == ']' {
			break
		}
		if syslogcore.IsSpace(c) {
			spaces++
		}
		k++
	}
	if k < len(s) && k-i <= maxTag && spaces <= maxTagSpaces && s[k] == '[' && !syslogcore.IsSpace(s[k-1]) {
		return tagWithPID(s, i, k, true, ev)
	}
	return i
}

// tagWithPID reads "name[pid]" with s[i:b] the name and s[b] == '['. The tag
// must be followed by ':' and a space, the end, or (unless strict) a space.
// strict also requires a numeric pid.
func tagWithPID(s string, i, b int, strict bool, ev *sdk.Event) int {
	c := b + 1
	for c < len(s) && s[c] != ']' && c-b <= maxPID {
		if syslogcore.IsSpace(s[c]) {
			return i
		}
		c++
	}
	if c >= len(s) || s[c] != ']' {
		return i
	}
	pid := s[b+1 : c]
	n := c + 1
	switch {
	case n == len(s):
	case s[n] == ':' && (n+1 == len(s) || syslogcore.IsSpace(s[n+1])):
		n++
	case syslogcore.IsSpace(s[n]) && !strict:
	default:
		return i
	}
	if strict {
		if _, ok := syslogcore.ParseUint(pid); !ok {
			return i
		}
	}
	ev.SetStr(syslogcore.FieldProcessName, s[i:b])
	syslogcore.SetPID(ev, pid)
	return syslogcore.SkipSpace(s, n)
}
