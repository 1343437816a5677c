package leef

import (
	"testing"
	"time"
)

// Every LEEF value is a substring of the record.
const messageMayUnescape = false

// FuzzParse checks that Parse never panics, keeps the record in Original,
// sets nothing for a record it does not match, and is deterministic. The
// fixtures are seeds.
func FuzzParse(f *testing.F) {
	for _, rec := range fixtures(f) {
		f.Add([]byte(rec))
	}
	for _, s := range []string{"", "LEEF:", "LEEF:1", "LEEF:2.0|a|b|c|d|", "LEEF:2.0|a|b|c|d|x|", "LEEF:2.0|a|b|c|d|0x",
		"LEEF:1.0|a|b|c|d|=", "LEEF:1.0|a|b|c|d|a= b=", "<1>LEEF:2.0|\\|", "x LEEF:9|"} {
		f.Add([]byte(s))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzParse(t, p, raw) })
}
