package sshd

import (
	"testing"
	"time"
)

// The message is a substring of the record.
const messageMayUnescape = false

// FuzzParse checks that Parse never panics, keeps the record in Original,
// sets nothing for a record it does not match, and is deterministic. The
// fixtures are seeds.
func FuzzParse(f *testing.F) {
	for _, rec := range fixtures(f) {
		f.Add([]byte(rec))
	}
	for _, s := range []string{"", "Accepted ", "Failed  for  from ", "Invalid user ", "Connection closed by user  port ",
		"x sshd[1]: Disconnected from authenticating user", "x sshd: refused connect from (", "x sshd: [1.2.3.4] failed - POSSIBLE BREAK-IN ATTEMPT!",
		"x sshd: rhost= user=", "x sshd: Address  maps", "x sshd: session opened for user "} {
		f.Add([]byte(s))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzParse(t, p, raw) })
}
