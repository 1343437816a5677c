package syslog

import (
	"errors"
	"os"
	"path/filepath"
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

func TestParser_ID(t *testing.T) {
	if got := New(Options{}).ID(); got != "parser.syslog" {
		t.Fatalf("ID() = %q", got)
	}
}

// TestParser_Fixtures parses testdata/mixed.log, a hand-written mix of
// auth.log lines, BSD and RFC 5424 records from Linux hosts, Cisco ASA and
// IOS, FortiGate, macOS, and three broken records, and checks every field of
// every record.
func TestParser_Fixtures(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mixed.log"))
	if err != nil {
		t.Fatal(err)
	}
	recs := parsertest.Records(data)

	pri := func(p int) []any {
		return []any{"log.syslog.priority", i64(p), "log.syslog.facility.code", i64(p / 8), "log.syslog.severity.code", i64(p % 8)}
	}
	f := func(parts ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(parts); i++ {
			if sub, ok := parts[i].([]any); ok {
				for j := 0; j < len(sub); j += 2 {
					m[sub[j].(string)] = sub[j+1]
				}
				continue
			}
			m[parts[i].(string)] = parts[i+1]
			i++
		}
		return m
	}
	utc := func(mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(2024, mo, d, h, mi, s, ns, time.UTC)
	}
	bastion := func(name string, pid any, msg string) map[string]any {
		m := f("host.name", "bastion", "process.name", name, "message", msg)
		if pid != nil {
			m["process.pid"] = pid
		}
		return m
	}
	want := []struct {
		outcome int
		ts      time.Time
		fields  map[string]any
	}{
		{ok, utc(1, 12, 10, 0, 1, 0), bastion("sshd", i64(2211), "Failed password for invalid user admin from 203.0.113.45 port 51234 ssh2")},
		{ok, utc(1, 12, 10, 0, 3, 0), bastion("sshd", i64(2211), "Connection closed by invalid user admin 203.0.113.45 port 51234 [preauth]")},
		{ok, utc(1, 12, 10, 1, 15, 0), bastion("sudo", nil, "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx")},
		{ok, utc(1, 12, 10, 1, 15, 0), bastion("sudo", nil, "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)")},
		{ok, utc(1, 12, 10, 5, 0, 0), bastion("CRON", i64(3301), "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)")},
		{ok, utc(1, 12, 10, 6, 42, 0), bastion("kernel", nil, "[123456.789012] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=198.51.100.23 DST=10.0.0.4 LEN=60 PROTO=TCP SPT=40000 DPT=23 SYN URGP=0")},
		{ok, utc(1, 5, 7, 3, 9, 0), f(pri(38), "host.name", "db01", "process.name", "sshd", "process.pid", i64(981),
			"message", "Accepted publickey for deploy from 10.0.0.12 port 60222 ssh2: ED25519 SHA256:Zm9vYmFyYmF6")},
		{ok, utc(1, 5, 7, 3, 9, 0), f(pri(86), "host.name", "db01", "process.name", "systemd-logind", "process.pid", i64(612),
			"message", "New session 42 of user deploy.")},
		{ok, utc(1, 12, 9, 7, 0, 123456000), f(pri(13), "log.syslog.version", i64(1), "host.name", "app01.example.net",
			"log.syslog.appname", "payments", "process.name", "payments", "process.pid", i64(4411), "log.syslog.msgid", "TXLOG",
			"log.syslog.structured_data.meta@32473.env", "prod", "log.syslog.structured_data.meta@32473.region", "eu-west-1",
			"log.syslog.structured_data.origin.ip", "10.0.0.20", "message", "payment 8812 authorised")},
		{ok, utc(1, 12, 9, 7, 0, 0), f(pri(165), "log.syslog.version", i64(1), "host.name", "app01.example.net", "message", "heartbeat")},
		{ok, utc(1, 12, 9, 8, 13, 500000000), f(pri(134), "log.syslog.version", i64(1), "host.name", "fw.lan",
			"log.syslog.appname", "filterlog", "process.name", "filterlog", "process.pid", i64(92653),
			"message", "7,,,1000000102,vtnet0,match,block,in,4,0x0,,64,19008,0,DF,6,tcp,60,198.51.100.7,10.0.0.5,42970,22,0,S")},
		{ok, utc(1, 12, 9, 9, 0, 0), f(pri(14), "log.syslog.version", i64(1), "host.name", "win-dc01",
			"log.syslog.appname", "Microsoft-Windows-Security-Auditing", "process.name", "Microsoft-Windows-Security-Auditing",
			"log.syslog.msgid", "4625", "log.syslog.structured_data.event@1.user", `CORP\bob`,
			"log.syslog.structured_data.event@1.status", "0xC000006D", "log.syslog.structured_data.event@1.note", `a "quoted" ] bracket`,
			"message", "An account failed to log on.")},
		{ok, utc(1, 12, 10, 10, 1, 0), f(pri(166), "host.name", "asa-edge01",
			"message", `%ASA-4-106023: Deny tcp src outside:203.0.113.45/51515 dst inside:10.0.0.5/3389 by access-group "outside_access_in" [0x51fd3ce2, 0x0]`)},
		{ok, utc(1, 12, 10, 10, 2, 0), f(pri(164),
			"message", `%ASA-6-605004: Login denied from 203.0.113.45/51520 to outside:192.0.2.1/ssh for user "root"`)},
		{ok, time.Time{}, f(pri(189),
			"message", `date=2024-01-12 time=10:11:00 devname="FGT60F-HQ" devid="FGT60FTK2209XXXX" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=10.0.0.5 srcport=51000 dstip=93.184.216.34 dstport=443 action="deny" policyid=12`)},
		{ok, utc(1, 12, 10, 12, 0, 0), f(pri(190), "host.name", "FGT60F-HQ",
			"message", `date=2024-01-12 time=10:12:00 devname="FGT60F-HQ" logid="0100032001" type="event" subtype="system" level="information" action="login" status="success" user="admin"`)},
		{ok, utc(1, 12, 10, 13, 45, 0), f(pri(189), "host.name", "10.10.10.1",
			"message", "%SEC-6-IPACCESSLOGP: list 102 denied tcp 198.51.100.9(4711) -> 10.0.0.5(445), 1 packet")},
		{ok, utc(1, 12, 10, 14, 0, 1000), f("host.name", "web02", "process.name", "nginx", "process.pid", i64(7781),
			"message", `2024/01/12 10:14:00 [error] 7781#7781: *1 open() "/usr/share/nginx/html/.env" failed (2: No such file or directory)`)},
		{ok, utc(1, 12, 10, 15, 30, 0), f("host.name", "mac-lab01", "process.name", "com.apple.xpc.launchd", "process.pid", i64(1),
			"message", "(com.apple.WebKit.WebContent.1234): Service exited with abnormal code: 1")},
		{ok, utc(1, 12, 10, 16, 0, 0), bastion("useradd", i64(4002), "new user: name=backdoor, UID=0, GID=0, home=/root, shell=/bin/bash")},
		{notMatched, time.Time{}, f()},
		{malformed, time.Time{}, f("message", "<200>Jan 12 10:17:00 bastion sshd[1]: bad pri")},
		{malformed, utc(1, 12, 10, 18, 0, 0), f(pri(13), "log.syslog.version", i64(1), "host.name", "host",
			"log.syslog.appname", "app", "process.name", "app", "message", `[broken@1 k="v] tail`)},
		{ok, utc(1, 12, 10, 19, 0, 0), bastion("sshd", i64(2300), "Received disconnect from 203.0.113.45 port 51234:11: Bye Bye [preauth]")},
	}
	if len(recs) != len(want) {
		t.Fatalf("testdata/mixed.log has %d records, the test expects %d", len(recs), len(want))
	}

	p := New(Options{Now: func() time.Time { return time.Date(2024, 1, 20, 0, 0, 0, 0, time.UTC) }})
	var ev sdk.Event
	for i, rec := range recs {
		ev.Reset()
		err := p.Parse([]byte(rec), &ev)
		w := want[i]
		switch {
		case w.outcome == ok && err != nil,
			w.outcome == notMatched && !errors.Is(err, sdk.ErrNotMatched),
			w.outcome == malformed && (err == nil || errors.Is(err, sdk.ErrNotMatched)):
			t.Errorf("record %d: error %v, want outcome %d", i+1, err, w.outcome)
		}
		if ev.Original != rec {
			t.Errorf("record %d: Original = %q", i+1, ev.Original)
		}
		if !ev.Timestamp.Equal(w.ts) {
			t.Errorf("record %d: Timestamp = %v, want %v", i+1, ev.Timestamp, w.ts)
		}
		if got := parsertest.Fields(t, &ev); !reflect.DeepEqual(got, w.fields) {
			t.Errorf("record %d fields:\n got %#v\nwant %#v", i+1, got, w.fields)
		}
		if err := parsertest.Check([]byte(rec), &ev, err); err != nil {
			t.Errorf("record %d: invariant: %v", i+1, err)
		}
	}
}

// TestParser_Dispatch checks which parser handles a record.
func TestParser_Dispatch(t *testing.T) {
	p := New(Options{})
	for _, tc := range []struct {
		in      string
		version bool // log.syslog.version set: the RFC 5424 parser ran
		errHas  string
	}{
		{in: "<13>1 - h a - - - m", version: true},
		{in: "<13>1 - h a - - -", version: true},
		{in: "<13>Jan 12 10:00:01 h a: m"},
		{in: "<13>12: *Mar  1 00:00:01: %SYS-5-CONFIG_I: Configured"},
		{in: "<13>1Jan"},
		{in: "<192>1 - h a - - - m", errHas: "rfc5424: pri at byte 1: 192 out of range"},
		{in: "<192>Jan 12 10:00:01 h a: m", errHas: "rfc3164: pri at byte 1: 192 out of range"},
		{in: "plain", errHas: "rfc3164: no <PRI> and no timestamp"},
	} {
		var ev sdk.Event
		err := p.Parse([]byte(tc.in), &ev)
		if tc.errHas == "" && err != nil || tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)) {
			t.Errorf("Parse(%q) error = %v, want %q", tc.in, err, tc.errHas)
		}
		if _, v := ev.Get("log.syslog.version"); v != tc.version {
			t.Errorf("Parse(%q): version set = %v, want %v", tc.in, v, tc.version)
		}
	}
}

func TestParser_Allocs(t *testing.T) {
	p := New(Options{})
	ev := sdk.Event{Fields: make([]sdk.Field, 0, 16)}
	for _, in := range []string{
		"Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502",
		"<134>1 2025-11-06T11:32:42.868451+00:00 firewall.lan filterlog 92653 - - 7,,,1000000102,vtnet0.5,match,block,in",
		"this is not syslog",
	} {
		raw := []byte(in)
		allocs := testing.AllocsPerRun(100, func() {
			ev.Reset()
			_ = p.Parse(raw, &ev)
		})
		if allocs != 1 {
			t.Errorf("Parse(%q) allocates %v times, want 1 (the Original string)", in, allocs)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"authlog", "Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502"},
		{"rfc5424", "<134>1 2025-11-06T11:32:42.868451+00:00 firewall.lan filterlog 92653 - - 7,,,1000000102,vtnet0.5,match,block,in,4,0x0,,64,19008,0,DF,6,tcp,60,192.168.5.6,192.168.1.100,42970,80,0,S"},
		{"rfc5424_sd", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry`},
		{"asa", `<166>Jan 12 2024 10:10:01 asa-edge01 : %ASA-4-106023: Deny tcp src outside:203.0.113.45/51515 dst inside:10.0.0.5/3389 by access-group "outside_access_in" [0x51fd3ce2, 0x0]`},
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
	// All records of testdata/mixed.log per op; ns/record is the figure to
	// hold against the agent's lines-per-second target.
	b.Run("mixed_fixture", func(b *testing.B) {
		data, err := os.ReadFile(filepath.Join("testdata", "mixed.log"))
		if err != nil {
			b.Fatal(err)
		}
		var recs [][]byte
		for _, r := range parsertest.Records(data) {
			recs = append(recs, []byte(r))
		}
		p := New(Options{})
		ev := sdk.Event{Fields: make([]sdk.Field, 0, 16)}
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for _, r := range recs {
				ev.Reset()
				_ = p.Parse(r, &ev)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
	})
}
