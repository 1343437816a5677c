package kv

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

// A quoted msg may hold escapes, which the parser undoes.
var device = parsertest.Device{MessageMayUnescape: true}

// FuzzParse runs parsertest.Device.Fuzz, seeded with the fixtures and the records below.
func FuzzParse(f *testing.F) {
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	device.Fuzz(f, p, "", "a=", "a=\"", "a='\\", "<1>a=b", "<1>1 - - - - - - a=b", "date=2024-02-30 time=10:00:00",
		"date=2024-01-01 time=10:00:00.5 tz=-1", "x y z a=b", "a=b c d=e")
}
