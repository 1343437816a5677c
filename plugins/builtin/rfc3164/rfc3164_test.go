package rfc3164

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

type i64 = int64

const (
	ok = iota
	notMatched
	malformed
)

// refNow is the reference clock of the table unless a case sets its own.
var refNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestParser_ID(t *testing.T) {
	if got := New(Options{}).ID(); got != "parser.syslog_rfc3164" {
		t.Fatalf("ID() = %q", got)
	}
}

func TestParser_Parse(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	pri := func(p int) map[string]any {
		return map[string]any{
			"log.syslog.priority":      i64(p),
			"log.syslog.facility.code": i64(p / 8),
			"log.syslog.severity.code": i64(p % 8),
		}
	}
	with := func(base map[string]any, kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	none := map[string]any{}
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}

	tests := []struct {
		name    string
		in      string
		now     time.Time      // zero: refNow
		loc     *time.Location // nil: UTC
		outcome int
		errHas  string
		ts      time.Time
		want    map[string]any
	}{
		// auth.log and friends: no PRI.
		{
			name: "auth.log sshd line",
			in:   "Jan 12 10:00:01 host sshd[123]: Accepted password for bob from 10.0.0.1 port 50000 ssh2",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(none, "host.name", "host", "process.name", "sshd", "process.pid", i64(123),
				"message", "Accepted password for bob from 10.0.0.1 port 50000 ssh2"),
		},
		{
			name: "space padded day and tag without pid",
			in:   "Feb  5 17:32:18 web1 sudo:      tsg : user NOT in sudoers ; TTY=pts/1 ; COMMAND=/bin/ls",
			ts:   utc(2025, 2, 5, 17, 32, 18, 0),
			want: with(none, "host.name", "web1", "process.name", "sudo",
				"message", "tsg : user NOT in sudoers ; TTY=pts/1 ; COMMAND=/bin/ls"),
		},
		{
			name: "unpadded single digit day",
			in:   "Nov 2 15:40:14 workshop sshd[28179]: pam_unix(sshd:auth): authentication failure",
			ts:   utc(2024, 11, 2, 15, 40, 14, 0),
			want: with(none, "host.name", "workshop", "process.name", "sshd", "process.pid", i64(28179),
				"message", "pam_unix(sshd:auth): authentication failure"),
		},
		{
			name: "zero padded day, upper-case month, fractional seconds",
			in:   "AUG 03 21:39:20.250 hostname sshd[69420]: Connection closed",
			ts:   utc(2024, 8, 3, 21, 39, 20, 250000000),
			want: with(none, "host.name", "hostname", "process.name", "sshd", "process.pid", i64(69420),
				"message", "Connection closed"),
		},
		{
			name: "kernel line keeps bracketed uptime in message",
			in:   "Sep 27 20:56:38 ubuntu-focal kernel: [  203.842973] IPTABLES-DROP: IN=lo OUT= SRC=127.0.0.1 DPT=53 ",
			ts:   utc(2024, 9, 27, 20, 56, 38, 0),
			want: with(none, "host.name", "ubuntu-focal", "process.name", "kernel",
				"message", "[  203.842973] IPTABLES-DROP: IN=lo OUT= SRC=127.0.0.1 DPT=53"),
		},
		{
			name: "tabs as separators, tab inside message kept, trailing blanks trimmed",
			in:   "Jan 12 10:00:01\thost\tcron[42]:\t(root) CMD\t(run-parts /etc/cron.hourly) \t\r\n",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(none, "host.name", "host", "process.name", "cron", "process.pid", i64(42),
				"message", "(root) CMD\t(run-parts /etc/cron.hourly)"),
		},
		{
			name: "no hostname, tag with pid",
			in:   "<13>Jan 12 10:00:01 sshd[123]: Server listening on 0.0.0.0 port 22.",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(pri(13), "process.name", "sshd", "process.pid", i64(123),
				"message", "Server listening on 0.0.0.0 port 22."),
		},
		{
			name: "no hostname, tag without pid",
			in:   "<78>Jan 12 10:00:01 CRON: pam_unix(cron:session): session opened for user root",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(pri(78), "process.name", "CRON",
				"message", "pam_unix(cron:session): session opened for user root"),
		},
		{
			name: "non-numeric pid",
			in:   "Jan 12 10:00:01 host app[worker-1]: started",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(none, "host.name", "host", "process.name", "app", "message", "started"),
		},
		{
			name: "macOS tag followed by a parenthesized sender",
			in:   "Jul  1 09:29:02 calvisitor-10-105-160-95 sandboxd[129] ([31211]): com.apple.Addres(31211) deny network-outbound /private/var/run/mDNSResponder",
			ts:   utc(2025, 7, 1, 9, 29, 2, 0),
			want: with(none, "host.name", "calvisitor-10-105-160-95", "process.name", "sandboxd", "process.pid", i64(129),
				"message", "([31211]): com.apple.Addres(31211) deny network-outbound /private/var/run/mDNSResponder"),
		},
		{
			name: "multi-word program name",
			in:   "Jul  4 23:22:09 calvisitor-10-105-162-105 Microsoft Word[14463]: Cocoa scripting error for '0x00660011'",
			ts:   utc(2025, 7, 4, 23, 22, 9, 0),
			want: with(none, "host.name", "calvisitor-10-105-162-105", "process.name", "Microsoft Word", "process.pid", i64(14463),
				"message", "Cocoa scripting error for '0x00660011'"),
		},
		{
			name: "four words are a message, not a program name",
			in:   "Jul  4 23:22:09 host one two three four[1]: x",
			ts:   utc(2025, 7, 4, 23, 22, 9, 0),
			want: with(none, "host.name", "host", "message", "one two three four[1]: x"),
		},
		{
			name: "words without tag are message",
			in:   "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
			ts:   utc(2025, 2, 5, 17, 32, 18, 0),
			want: with(pri(13), "host.name", "10.0.0.99", "message", "Use the BFG!"),
		},
		{
			name: "colon without blank is not a tag",
			in:   "Jan 12 10:00:01 host http://example.com/ fetched",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(none, "host.name", "host", "message", "http://example.com/ fetched"),
		},
		{
			name: "tag and no message",
			in:   "Jan 12 10:00:01 host sshd[1]:",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(none, "host.name", "host", "process.name", "sshd", "process.pid", i64(1)),
		},
		{
			name: "hostname only",
			in:   "Jan 12 10:00:01 host   ",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(none, "host.name", "host"),
		},
		{
			name: "leading blanks before the timestamp are skipped",
			in:   " \tJan 12 10:00:01 h p: m",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(none, "host.name", "h", "process.name", "p", "message", "m"),
		},
		{
			name: "timestamp only",
			in:   "<0>Jan 12 10:00:01",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: pri(0),
		},

		// The RFC 3164 example and PRI handling.
		{
			name: "rfc 3164 example",
			in:   "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			ts:   utc(2024, 10, 11, 22, 14, 15, 0),
			want: with(pri(34), "host.name", "mymachine", "process.name", "su",
				"message", "'su root' failed for lonvick on /dev/pts/8"),
		},
		{
			name: "highest valid pri",
			in:   "<191>Jan 12 10:00:01 h p: m",
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(pri(191), "host.name", "h", "process.name", "p", "message", "m"),
		},

		// Year inference.
		{
			name: "december line read on january 2 is last year",
			in:   "Dec 31 23:59:59 host cron[1]: job done",
			now:  time.Date(2025, 1, 2, 8, 0, 0, 0, time.UTC),
			ts:   utc(2024, 12, 31, 23, 59, 59, 0),
			want: with(none, "host.name", "host", "process.name", "cron", "process.pid", i64(1), "message", "job done"),
		},
		{
			name: "january line read on december 31 is next year",
			in:   "Jan  1 00:00:05 host cron[1]: job done",
			now:  time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC),
			ts:   utc(2025, 1, 1, 0, 0, 5, 0),
			want: with(none, "host.name", "host", "process.name", "cron", "process.pid", i64(1), "message", "job done"),
		},
		{
			name: "25 days ahead stays in this year",
			in:   "Jul 10 12:00:00 h p: m",
			ts:   utc(2025, 7, 10, 12, 0, 0, 0),
			want: with(none, "host.name", "h", "process.name", "p", "message", "m"),
		},
		{
			name: "35 days ahead is last year",
			in:   "Jul 20 12:00:00 h p: m",
			ts:   utc(2024, 7, 20, 12, 0, 0, 0),
			want: with(none, "host.name", "h", "process.name", "p", "message", "m"),
		},
		{
			name: "feb 29 in a leap reference year",
			in:   "Feb 29 10:00:00 h p: m",
			now:  time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC),
			ts:   utc(2024, 2, 29, 10, 0, 0, 0),
			want: with(none, "host.name", "h", "process.name", "p", "message", "m"),
		},
		{
			name: "location applies to BSD timestamps",
			in:   "Jan 12 10:00:01 host sshd[1]: x",
			loc:  est,
			ts:   utc(2025, 1, 12, 15, 0, 1, 0),
			want: with(none, "host.name", "host", "process.name", "sshd", "process.pid", i64(1), "message", "x"),
		},
		{
			name: "year inferred in the location: Jan 1 01:00 EST is still Dec 31 in UTC",
			in:   "Dec 31 23:30:00 host p: x",
			now:  time.Date(2025, 1, 1, 3, 0, 0, 0, time.UTC), // Dec 31 22:00 EST
			loc:  est,
			ts:   utc(2025, 1, 1, 4, 30, 0, 0),
			want: with(none, "host.name", "host", "process.name", "p", "message", "x"),
		},

		// ISO 8601 / RFC 3339 timestamps.
		{
			name: "rfc 3339 with offset and microseconds",
			in:   "2023-11-14T00:20:42.738197+01:00 myserver sshd[1112652]: User root from 192.168.1.1 not allowed because not listed in AllowUsers",
			ts:   utc(2023, 11, 13, 23, 20, 42, 738197000),
			want: with(none, "host.name", "myserver", "process.name", "sshd", "process.pid", i64(1112652),
				"message", "User root from 192.168.1.1 not allowed because not listed in AllowUsers"),
		},
		{
			name: "rfc 3339 after pri",
			in:   "<30>2024-01-12T10:00:01Z host systemd[1]: Started Session 5 of user root.",
			ts:   utc(2024, 1, 12, 10, 0, 1, 0),
			want: with(pri(30), "host.name", "host", "process.name", "systemd", "process.pid", i64(1),
				"message", "Started Session 5 of user root."),
		},
		{
			name: "iso with space, comma fraction, no offset uses location",
			in:   "2021-05-28 18:08:34,399 mantis proftpd[498819] mantis (192.168.1.142[192.168.1.142]): USER seb (Login failed)",
			loc:  est,
			ts:   utc(2021, 5, 28, 23, 8, 34, 399000000),
			want: with(none, "host.name", "mantis", "process.name", "proftpd", "process.pid", i64(498819),
				"message", "mantis (192.168.1.142[192.168.1.142]): USER seb (Login failed)"),
		},
		{
			name: "iso with +hhmm offset",
			in:   "2024-01-12T10:00:01.5-0330 h p: m",
			ts:   utc(2024, 1, 12, 13, 30, 1, 500000000),
			want: with(none, "host.name", "h", "process.name", "p", "message", "m"),
		},
		{
			name: "palo alto csv after rfc 3339 header",
			in:   "2023-07-06T08:11:40+02:00 paloalto.test.host 1,2023/07/06 08:11:40,016401002737,THREAT,vulnerability",
			ts:   utc(2023, 7, 6, 6, 11, 40, 0),
			want: with(none, "host.name", "paloalto.test.host", "message", "1,2023/07/06 08:11:40,016401002737,THREAT,vulnerability"),
		},

		// Network devices.
		{
			name: "cisco asa with year and ' : ' after host",
			in:   `<166>Jan 12 2024 10:00:01 asa-fw01 : %ASA-4-106023: Deny tcp src outside:198.51.100.7/51234 dst inside:10.0.0.5/22 by access-group "outside_in" [0x0, 0x0]`,
			ts:   utc(2024, 1, 12, 10, 0, 1, 0),
			want: with(pri(166), "host.name", "asa-fw01",
				"message", `%ASA-4-106023: Deny tcp src outside:198.51.100.7/51234 dst inside:10.0.0.5/22 by access-group "outside_in" [0x0, 0x0]`),
		},
		{
			name: "cisco asa without host, colon after timestamp",
			in:   "<164>Jan 12 2024 10:00:01: %ASA-4-106023: Deny udp src dmz:10.1.1.1/53 dst outside:8.8.8.8/53",
			ts:   utc(2024, 1, 12, 10, 0, 1, 0),
			want: with(pri(164), "message", "%ASA-4-106023: Deny udp src dmz:10.1.1.1/53 dst outside:8.8.8.8/53"),
		},
		{
			name: "cisco asa without timestamp",
			in:   "<166>%ASA-6-302013: Built outbound TCP connection 1234 for outside:203.0.113.9/443",
			want: with(pri(166), "message", "%ASA-6-302013: Built outbound TCP connection 1234 for outside:203.0.113.9/443"),
		},
		{
			name: "cisco ios relayed with IP host",
			in:   "<189>Sep  1 10:25:29 10.10.10.1 %SEC-6-IPACCESSLOGP: list 102 denied tcp 10.0.6.56(3067) -> 172.36.4.7(139), 1 packet",
			ts:   utc(2024, 9, 1, 10, 25, 29, 0),
			want: with(pri(189), "host.name", "10.10.10.1",
				"message", "%SEC-6-IPACCESSLOGP: list 102 denied tcp 10.0.6.56(3067) -> 172.36.4.7(139), 1 packet"),
		},
		{
			name: "cisco without host, colon after timestamp, no pri",
			in:   "Apr 30 15:10:58: %DOT1X-5-FAIL: Authentication failed for client (Unknown MAC) on Interface Fa0/3",
			ts:   utc(2025, 4, 30, 15, 10, 58, 0),
			want: with(none, "message", "%DOT1X-5-FAIL: Authentication failed for client (Unknown MAC) on Interface Fa0/3"),
		},
		{
			name: "fortigate key=value without header",
			in:   `<189>date=2024-01-12 time=10:00:01 devname="FGT60F" devid="FGT60FTK2209" logid="0000000013" type="traffic" subtype="forward" action="accept"`,
			want: with(pri(189),
				"message", `date=2024-01-12 time=10:00:01 devname="FGT60F" devid="FGT60FTK2209" logid="0000000013" type="traffic" subtype="forward" action="accept"`),
		},
		{
			name: "fortigate relayed with header",
			in:   `<189>Jan 12 10:00:01 FGT60F date=2024-01-12 time=10:00:01 devname="FGT60F" type="event"`,
			ts:   utc(2025, 1, 12, 10, 0, 1, 0),
			want: with(pri(189), "host.name", "FGT60F", "message", `date=2024-01-12 time=10:00:01 devname="FGT60F" type="event"`),
		},
		{
			name: "pri and no timestamp keeps whole rest",
			in:   "<13>  just text",
			want: with(pri(13), "message", "just text"),
		},
		{
			name: "pri only",
			in:   "<13>",
			want: pri(13),
		},

		// Not syslog.
		{name: "empty", in: "", outcome: notMatched, want: none},
		{name: "plain text", in: "hello world", outcome: notMatched, want: none},
		{name: "month word without day", in: "Mar is a month", outcome: notMatched, want: none},
		{name: "vsftpd native", in: `Mon Jun 8 12:08:53 2020 [pid 27244] [user] FAIL LOGIN: Client "::ffff:93.24.101.89"`, outcome: notMatched, want: none},
		{name: "cisco pix without header", in: "%PIX-7-710001: TCP access requested from X.X.X.X/1292 to outside:Y.Y.Y.Y/ssh", outcome: notMatched, want: none},
		{name: "apache access", in: `127.0.0.1 - - [15/Sep/2021:16:13:46 +0000] "GET / HTTP/1.1" 200 5`, outcome: notMatched, want: none},
		{name: "date without time", in: "2024-01-12 INFO started", outcome: notMatched, want: none},
		{name: "pri not numeric", in: "<ab>Jan 12 10:00:01 h p: m", outcome: notMatched, want: none},

		// Starts right, malformed later.
		{
			name: "pri out of range", in: "<192>Jan 12 10:00:01 host x: y", outcome: malformed, errHas: "pri at byte 1: 192 out of range 0..191",
			want: with(none, "message", "<192>Jan 12 10:00:01 host x: y"),
		},
		{
			name: "pri too long", in: "<1000>Jan 12 10:00:01 host x: y", outcome: malformed, errHas: "more than 3 digits",
			want: with(none, "message", "<1000>Jan 12 10:00:01 host x: y"),
		},
		{
			name: "pri unterminated", in: "<13", outcome: malformed, errHas: "pri at byte 3: expected '>'",
			want: with(none, "message", "<13"),
		},
		{
			name: "day 32", in: "Jan 32 10:00:01 host x: y", outcome: malformed, errHas: "timestamp at byte 0: day 32 out of range",
			want: with(none, "message", "Jan 32 10:00:01 host x: y"),
		},
		{
			name: "hour 25 after pri", in: "<13>Jan 12 25:00:01 host x: y", outcome: malformed, errHas: "timestamp at byte 4: hour 25 out of range",
			want: with(pri(13), "message", "Jan 12 25:00:01 host x: y"),
		},
		{
			name: "feb 29 in a common year", in: "Feb 29 10:00:00 h p: m", outcome: malformed, errHas: "day 29 out of range in 2025",
			now:  time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC),
			want: with(none, "message", "Feb 29 10:00:00 h p: m"),
		},
		{
			name: "garbled clock", in: "Jan 12 10:0x:01 host", outcome: malformed, errHas: "timestamp at byte 7: expected hh:mm:ss",
			want: with(none, "message", "Jan 12 10:0x:01 host"),
		},
		{
			name: "junk after clock", in: "Jan 12 10:00:01x host", outcome: malformed, errHas: "timestamp at byte 15: unexpected 'x'",
			want: with(none, "message", "Jan 12 10:00:01x host"),
		},
		{
			name: "junk after day", in: "Jan 12x 10:00:01 host", outcome: malformed, errHas: "timestamp at byte 6: expected space after day",
			want: with(none, "message", "Jan 12x 10:00:01 host"),
		},
		{
			name: "truncated timestamp", in: "<13>Jan 12 10:00", outcome: malformed, errHas: "timestamp at byte 11: expected hh:mm:ss",
			want: with(pri(13), "message", "Jan 12 10:00"),
		},
		{
			name: "iso month 13", in: "2024-13-01T00:00:00Z host x: y", outcome: malformed, errHas: "timestamp at byte 0: month 13 out of range",
			want: with(none, "message", "2024-13-01T00:00:00Z host x: y"),
		},
		{
			name: "iso offset out of range", in: "<13>2024-01-12T10:00:01+25:00 host x: y", outcome: malformed, errHas: "timestamp at byte 23: offset out of range",
			want: with(pri(13), "message", "2024-01-12T10:00:01+25:00 host x: y"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = refNow
			}
			p := New(Options{Location: tt.loc, Now: at(now)})
			var ev sdk.Event
			err := p.Parse([]byte(tt.in), &ev)
			switch tt.outcome {
			case ok:
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
			case notMatched:
				if !errors.Is(err, sdk.ErrNotMatched) {
					t.Fatalf("Parse error = %v, want ErrNotMatched", err)
				}
			case malformed:
				if err == nil || errors.Is(err, sdk.ErrNotMatched) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Parse error = %v, want malformed containing %q", err, tt.errHas)
				}
				if !strings.HasPrefix(err.Error(), "rfc3164: ") {
					t.Errorf("error %q lacks the rfc3164 prefix", err)
				}
			}
			if ev.Original != tt.in {
				t.Errorf("Original = %q, want %q", ev.Original, tt.in)
			}
			if !ev.Timestamp.Equal(tt.ts) || (!tt.ts.IsZero() && ev.Timestamp.Location() != time.UTC) {
				t.Errorf("Timestamp = %v, want %v in UTC", ev.Timestamp, tt.ts)
			}
			if got := parsertest.Fields(t, &ev); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields:\n got %#v\nwant %#v", got, tt.want)
			}
			if err := parsertest.Check([]byte(tt.in), &ev, err); err != nil {
				t.Errorf("invariant: %v", err)
			}
		})
	}
}

func TestNew_Defaults(t *testing.T) {
	p := New(Options{})
	if p.loc != time.UTC || p.now == nil {
		t.Fatalf("defaults: loc %v, now set %v", p.loc, p.now != nil)
	}
	// With the real clock, a line dated today parses into this year (or the
	// next when run in the minutes around New Year in UTC).
	now := time.Now().UTC()
	var ev sdk.Event
	line := now.Format("Jan _2 15:04:05") + " host p: m"
	if err := p.Parse([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	if d := ev.Timestamp.Sub(now); d > time.Second || d < -time.Second {
		t.Fatalf("Timestamp %v is %v away from now %v", ev.Timestamp, d, now)
	}
}

func TestParser_Allocs(t *testing.T) {
	p := New(Options{Now: at(refNow)})
	in := []byte("Jan 12 10:00:01 host sshd[123]: Accepted password for bob from 10.0.0.1 port 50000 ssh2")
	ev := sdk.Event{Fields: make([]sdk.Field, 0, 16)}
	allocs := testing.AllocsPerRun(100, func() {
		ev.Reset()
		if err := p.Parse(in, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Fatalf("Parse allocates %v times per record, want 1 (the Original string)", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"authlog", "Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502"},
		{"pri", "<38>Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502"},
		{"rfc3339", "2023-11-14T00:20:42.738197+01:00 myserver sshd[1112652]: User root from 192.168.1.1 not allowed because not listed in AllowUsers"},
		{"fortigate", `<189>date=2024-01-12 time=10:00:01 devname="FGT60F" devid="FGT60FTK2209" logid="0000000013" type="traffic" subtype="forward" action="accept"`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := New(Options{})
			in := []byte(bc.in)
			ev := sdk.Event{Fields: make([]sdk.Field, 0, 16)}
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				ev.Reset()
				if err := p.Parse(in, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
