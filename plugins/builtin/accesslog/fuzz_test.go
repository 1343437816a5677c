package accesslog

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

// accesslog sets no message.
var device = parsertest.Device{MessageMayUnescape: false}

// FuzzParse runs parsertest.Device.Fuzz, seeded with the fixtures and the records below.
func FuzzParse(f *testing.F) {
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	device.Fuzz(f, p, "", "a b c [", "a b c [01/Jan/2024:00:00:00 +0000] \"", "a b c [01/Jan/2024:00:00:00 +0000] \"GET",
		"a b c [29/Feb/2023:00:00:00 +0000] \"\" 1 1", "a b c [01/Jan/2024:00:00:00 +0000] \"GET http:// HTTP/1.1\" 200 1 \"\\",
		"x y: a b c [01/Jan/2024:00:00:00 +0000] \"G / H\" - -")
}
