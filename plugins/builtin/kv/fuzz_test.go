package kv

import (
	"testing"
	"time"
)

// A quoted msg may hold escapes, which the parser undoes.
const messageMayUnescape = true

// FuzzParse checks that Parse never panics, keeps the record in Original,
// sets nothing for a record it does not match, and is deterministic. The
// fixtures are seeds.
func FuzzParse(f *testing.F) {
	for _, rec := range fixtures(f) {
		f.Add([]byte(rec))
	}
	for _, s := range []string{"", "a=", "a=\"", "a='\\", "<1>a=b", "<1>1 - - - - - - a=b", "date=2024-02-30 time=10:00:00",
		"date=2024-01-01 time=10:00:00.5 tz=-1", "x y z a=b", "a=b c d=e"} {
		f.Add([]byte(s))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzParse(t, p, raw) })
}
