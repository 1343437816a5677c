package iptables

import (
	"testing"
	"time"
)

// iptables sets no message.
const messageMayUnescape = false

// FuzzParse checks that Parse never panics, keeps the record in Original,
// sets nothing for a record it does not match, and is deterministic. The
// fixtures are seeds.
func FuzzParse(f *testing.F) {
	for _, rec := range fixtures(f) {
		f.Add([]byte(rec))
	}
	for _, s := range []string{"", "IN=", "OUT=", "[ IN=", "[1.2] x: IN=a", "a b c 01/Jan/2024:00:00:00 +0000 IN=",
		"IN= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00", "IN= MAC=zz:00:00:00:00:00:00:00:00:00:00:00:08:00", "IN= SRC=::1 SPT=1"} {
		f.Add([]byte(s))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzParse(t, p, raw) })
}
