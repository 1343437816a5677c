package accesslog

import (
	"testing"
	"time"
)

// accesslog sets no message.
const messageMayUnescape = false

// FuzzParse checks that Parse never panics, keeps the record in Original,
// sets nothing for a record it does not match, and is deterministic. The
// fixtures are seeds.
func FuzzParse(f *testing.F) {
	for _, rec := range fixtures(f) {
		f.Add([]byte(rec))
	}
	for _, s := range []string{"", "a b c [", "a b c [01/Jan/2024:00:00:00 +0000] \"", "a b c [01/Jan/2024:00:00:00 +0000] \"GET",
		"a b c [29/Feb/2023:00:00:00 +0000] \"\" 1 1", "a b c [01/Jan/2024:00:00:00 +0000] \"GET http:// HTTP/1.1\" 200 1 \"\\",
		"x y: a b c [01/Jan/2024:00:00:00 +0000] \"G / H\" - -"} {
		f.Add([]byte(s))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzParse(t, p, raw) })
}
