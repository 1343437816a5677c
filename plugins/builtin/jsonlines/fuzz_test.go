package jsonlines

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

// A JSON message may hold escapes, which the parser undoes.
var device = parsertest.Device{MessageMayUnescape: true}

// FuzzParse runs parsertest.Device.Fuzz, seeded with the fixtures and the records below.
func FuzzParse(f *testing.F) {
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	device.Fuzz(f, p, "", "{", "{}", `{"`, `{"a"`, `{"a":`, `{"a":"\u12"}`, `{"a":"\ud800"}`, `{"a":[`, `{"a":{"b":[{]}}`,
		`{"time":1e400}`, `{"time":-1}`, `{"@timestamp":"2024-02-30T00:00:00Z"}`, `x: {"a":1}`, `{"a":1e}`, `{"a":-}`)
}
