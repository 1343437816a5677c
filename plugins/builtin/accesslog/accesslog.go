// Package accesslog is the built-in parser for web server access logs in the
// NCSA common and combined formats that Apache httpd and nginx write by
// default (component id "parser.accesslog"):
//
//	198.51.100.7 - alice [10/Oct/2024:13:55:36 -0700] "GET /a/b?x=1 HTTP/1.1" 200 2326 "https://example.com/" "Mozilla/5.0 ..."
//
// It owns the translation of one such line into an sdk.Event and nothing
// else. It never panics, never retains raw or ev, and keeps the raw record in
// ev.Original whatever the outcome. Values are substrings of ev.Original
// except where an escape inside quotes is undone.
//
// # Accepted forms
//
//   - HOST IDENT USER [dd/Mon/yyyy:hh:mm:ss ±hhmm] "REQUEST" STATUS BYTES,
//     optionally followed by "REFERER" "USER-AGENT" (combined), and by
//     anything else (nginx's "$http_x_forwarded_for", timings), which is
//     ignored.
//   - The same with a leading "VHOST[:PORT] " (Apache vhost_combined).
//   - Either inside a syslog record (nginx and Apache logging to syslog),
//     whose header is read by package syslog.
//   - Inside quotes, "\"" and "\\" are undone; other escapes (\xhh) are kept
//     as written. REQUEST is "METHOD TARGET PROTOCOL", "METHOD TARGET"
//     (HTTP/0.9), or anything else, which sets no request field.
//   - A quote left open in REFERER or USER-AGENT runs to the end of the
//     line (a line cut short keeps what it has).
//   - "-" is an absent value everywhere.
//
// # Fields set
//
//   - source.ip: HOST when it is an IP address; source.domain otherwise.
//   - user.name: USER. (IDENT, almost always "-", is not kept.)
//   - @timestamp: the bracketed time, in UTC.
//   - http.request.method, url.original (the whole request target, path and
//     query), url.path (the target up to '?', for a target starting with
//     '/' or an absolute http(s) URL), url.query (after '?', when not
//     empty), http.version ("1.1" from "HTTP/1.1").
//   - http.response.status_code, http.response.body.bytes (int).
//   - http.request.referrer, user_agent.original.
//   - url.domain: VHOST without its port.
//   - From a syslog header around the line: host.name, process.name,
//     process.pid, log.syslog.priority, log.syslog.facility.code,
//     log.syslog.severity.code (its timestamp is replaced by the line's).
//
// # Errors
//
// A line that does not start with HOST IDENT USER [TIME] (a valid time) and
// a quote returns an error wrapping sdk.ErrNotMatched and sets no field. A
// line that does but breaks later (no closing quote, a status that is not a
// number) returns a descriptive error; the fields before that point are set.
package accesslog

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/ecsfields"
	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/builtin/syslog"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id of this parser.
const ID = "parser.accesslog"

var errNotMatched = fmt.Errorf("accesslog: not a common or combined log line: %w", sdk.ErrNotMatched)

// Options configures a Parser. The zero value is valid. Both fields apply
// only to a syslog header around the line.
type Options struct {
	// Location is the time zone of syslog timestamps without an offset.
	// Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer a missing year. Defaults to
	// time.Now.
	Now func() time.Time
}

// Parser parses access log lines. A Parser is used by one goroutine at a
// time.
type Parser struct {
	sys *syslog.Parser
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	return &Parser{sys: syslog.New(syslog.Options{Location: opts.Location, Now: opts.Now})}
}

// ID returns "parser.accesslog".
func (p *Parser) ID() string { return ID }

// Parse fills ev from one access log line. See the package documentation.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	s := string(raw)
	ev.Original = s
	l, ok := head(s)
	if ok {
		return l.parse(s, ev)
	}
	if p.sys.Parse(raw, ev) != nil {
		reset(ev)
		return errNotMatched
	}
	m, _ := ev.Get("message")
	if l, ok = head(m.Str); !ok {
		reset(ev)
		return errNotMatched
	}
	// The syslog message is the line; its own time is kept over the
	// header's, which has no zone and often no year.
	drop(ev, "message")
	return l.parse(m.Str, ev)
}

func reset(ev *sdk.Event) {
	ev.Fields = ev.Fields[:0]
	ev.Timestamp = time.Time{}
}

// drop removes the field key from ev.
func drop(ev *sdk.Event, key string) {
	for i := range ev.Fields {
		if ev.Fields[i].Key == key {
			ev.Fields = append(ev.Fields[:i], ev.Fields[i+1:]...)
			return
		}
	}
}

// line holds the leading words of a line, found before any field is set so
// that a line of another format sets nothing.
type line struct {
	vhost, host, user string
	ts                time.Time
	req               int // index of the opening quote of REQUEST
}

// head reads "[VHOST ]HOST IDENT USER [TIME] \"".
func head(s string) (line, bool) {
	var w [5]string
	i, n := 0, 0
	for ; n < len(w); n++ {
		if i < len(s) && s[i] == '[' {
			break
		}
		e := syslogcore.TokenEnd(s, i)
		if e == i {
			return line{}, false
		}
		w[n] = s[i:e]
		i = syslogcore.SkipSpace(s, e)
	}
	var l line
	switch n {
	case 3:
		l.host, l.user = w[0], w[2]
	case 4:
		l.vhost, l.host, l.user = w[0], w[1], w[3]
	default:
		return line{}, false
	}
	if i+30 > len(s) || s[i] != '[' || s[i+27] != ']' || s[i+28] != ' ' || s[i+29] != '"' {
		return line{}, false
	}
	ts, ok := ecsfields.CLFTime(s[i+1:i+21], s[i+22:i+27])
	if !ok || s[i+21] != ' ' {
		return line{}, false
	}
	l.ts, l.req = ts, i+29
	return l, true
}

// parse sets the fields of a line whose head is l.
func (l *line) parse(s string, ev *sdk.Event) error {
	if l.vhost != "" {
		v := l.vhost
		if k := strings.LastIndexByte(v, ':'); k > 0 && !strings.Contains(v[:k], ":") {
			v = v[:k]
		}
		setStr(ev, "url.domain", v)
	}
	if ecsfields.IsIP(l.host) {
		ev.SetStr("source.ip", l.host)
	} else {
		setStr(ev, "source.domain", l.host)
	}
	setStr(ev, "user.name", l.user)
	ev.Timestamp = l.ts

	req, i, err := quoted(s, l.req)
	if err != nil {
		return err
	}
	request(req, ev)

	i = syslogcore.SkipSpace(s, i)
	e := syslogcore.TokenEnd(s, i)
	if status := s[i:e]; status != "-" {
		n, ok := syslogcore.ParseUint(status)
		if !ok || n > 999 {
			return fmt.Errorf("accesslog: status at byte %d: not a number", i)
		}
		ev.SetInt("http.response.status_code", n)
	}
	i = syslogcore.SkipSpace(s, e)
	e = syslogcore.TokenEnd(s, i)
	if size := s[i:e]; size != "-" && size != "" {
		n, ok := syslogcore.ParseUint(size)
		if !ok {
			return fmt.Errorf("accesslog: size at byte %d: not a number", i)
		}
		ev.SetInt("http.response.body.bytes", n)
	}
	i = syslogcore.SkipSpace(s, e)
	if i >= len(s) || s[i] != '"' {
		return nil // common log format
	}
	ref, i := trailing(s, i)
	setStr(ev, "http.request.referrer", ref)
	i = syslogcore.SkipSpace(s, i)
	if i >= len(s) || s[i] != '"' {
		return nil
	}
	ua, _ := trailing(s, i)
	setStr(ev, "user_agent.original", ua)
	return nil
}

// trailing reads a quoted field after the size. A quote left open there
// runs to the end of the line: the line was cut, and what is left of the
// value is still the value as far as it goes.
func trailing(s string, i int) (string, int) {
	v, next, err := quoted(s, i)
	if err != nil {
		return unescape(syslogcore.TrimRight(s[i+1:])), len(s)
	}
	return v, next
}

var errOpenQuote = errors.New("quote not closed")

// quoted reads the quoted string opening at s[i] and returns its content,
// unescaped, and the index past the closing quote.
func quoted(s string, i int) (string, int, error) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return unescape(s[i+1 : j]), j + 1, nil
		}
	}
	return "", len(s), fmt.Errorf("accesslog: at byte %d: %w", i, errOpenQuote)
}

// unescape undoes "\"" and "\\"; other escapes stay as written.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			i++
			c = s[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}

// request sets the fields of "METHOD TARGET PROTOCOL".
func request(r string, ev *sdk.Event) {
	sp := strings.IndexByte(r, ' ')
	if sp <= 0 || !isMethod(r[:sp]) {
		return
	}
	target := r[sp+1:]
	proto := ""
	if k := strings.LastIndexByte(target, ' '); k >= 0 && strings.HasPrefix(target[k+1:], "HTTP/") {
		target, proto = target[:k], target[k+1:]
	}
	if target == "" {
		return
	}
	ev.SetStr("http.request.method", r[:sp])
	ev.SetStr("url.original", target)
	path := ""
	switch {
	case target[0] == '/':
		path = target
	case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://"):
		rest := target[strings.Index(target, "//")+2:]
		if k := strings.IndexAny(rest, "/?"); k >= 0 {
			path = rest[k:]
		}
	}
	if path != "" {
		query := ""
		if k := strings.IndexByte(path, '?'); k >= 0 {
			path, query = path[:k], path[k+1:]
		}
		ev.SetStr("url.path", path)
		ev.SetStr("url.query", query)
	}
	ev.SetStr("http.version", strings.TrimPrefix(proto, "HTTP/"))
}

// isMethod reports whether m looks like an HTTP method: upper-case letters,
// '-' or '_' (WebDAV's VERSION-CONTROL), at most 20.
func isMethod(m string) bool {
	if len(m) > 20 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !(c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// setStr stores v unless it is "-", the log's mark of an absent value.
func setStr(ev *sdk.Event, key, v string) {
	if v != "" && v != "-" {
		ev.SetStr(key, v)
	}
}
