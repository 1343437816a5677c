package cef

import (
	"testing"
	"time"
)

// The msg extension may hold escapes ("\n", "\="), which the parser undoes.
const messageMayUnescape = true

// FuzzParse checks that Parse never panics, keeps the record in Original,
// sets nothing for a record it does not match, and is deterministic. The
// fixtures are seeds.
func FuzzParse(f *testing.F) {
	for _, rec := range fixtures(f) {
		f.Add([]byte(rec))
	}
	for _, s := range []string{"", "CEF:", "CEF:0", "CEF:0|", "CEF: 0|a|b|c|d|e|f|g=", "0|", "1|2|3|4|5|6|7|a=b c",
		"CEF:0|a|b|c|d|e|f|a=\\", "CEF:0|a|b|c|d|e|f|rt=Feb 29 10:00:00", "<1>CEF:0|\\|\\", "x CEF:9|"} {
		f.Add([]byte(s))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzParse(t, p, raw) })
}
