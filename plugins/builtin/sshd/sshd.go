// Package sshd is the built-in parser for OpenSSH server log records
// (component id "parser.sshd"): syslog records whose program is sshd, as in
// /var/log/auth.log and /var/log/secure,
//
//	Feb 12 14:10:21 host sshd[16378]: Failed password for invalid user admin from 198.51.100.7 port 53502 ssh2
//
// It owns the reading of the sshd message and nothing else: the syslog
// header is read by package syslog (BSD or RFC 5424). It never panics, never
// retains raw or ev, and keeps the raw record in ev.Original whatever the
// outcome. Every value is a substring of ev.Original or a constant.
//
// # Accepted forms
//
//   - A syslog record whose program (process.name) is "sshd" or starts with
//     "sshd-" (OpenSSH 9.8 logs as "sshd-session" and "sshd-auth").
//   - A record without a syslog header whose text is one of the sshd
//     messages below (journalctl -o cat output); the PAM messages
//     ("authentication failure", "session opened") only when they name
//     sshd, as in "pam_unix(sshd:auth)", since other services write them
//     in the same words.
//
// A leading "error: " or "fatal: " is skipped when reading the message.
//
// # Fields set
//
//   - From the syslog header: @timestamp, host.name, process.name,
//     process.pid, log.syslog.priority, log.syslog.facility.code,
//     log.syslog.severity.code, and the RFC 5424 fields of package rfc5424.
//   - message: the sshd message.
//   - event.action and event.outcome by message:
//   - "Accepted METHOD for USER from IP port N": ssh-login, success.
//   - "Failed METHOD for [invalid user ]USER from IP port N": ssh-login,
//     failure.
//   - "Invalid user USER from IP [port N]" and "input_userauth_request:
//     invalid user USER [preauth]": invalid-user, failure.
//   - "maximum authentication attempts exceeded for [invalid user ]USER from
//     IP port N" and "Too many authentication failures": max-auth-attempts,
//     failure.
//   - "authentication failure" (pam_unix, "PAM: Authentication failure for
//     USER from HOST", "PAM n more authentication failures"):
//     authentication-failure, failure.
//   - "User USER from IP not allowed because ...": user-not-allowed, failure.
//   - "refused connect from HOST (IP)": connection-refused, failure.
//   - "Connection closed by ...", "Connection reset by ...",
//     "Disconnected from ...": connection-closed, connection-reset,
//     disconnected; failure only when the peer is an "authenticating user"
//     or "invalid user" (it left during authentication).
//   - "Received disconnect from IP port N: ...": disconnect-received.
//   - "Did not receive identification string from IP": no-identification.
//   - "Unable to negotiate with IP port N: ...": negotiation-failed.
//   - "Timeout before authentication for IP port N": auth-timeout.
//   - "... [IP] failed - POSSIBLE BREAK-IN ATTEMPT!" and "Address IP maps to
//     HOST, but this does not map back ...": possible-break-in.
//   - "session opened for user USER" and "session closed for user USER":
//     session-opened, session-closed.
//   - user.name: the USER of the forms above (trimmed; "user=X" in PAM
//     messages; the "(uid=N)" after a session user is not part of it).
//   - source.ip: the address after "from", in "rhost=", in "[IP] failed -
//     POSSIBLE BREAK-IN", after "user NAME", in "refused connect from HOST
//     (IP)", or, for other messages, the first "from IP" or the IP of
//     "user NAME IP port N"; only valid addresses.
//   - source.port (int): the "port N" after that address.
//   - source.address: the rhost= value or the HOST of a PAM failure (an
//     address or a host name), otherwise source.ip.
//
// # Errors
//
// A record of another program, or a record without a syslog header that is
// not a known sshd message, returns an error wrapping sdk.ErrNotMatched and
// sets no field. Every other record parses.
package sshd

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/ecsfields"
	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/builtin/syslog"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id of this parser.
const ID = "parser.sshd"

var errNotMatched = fmt.Errorf("sshd: not an sshd record: %w", sdk.ErrNotMatched)

// Options configures a Parser. The zero value is valid.
type Options struct {
	// Location is the time zone of syslog timestamps without an offset.
	// Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer the year BSD syslog
	// timestamps lack. Defaults to time.Now.
	Now func() time.Time
}

// Parser parses sshd records. A Parser is used by one goroutine at a time.
type Parser struct {
	sys *syslog.Parser
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	return &Parser{sys: syslog.New(syslog.Options{Location: opts.Location, Now: opts.Now})}
}

// ID returns "parser.sshd".
func (p *Parser) ID() string { return ID }

// Parse fills ev from one sshd record. See the package documentation.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	if err := p.sys.Parse(raw, ev); err == nil {
		name, _ := ev.Get("process.name")
		if name.Str != "sshd" && !strings.HasPrefix(name.Str, "sshd-") {
			reset(ev)
			return errNotMatched
		}
		msg, _ := ev.Get("message")
		describe(msg.Str, ev)
		return nil
	}
	// Not syslog: ev.Original is already set (package syslog sets it in
	// every case), so only the fields go.
	reset(ev)
	msg := syslogcore.TrimRight(ev.Original)
	// Without a program name to go by, PAM's wording, which every PAM
	// service shares, counts only when PAM names sshd.
	if k := describe(msg, ev); k == unknown || k == pam && !strings.Contains(msg, "(sshd:") {
		reset(ev)
		return errNotMatched
	}
	ev.SetStr("message", msg)
	return nil
}

func reset(ev *sdk.Event) {
	ev.Fields = ev.Fields[:0]
	ev.Timestamp = time.Time{}
}

// What describe recognised.
const (
	unknown = iota // not one of the messages below
	known          // a message only sshd writes
	pam            // a PAM message, written in the same words by other services
)

// describe sets the fields the message gives and reports what it was.
func describe(msg string, ev *sdk.Event) int {
	m := msg
	if r, ok := strings.CutPrefix(m, "error: "); ok {
		m = r
	} else if r, ok := strings.CutPrefix(m, "fatal: "); ok {
		m = r
	}
	if r, ok := strings.CutPrefix(m, "Accepted "); ok {
		return login(r, "success", ev)
	}
	if r, ok := strings.CutPrefix(m, "Failed "); ok {
		return login(r, "failure", ev)
	}
	if r, ok := strings.CutPrefix(m, "Invalid user "); ok {
		act(ev, "invalid-user", "failure")
		userFrom(r, ev)
		return known
	}
	if r, ok := strings.CutPrefix(m, "input_userauth_request: invalid user "); ok {
		act(ev, "invalid-user", "failure")
		setUser(ev, strings.TrimSuffix(r, " [preauth]"))
		return known
	}
	if r, ok := strings.CutPrefix(m, "maximum authentication attempts exceeded for "); ok {
		act(ev, "max-auth-attempts", "failure")
		r, _ = strings.CutPrefix(r, "invalid user ")
		userFrom(r, ev)
		return known
	}
	if r, ok := strings.CutPrefix(m, "User "); ok {
		if k := strings.Index(r, " not allowed because "); k >= 0 {
			act(ev, "user-not-allowed", "failure")
			userFrom(r[:k], ev)
			return known
		}
	}
	if r, ok := strings.CutPrefix(m, "refused connect from "); ok {
		act(ev, "connection-refused", "failure")
		if o := strings.LastIndex(r, " ("); o >= 0 && strings.HasSuffix(r, ")") {
			setSource(ev, r[o+2:len(r)-1], "")
		}
		return known
	}
	for _, c := range [...]struct{ prefix, action string }{
		{"Connection closed by ", "connection-closed"},
		{"Connection reset by ", "connection-reset"},
		{"Disconnected from ", "disconnected"},
	} {
		if r, ok := strings.CutPrefix(m, c.prefix); ok {
			peer(r, c.action, ev)
			return known
		}
	}
	for _, c := range [...]struct{ prefix, action string }{
		{"Received disconnect from ", "disconnect-received"},
		{"Did not receive identification string from ", "no-identification"},
		{"Unable to negotiate with ", "negotiation-failed"},
		{"Timeout before authentication for ", "auth-timeout"},
	} {
		if r, ok := strings.CutPrefix(m, c.prefix); ok {
			act(ev, c.action, "")
			ipPort(r, ev)
			return known
		}
	}
	if strings.Contains(m, "authentication failure") || strings.Contains(m, "Authentication failure") {
		act(ev, "authentication-failure", "failure")
		pamFailure(m, ev)
		return pam
	}
	if strings.Contains(m, "Too many authentication failures") {
		act(ev, "max-auth-attempts", "failure")
		if r, ok := strings.CutPrefix(m, "Disconnecting authenticating user "); ok {
			userAddr(r, ev)
		} else if r, ok := strings.CutPrefix(m, "Disconnecting invalid user "); ok {
			userAddr(r, ev)
		} else if k := strings.Index(m, " for "); k >= 0 {
			r, _ := strings.CutPrefix(m[k+len(" for "):], "invalid user ")
			setUser(ev, strings.TrimSuffix(r, " [preauth]"))
		}
		return known
	}
	if strings.HasSuffix(m, "POSSIBLE BREAK-IN ATTEMPT!") {
		act(ev, "possible-break-in", "")
		if e := strings.LastIndex(m, "] failed"); e >= 0 {
			if o := strings.LastIndexByte(m[:e], '['); o >= 0 {
				setSource(ev, m[o+1:e], "")
			}
		} else if r, ok := strings.CutPrefix(m, "Address "); ok {
			setSource(ev, r[:syslogcore.TokenEnd(r, 0)], "")
		}
		return known
	}
	if k := strings.Index(m, "session opened for user "); k >= 0 {
		act(ev, "session-opened", "")
		sessionUser(m[k+len("session opened for user "):], ev)
		return pam
	}
	if k := strings.Index(m, "session closed for user "); k >= 0 {
		act(ev, "session-closed", "")
		sessionUser(m[k+len("session closed for user "):], ev)
		return pam
	}
	anyAddress(m, ev)
	return unknown
}

func act(ev *sdk.Event, action, outcome string) {
	ev.SetStr("event.action", action)
	ev.SetStr("event.outcome", outcome)
}

// login reads "METHOD for [invalid user ]USER from IP port N ..." after
// "Accepted " or "Failed ".
func login(r, outcome string, ev *sdk.Event) int {
	k := strings.Index(r, " for ")
	if k <= 0 || strings.IndexByte(r[:k], ' ') >= 0 {
		anyAddress(r, ev)
		return unknown
	}
	act(ev, "ssh-login", outcome)
	r = r[k+len(" for "):]
	r, _ = strings.CutPrefix(r, "invalid user ")
	userFrom(r, ev)
	return known
}

// userFrom reads "USER from IP [port N]...": the user is everything before
// the last " from ", as a user name may itself hold blanks.
func userFrom(r string, ev *sdk.Event) {
	k := strings.LastIndex(r, " from ")
	if k < 0 {
		setUser(ev, strings.TrimSuffix(r, " [preauth]"))
		return
	}
	setUser(ev, r[:k])
	ipPort(r[k+len(" from "):], ev)
}

// peer reads what follows "Connection closed by " and the like:
// "[authenticating |invalid ]user USER IP port N [preauth]" or
// "IP port N [preauth]".
func peer(r, action string, ev *sdk.Event) {
	outcome := ""
	if x, ok := strings.CutPrefix(r, "authenticating user "); ok {
		r, outcome = x, "failure"
	} else if x, ok := strings.CutPrefix(r, "invalid user "); ok {
		r, outcome = x, "failure"
	} else if x, ok := strings.CutPrefix(r, "user "); ok {
		r = x
	} else {
		act(ev, action, "")
		if !ipPort(r, ev) {
			anyAddress(r, ev)
		}
		return
	}
	act(ev, action, outcome)
	userAddr(r, ev)
}

// userAddr reads "USER IP port N ...": the user is everything before the
// last address followed by " port ".
func userAddr(r string, ev *sdk.Event) {
	k := strings.LastIndex(r, " port ")
	if k < 0 {
		setUser(ev, strings.TrimSuffix(r, " [preauth]"))
		return
	}
	b := strings.LastIndexByte(r[:k], ' ')
	if b < 0 {
		ipPort(r, ev)
		return
	}
	setUser(ev, r[:b])
	ipPort(r[b+1:], ev)
}

// ipPort reads "IP[ port N]" at the start of r, stopping at a blank, ':'
// or ','. It reports whether r starts with an address.
func ipPort(r string, ev *sdk.Event) bool {
	e := 0
	for e < len(r) && r[e] != ' ' && r[e] != ',' && !(r[e] == ':' && e+1 < len(r) && r[e+1] == ' ') {
		e++
	}
	if !setSource(ev, r[:e], "") {
		return false
	}
	if rest, ok := strings.CutPrefix(r[e:], " port "); ok {
		d := 0
		for d < len(rest) && syslogcore.IsDigit(rest[d]) {
			d++
		}
		if n, ok := syslogcore.ParseUint(rest[:d]); ok && n <= 65535 {
			ev.SetInt("source.port", n)
		}
	}
	return true
}

// setSource stores source.ip and source.address when ip is an address (a
// non-empty addr is the address as the log named it). It reports whether
// ip was stored.
func setSource(ev *sdk.Event, ip, addr string) bool {
	if !ecsfields.IsIP(ip) || ecsfields.Has(ev, "source.ip") {
		return false
	}
	ev.SetStr("source.ip", ip)
	if addr == "" {
		addr = ip
	}
	if !ecsfields.Has(ev, "source.address") {
		ev.SetStr("source.address", addr)
	}
	return true
}

// pamFailure reads "rhost=HOST user=USER" (pam_unix) or "for [illegal
// user ]USER from HOST" (sshd's own PAM message).
func pamFailure(m string, ev *sdk.Event) {
	if h := pamValue(m, "rhost="); h != "" {
		if ecsfields.IsIP(h) {
			ev.SetStr("source.ip", h)
		}
		ev.SetStr("source.address", h)
		setUser(ev, pamValue(m, "user="))
		return
	}
	k := strings.Index(m, "Authentication failure for ")
	if k < 0 {
		setUser(ev, pamValue(m, "user="))
		return
	}
	r := m[k+len("Authentication failure for "):]
	r, _ = strings.CutPrefix(r, "illegal user ")
	r, _ = strings.CutPrefix(r, "invalid user ")
	f := strings.LastIndex(r, " from ")
	if f < 0 {
		setUser(ev, r)
		return
	}
	setUser(ev, r[:f])
	h := r[f+len(" from "):]
	h = h[:syslogcore.TokenEnd(h, 0)]
	if ecsfields.IsIP(h) {
		ev.SetStr("source.ip", h)
	}
	ev.SetStr("source.address", h)
}

// pamValue returns the value of " key" (key ends in '=') up to the next
// blank.
func pamValue(m, key string) string {
	for off := 0; off < len(m); {
		k := strings.Index(m[off:], key)
		if k < 0 {
			return ""
		}
		k += off
		off = k + len(key)
		if k == 0 || m[k-1] == ' ' || m[k-1] == ';' {
			v := m[k+len(key):]
			return v[:syslogcore.TokenEnd(v, 0)]
		}
	}
	return ""
}

// sessionUser reads "USER[(uid=N)] [by ...]".
func sessionUser(r string, ev *sdk.Event) {
	e := syslogcore.TokenEnd(r, 0)
	u := r[:e]
	if o := strings.IndexByte(u, '('); o >= 0 {
		u = u[:o]
	}
	setUser(ev, u)
}

// anyAddress stores the address of an unlisted message: the first
// "from IP", else the IP of "user NAME IP port N".
func anyAddress(m string, ev *sdk.Event) {
	for off := 0; off < len(m); {
		k := strings.Index(m[off:], "from ")
		if k < 0 {
			break
		}
		k += off
		off = k + len("from ")
		if (k == 0 || m[k-1] == ' ') && ipPort(m[off:], ev) {
			return
		}
	}
	for off := 0; off < len(m); {
		k := strings.Index(m[off:], "user ")
		if k < 0 {
			return
		}
		k += off
		off = k + len("user ")
		r := m[off:]
		if n := syslogcore.TokenEnd(r, 0); n < len(r) && (k == 0 || m[k-1] == ' ') && ipPort(r[n+1:], ev) {
			return
		}
	}
}

func setUser(ev *sdk.Event, u string) {
	u = strings.TrimSpace(u)
	if u != "" && !ecsfields.Has(ev, "user.name") {
		ev.SetStr("user.name", u)
	}
}
