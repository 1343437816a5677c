// Package syslog is the built-in auto-detecting syslog parser (component id
// "parser.syslog"), the default parser of the agent's syslog inputs and of file
// inputs holding syslog files. A record that starts with "<PRI>1 " is parsed as
// RFC 5424 (package rfc5424); every other record as BSD syslog (package
// rfc3164).
//
// It owns only that choice: the fields set, the accepted forms and the error
// contract are those of the two parsers it delegates to, documented in their
// packages. In short:
//
//   - @timestamp (ev.Timestamp, UTC), host.name, process.name, process.pid
//     (int), message, and log.syslog.priority, log.syslog.facility.code,
//     log.syslog.severity.code (int) when a PRI is present;
//   - RFC 5424 only: log.syslog.version (int), log.syslog.appname,
//     log.syslog.msgid, log.syslog.structured_data.<SD-ID>.<PARAM-NAME>.
//
// Like them it never panics, never drops input (ev.Original is always the raw
// record), never retains raw or ev, and costs one allocation per typical
// record. A record that is not syslog returns an error wrapping
// sdk.ErrNotMatched; a malformed one returns a descriptive error with the
// byte position and keeps the rest of the record in "message".
package syslog

import (
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/rfc3164"
	"github.com/vigil-sec/vigil/plugins/builtin/rfc5424"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id of this parser.
const ID = "parser.syslog"

// Options configures a Parser. The zero value is valid. Both fields only
// matter for BSD records; RFC 5424 timestamps always carry an offset.
type Options struct {
	// Location is the time zone of BSD timestamps, which carry no offset.
	// Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer the year BSD timestamps lack.
	// Defaults to time.Now.
	Now func() time.Time
}

// Parser parses RFC 5424 and BSD syslog records. Its methods are safe to call
// from one goroutine at a time.
type Parser struct {
	bsd  *rfc3164.Parser
	ietf *rfc5424.Parser
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	return &Parser{
		bsd:  rfc3164.New(rfc3164.Options{Location: opts.Location, Now: opts.Now}),
		ietf: rfc5424.New(),
	}
}

// ID returns "parser.syslog".
func (p *Parser) ID() string { return ID }

// Parse fills ev from one syslog record, RFC 5424 when it starts with
// "<PRI>1 " and BSD syslog otherwise.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	if rfc5424.Match(raw) {
		return p.ietf.Parse(raw, ev)
	}
	return p.bsd.Parse(raw, ev)
}
