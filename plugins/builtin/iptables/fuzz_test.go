package iptables

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

// iptables sets no message.
var device = parsertest.Device{MessageMayUnescape: false}

// FuzzParse runs parsertest.Device.Fuzz, seeded with the fixtures and the records below.
func FuzzParse(f *testing.F) {
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	device.Fuzz(f, p, "", "IN=", "OUT=", "[ IN=", "[1.2] x: IN=a", "a b c 01/Jan/2024:00:00:00 +0000 IN=",
		"IN= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00", "IN= MAC=zz:00:00:00:00:00:00:00:00:00:00:00:08:00", "IN= SRC=::1 SPT=1")
}
