package jsonlines

import (
	"testing"
	"time"
)

// A JSON message may hold escapes, which the parser undoes.
const messageMayUnescape = true

// FuzzParse checks that Parse never panics, keeps the record in Original,
// sets nothing for a record it does not match, and is deterministic. The
// fixtures are seeds.
func FuzzParse(f *testing.F) {
	for _, rec := range fixtures(f) {
		f.Add([]byte(rec))
	}
	for _, s := range []string{"", "{", "{}", `{"`, `{"a"`, `{"a":`, `{"a":"\u12"}`, `{"a":"\ud800"}`, `{"a":[`, `{"a":{"b":[{]}}`,
		`{"time":1e400}`, `{"time":-1}`, `{"@timestamp":"2024-02-30T00:00:00Z"}`, `x: {"a":1}`, `{"a":1e}`, `{"a":-}`} {
		f.Add([]byte(s))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzParse(t, p, raw) })
}
