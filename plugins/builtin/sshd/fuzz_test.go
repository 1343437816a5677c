package sshd

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

// The message is a substring of the record.
var device = parsertest.Device{MessageMayUnescape: false}

// FuzzParse runs parsertest.Device.Fuzz, seeded with the fixtures and the records below.
func FuzzParse(f *testing.F) {
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	device.Fuzz(f, p, "", "Accepted ", "Failed  for  from ", "Invalid user ", "Connection closed by user  port ",
		"x sshd[1]: Disconnected from authenticating user", "x sshd: refused connect from (", "x sshd: [1.2.3.4] failed - POSSIBLE BREAK-IN ATTEMPT!",
		"x sshd: rhost= user=", "x sshd: Address  maps", "x sshd: session opened for user ")
}
