package rfc3164

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// FuzzParse checks that Parse never panics, always keeps the record in
// Original, and that every result satisfies parsertest.Check. The reference
// clock is fixed so that a failure reproduces.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Jan 12 10:00:01 host sshd[123]: Accepted password for bob from 10.0.0.1 port 50000 ssh2",
		"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
		"Feb  5 17:32:18 web1 sudo:      tsg : user NOT in sudoers",
		"Nov 2 15:40:14 workshop sshd[28179]: x",
		"Jul  1 09:29:02 mac sandboxd[129] ([31211]): deny",
		"Jul  4 23:22:09 mac Microsoft Word[14463]: Cocoa",
		"2023-11-14T00:20:42.738197+01:00 myserver sshd[1112652]: User root",
		"2021-05-28 18:08:34,399 mantis proftpd[498819] mantis (x): USER seb",
		"<166>Jan 12 2024 10:00:01 asa-fw01 : %ASA-4-106023: Deny tcp",
		"<164>Jan 12 2024 10:00:01: %ASA-4-106023: Deny udp",
		"<166>%ASA-6-302013: Built outbound TCP connection",
		`<189>date=2024-01-12 time=10:00:01 devname="FGT60F"`,
		"Apr 30 15:10:58: %DOT1X-5-FAIL: x",
		"Feb 29 10:00:00 h p: m",
		"Jan 12 10:00:01\thost\tcron[42]:\tx \r\n",
		"<192>Jan 12 10:00:01 host x: y",
		"<13",
		"Jan 12 10:0",
		"Jan 1",
		"2024-01-12T10:00:01+",
		"Jan 12 10:00:01 h a[",
		"Jan 12 10:00:01 h a b[1",
		"",
	} {
		f.Add([]byte(s))
	}
	p := New(Options{
		Location: time.FixedZone("X", 5*3600+1800),
		Now:      func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) },
	})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev sdk.Event
		err := p.Parse(raw, &ev)
		if cerr := parsertest.Check(raw, &ev, err); cerr != nil {
			t.Fatalf("Parse(%q) = %v: %v", raw, err, cerr)
		}
		for _, f := range ev.Fields {
			if f.Key == "host.name" || f.Key == "process.name" {
				if f.Str[0] == '%' {
					t.Fatalf("Parse(%q): %s %q starts with '%%'", raw, f.Key, f.Str)
				}
			}
		}
	})
}
