package iptables

import (
	"github.com/vigil-sec/vigil/plugins/builtin/syslog"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// header reads the syslog header a relay puts in front of the payload. It
// parses into a scratch event so that a prefix that turns out not to be a
// header leaves the caller's event untouched.
type header struct {
	sys     *syslog.Parser
	scratch sdk.Event
}

// parse reads prefix, the bytes before the payload, as a syslog header. When
// it is one, parse copies @timestamp and every field except message into ev
// and returns the text the header left over as message (rest). ok is false,
// and ev unchanged, when prefix is not a well-formed syslog header.
func (h *header) parse(prefix []byte, ev *sdk.Event) (rest string, ok bool) {
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
