package ciscoasa

import (
	"testing"
	"time"
)

// Every value is a substring of the record.
const messageMayUnescape = false

// FuzzParse checks that Parse never panics, keeps the record in Original,
// sets nothing for a record it does not match, and is deterministic. The
// fixtures are seeds.
func FuzzParse(f *testing.F) {
	for _, rec := range fixtures(f) {
		f.Add([]byte(rec))
	}
	for _, s := range []string{"", "%", "%ASA-", "%ASA-6-", "%ASA-6-1:", "%PIX-2-106002: list", "%ASA-6-302014: Teardown bytes",
		"%ASA-6-106100: access-list a b c d -> e", "%ASA-4-400010 IDS:", "%ASA-6-605004: Login for user \"", "x: %FWSM-0-1 "} {
		f.Add([]byte(s))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzParse(t, p, raw) })
}
