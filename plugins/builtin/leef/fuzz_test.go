package leef

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

// Every LEEF value is a substring of the record.
var device = parsertest.Device{MessageMayUnescape: false}

// FuzzParse runs parsertest.Device.Fuzz, seeded with the fixtures and the records below.
func FuzzParse(f *testing.F) {
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	device.Fuzz(f, p, "", "LEEF:", "LEEF:1", "LEEF:2.0|a|b|c|d|", "LEEF:2.0|a|b|c|d|x|", "LEEF:2.0|a|b|c|d|0x",
		"LEEF:1.0|a|b|c|d|=", "LEEF:1.0|a|b|c|d|a= b=", "<1>LEEF:2.0|\\|", "x LEEF:9|")
}
