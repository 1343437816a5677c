// Package jsonlines is the built-in parser for records that are one JSON
// object per line (component id "parser.json"): application logs written by
// structured loggers, ECS-formatted logs, and JSON sent behind a syslog
// header.
//
//	{"@timestamp":"2024-01-12T10:00:01.5Z","log":{"level":"warn"},"source":{"ip":"198.51.100.7"},"msg":"login failed"}
//
// It owns the translation of one such record into an sdk.Event and nothing
// else. It never panics, never retains raw or ev, and keeps the raw record in
// ev.Original whatever the outcome. Values are substrings of the record
// except strings holding escapes; nested field names are built once and
// then remembered (up to 4096 of them). A syslog header in front costs one
// copy.
//
// # Accepted forms
//
// A JSON object (RFC 8259), optionally preceded by blanks or by a syslog
// header read by package syslog (BSD or RFC 5424) with nothing else before
// the '{'. Only blanks may follow the object.
//
// # Fields set
//
//   - Every member, flattened: a member of a nested object is named by the
//     dotted path of keys ({"source":{"ip":"x"}} gives source.ip), so ECS
//     documents keep their ECS names, and other names are kept as written.
//     Strings are strings (escapes undone), integers that fit int64 are
//     ints, other numbers floats, true and false bools. null, {} and []
//     set nothing. An array is kept as its JSON text, a string. Objects
//     nested deeper than 16 levels are kept as their JSON text too.
//   - Two common non-ECS names at the top level are renamed: msg to
//     message and level to log.level.
//   - @timestamp: the first of the top-level members "@timestamp",
//     "timestamp" and "time" (in that order of preference) whose value is
//     an RFC 3339 string (a blank in place of 'T' and no offset are
//     accepted; without an offset Options.Location applies) or a number of
//     seconds, milliseconds, microseconds or nanoseconds since the epoch
//     (told apart by size). That member is not stored as a field; the
//     others are. It replaces a syslog header's time.
//   - From a syslog header in front: host.name, process.name, process.pid,
//     log.syslog.priority, log.syslog.facility.code,
//     log.syslog.severity.code, @timestamp, and the RFC 5424 fields of
//     package rfc5424.
//
// A name that occurs twice (a repeated key, or "a.b" next to {"a":{"b":}})
// keeps its first value; an empty key is skipped. At most 1024 fields are
// stored. Names the pipeline sets itself (@timestamp when it is not a time,
// tags, event.original, event.created, event.parse_error, agent.id,
// input.type, vigil.*) are stored as json.<name> instead, and so are members
// named *.ip whose value is not an IP address string and *.port whose value
// is not an integer 0..65535: the rest of the pipeline relies on those
// types.
//
// # Errors
//
// A record that does not start with '{' (after an optional syslog header)
// returns an error wrapping sdk.ErrNotMatched and sets no field. Invalid
// JSON returns a descriptive error with the byte position; the members read
// before it are set.
package jsonlines

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/ecsfields"
	"github.com/vigil-sec/vigil/plugins/builtin/internal/sysheader"
	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id of this parser.
const ID = "parser.json"

const (
	maxDepth    = 16
	maxFields   = 1024
	maxKeyCache = 4096
)

var errNotMatched = fmt.Errorf("json: record is not a JSON object: %w", sdk.ErrNotMatched)

// Options configures a Parser. The zero value is valid.
type Options struct {
	// Location is the time zone of times without an offset, in the JSON
	// and in a syslog header. Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer the year BSD syslog headers
	// lack. Defaults to time.Now.
	Now func() time.Time
}

// Parser parses JSON records. A Parser is used by one goroutine at a time.
type Parser struct {
	hdr     sysheader.Header
	loc     *time.Location
	names   ecsfields.Names
	path    []byte
	scratch []byte
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	p := &Parser{loc: opts.Location, names: ecsfields.NewNames(maxKeyCache)}
	if p.loc == nil {
		p.loc = time.UTC
	}
	p.hdr = sysheader.New(p.loc, opts.Now)
	return p
}

// ID returns "parser.json".
func (p *Parser) ID() string { return ID }

// Parse fills ev from one JSON record. See the package documentation.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	s := string(raw)
	ev.Original = s
	at := syslogcore.SkipSpace(s, 0)
	if at < len(s) && s[at] != '{' {
		k := strings.IndexByte(s, '{')
		if k < 0 {
			return errNotMatched
		}
		if rest, ok := p.hdr.Parse(raw[:k], ev); !ok || rest != "" {
			ev.Fields = ev.Fields[:0]
			ev.Timestamp = time.Time{}
			return errNotMatched
		}
		at = k
	}
	if at >= len(s) {
		return errNotMatched
	}
	d := decoder{s: s, i: at, ev: ev, p: p}
	p.path = p.path[:0]
	err := d.object(0)
	if err == nil {
		if d.i = skipWS(s, d.i); d.i < len(s) {
			err = d.errorf("data after the object")
		}
	}
	return err
}

// decoder walks one record.
type decoder struct {
	s  string
	i  int
	ev *sdk.Event
	p  *Parser
	// timePrio is the preference of the member that set ev.Timestamp (0:
	// none); heldTime is that member, stored as a field after all if a
	// preferred one turns up.
	timePrio int
	heldTime sdk.Field
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("json: at byte %d: %s", d.i, fmt.Sprintf(format, args...))
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// object reads the object at s[i] == '{'; p.path holds its dotted name.
func (d *decoder) object(depth int) error {
	d.i++
	base := len(d.p.path)
	d.i = skipWS(d.s, d.i)
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		d.i = skipWS(d.s, d.i)
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return d.errorf("expected a key")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		d.i = skipWS(d.s, d.i)
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return d.errorf("expected ':'")
		}
		d.i = skipWS(d.s, d.i+1)
		d.p.path = d.p.path[:base]
		if base > 0 {
			d.p.path = append(d.p.path, '.')
		}
		d.p.path = append(d.p.path, key...)
		if err := d.value(key, depth); err != nil {
			return err
		}
		d.p.path = d.p.path[:base]
		d.i = skipWS(d.s, d.i)
		if d.i >= len(d.s) {
			return d.errorf("object not closed")
		}
		switch d.s[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.errorf("expected ',' or '}'")
		}
	}
}

// value reads the value of member key (at depth; p.path is its full name).
func (d *decoder) value(key string, depth int) error {
	if d.i >= len(d.s) {
		return d.errorf("expected a value")
	}
	start := d.i
	switch c := d.s[d.i]; {
	case c == '{':
		if depth+1 < maxDepth {
			return d.object(depth + 1)
		}
		if err := d.skip(); err != nil {
			return err
		}
		d.set(key, depth, sdk.Field{Kind: sdk.KindString, Str: d.s[start:d.i]})
	case c == '[':
		if err := d.skip(); err != nil {
			return err
		}
		if v := d.s[start:d.i]; !isEmptyArray(v) {
			d.set(key, depth, sdk.Field{Kind: sdk.KindString, Str: v})
		}
	case c == '"':
		v, err := d.str()
		if err != nil {
			return err
		}
		d.set(key, depth, sdk.Field{Kind: sdk.KindString, Str: v})
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(d.s[d.i:], lit) {
				d.i += len(lit)
				if lit != "null" {
					d.set(key, depth, sdk.Field{Kind: sdk.KindBool, Bool: lit == "true"})
				}
				return nil
			}
		}
		return d.errorf("invalid literal")
	default:
		f, err := d.number()
		if err != nil {
			return err
		}
		d.set(key, depth, f)
	}
	return nil
}

func isEmptyArray(v string) bool {
	return len(v) >= 2 && skipWS(v, 1) == len(v)-1
}

// set stores a member: as @timestamp when it is the preferred time member,
// else under its dotted name.
func (d *decoder) set(key string, depth int, f sdk.Field) {
	if key == "" {
		return
	}
	if depth == 0 {
		if prio := timePriority(key); prio > d.timePrio {
			if t, ok := d.p.timeOf(f); ok {
				f.Key = key
				if d.timePrio > 0 {
					d.store(d.heldTime)
				}
				d.timePrio, d.heldTime = prio, f
				d.ev.Timestamp = t
				return
			}
		}
		switch {
		case key == "msg" && f.Kind == sdk.KindString:
			key = "message"
		case key == "level" && f.Kind == sdk.KindString:
			key = "log.level"
		}
		f.Key = key
	} else {
		f.Key = d.p.name()
	}
	d.store(f)
}

// store appends f unless its name is taken, or the field limit is reached.
func (d *decoder) store(f sdk.Field) {
	if f.Kind == sdk.KindString && f.Str == "" || len(d.ev.Fields) >= maxFields {
		return
	}
	if reserved(f.Key) || !typed(f) {
		f.Key = d.p.renamed(f.Key)
	}
	for i := range d.ev.Fields {
		if d.ev.Fields[i].Key == f.Key {
			return
		}
	}
	d.ev.Fields = append(d.ev.Fields, f)
}

// reserved reports whether the pipeline or the hub sets key itself, so that
// a member of that name would overwrite or contradict it.
func reserved(key string) bool {
	switch key {
	case "@timestamp", "tags", "event.original", "event.created", "event.parse_error", "agent.id", "input.type":
		return true
	}
	return strings.HasPrefix(key, "vigil.")
}

// typed reports whether f fits the type ECS gives its name: an address
// for *.ip, a port number for *.port. Other names take any value.
func typed(f sdk.Field) bool {
	switch {
	case strings.HasSuffix(f.Key, ".ip"):
		return f.Kind == sdk.KindString && ecsfields.IsIP(f.Str)
	case strings.HasSuffix(f.Key, ".port"):
		return f.Kind == sdk.KindInt && f.Int >= 0 && f.Int <= 65535
	}
	return true
}

// renamed returns "json." + key, remembered like nested names.
func (p *Parser) renamed(key string) string {
	saved := p.path
	p.path = append(append(p.scratch[:0], "json."...), key...)
	k := p.name()
	p.scratch, p.path = p.path, saved
	return k
}

func timePriority(key string) int {
	switch key {
	case "@timestamp":
		return 3
	case "timestamp":
		return 2
	case "time":
		return 1
	}
	return 0
}

// name returns p.path as a string, remembered so that the next record with
// the same nested member does not allocate it.
func (p *Parser) name() string {
	return p.names.String(p.path)
}

// timeOf reads a time member's value.
func (p *Parser) timeOf(f sdk.Field) (time.Time, bool) {
	switch f.Kind {
	case sdk.KindString:
		v := f.Str
		if !syslogcore.LooksISO(v, 0) {
			return time.Time{}, false
		}
		t, end, err := syslogcore.ParseISO(v, 0, syslogcore.ISOLenient, p.loc)
		return t, err == nil && end == len(v)
	case sdk.KindInt:
		return epoch(f.Int)
	case sdk.KindFloat:
		if f.Float <= 0 || f.Float >= 1e11 {
			return time.Time{}, false
		}
		sec, frac := math.Modf(f.Float)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
	}
	return time.Time{}, false
}

// epoch reads an integer time since the epoch as seconds, milliseconds,
// microseconds or nanoseconds by its size.
func epoch(n int64) (time.Time, bool) {
	switch {
	case n <= 0:
		return time.Time{}, false
	case n < 1e11:
		return time.Unix(n, 0).UTC(), true
	case n < 1e14:
		return time.UnixMilli(n).UTC(), true
	case n < 1e17:
		return time.UnixMicro(n).UTC(), true
	}
	return time.Unix(0, n).UTC(), true
}

// str reads the string at s[i] == '"' and returns it unescaped.
func (d *decoder) str() (string, error) {
	start := d.i + 1
	escaped := false
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '\\':
			escaped = true
			j++
		case c == '"':
			d.i = j + 1
			if !escaped {
				return d.s[start:j], nil
			}
			v, ok := unescape(d.s[start:j])
			if !ok {
				d.i = start
				return "", d.errorf("invalid escape")
			}
			return v, nil
		case c < 0x20:
			d.i = j
			return "", d.errorf("control character in string")
		}
	}
	return "", d.errorf("string not closed")
}

// unescape undoes JSON string escapes.
func unescape(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch s[i] {
		case '"', '\\', '/':
			b = append(b, s[i])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", false
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if lo, ok := hex4(s, i+3); ok && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", false
		}
	}
	return string(b), true
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := i; k < i+4; k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number reads a JSON number.
func (d *decoder) number() (sdk.Field, error) {
	start := d.i
	isInt := true
	for d.i < len(d.s) {
		c := d.s[d.i]
		if c >= '0' && c <= '9' || c == '-' {
			d.i++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' || c == '+' {
			isInt = false
			d.i++
			continue
		}
		break
	}
	v := d.s[start:d.i]
	if !validNumber(v) {
		d.i = start
		return sdk.Field{}, d.errorf("invalid number")
	}
	if isInt {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return sdk.Field{Kind: sdk.KindInt, Int: n}, nil
		}
	}
	x, _ := strconv.ParseFloat(v, 64)
	return sdk.Field{Kind: sdk.KindFloat, Float: x}, nil
}

// validNumber checks the JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(v string) bool {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(v) && v[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(v)
}

// skip passes over the array or object at s[i], checking only that its
// brackets and strings close.
func (d *decoder) skip() error {
	depth := 0
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case '"':
			if err := d.skipString(); err != nil {
				return err
			}
			continue
		case '[', '{':
			depth++
			if depth > 1000 {
				return d.errorf("nested too deep")
			}
		case ']', '}':
			depth--
			if depth == 0 {
				d.i++
				return nil
			}
		}
		d.i++
	}
	return d.errorf("array or object not closed")
}

// skipString passes over the string at s[i] == '"' without unescaping it.
func (d *decoder) skipString() error {
	for j := d.i + 1; j < len(d.s); j++ {
		switch d.s[j] {
		case '\\':
			j++
		case '"':
			d.i = j + 1
			return nil
		}
	}
	return d.errorf("string not closed")
}
