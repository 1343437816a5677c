package cef

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

// The msg extension may hold escapes ("\n", "\="), which the parser undoes.
var device = parsertest.Device{MessageMayUnescape: true}

// FuzzParse runs parsertest.Device.Fuzz, seeded with the fixtures and the records below.
func FuzzParse(f *testing.F) {
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	device.Fuzz(f, p, "", "CEF:", "CEF:0", "CEF:0|", "CEF: 0|a|b|c|d|e|f|g=", "0|", "1|2|3|4|5|6|7|a=b c",
		"CEF:0|a|b|c|d|e|f|a=\\", "CEF:0|a|b|c|d|e|f|rt=Feb 29 10:00:00", "<1>CEF:0|\\|\\", "x CEF:9|")
}
