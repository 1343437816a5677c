package ciscoasa

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

// Every value is a substring of the record.
var device = parsertest.Device{MessageMayUnescape: false}

// FuzzParse runs parsertest.Device.Fuzz, seeded with the fixtures and the records below.
func FuzzParse(f *testing.F) {
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	device.Fuzz(f, p, "", "%", "%ASA-", "%ASA-6-", "%ASA-6-1:", "%PIX-2-106002: list", "%ASA-6-302014: Teardown bytes",
		"%ASA-6-106100: access-list a b c d -> e", "%ASA-4-400010 IDS:", "%ASA-6-605004: Login for user \"", "x: %FWSM-0-1 ")
}
