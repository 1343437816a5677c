// Package sysheader reads the syslog header a relay puts in front of a
// device payload (CEF, LEEF, key=value, Cisco ASA, netfilter, JSON) for the
// built-in device parsers.
//
// It owns only that step: the header is parsed by package syslog (BSD or
// RFC 5424) into a scratch event, and its fields are copied into the
// caller's event only once it has proved to be a header. It must never
// change the caller's event for a prefix that is not a header, never retain
// the caller's bytes or event after a call, and never interpret the payload:
// what follows the header is the parser's.
package sysheader

import (
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/syslog"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Header reads syslog headers. It is used by one goroutine at a time.
type Header struct {
	sys     *syslog.Parser
	scratch sdk.Event
}

// New returns a Header reading header times without an offset in loc and
// inferring a missing year from now; nil takes package syslog's defaults
// (UTC, time.Now).
func New(loc *time.Location, now func() time.Time) Header {
	return Header{sys: syslog.New(syslog.Options{Location: loc, Now: now})}
}

// Parse reads prefix, the bytes before the payload, as a syslog header. When
// it is one, Parse copies @timestamp and every field except message into ev
// and returns the text the header left over as message (rest). ok is false,
// and ev unchanged, when prefix is not a well-formed syslog header.
func (h *Header) Parse(prefix []byte, ev *sdk.Event) (rest string, ok bool) {
	h.scratch.Reset()
	if err := h.sys.Parse(prefix, &h.scratch); err != nil {
		return "", false
	}
	for _, f := range h.scratch.Fields {
		if f.Key == "message" {
			rest = f.Str
			continue
		}
		ev.Fields = append(ev.Fields, f)
	}
	ev.Timestamp = h.scratch.Timestamp
	return rest, true
}
