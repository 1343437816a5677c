package kv

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

type i64 = int64

var refNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func newTestParser() *Parser {
	return New(Options{Now: func() time.Time { return refNow }})
}

func TestParser_ID(t *testing.T) {
	if got := newTestParser().ID(); got != "parser.kv" {
		t.Fatalf("ID() = %q", got)
	}
}

// TestParser_Fixtures checks every field of every record of
// testdata/fixtures.log, in file order.
func TestParser_Fixtures(t *testing.T) {
	tests := []parsertest.Fixture{
		{
			Has: "fgt01",
			TS:  time.Date(2024, 1, 12, 9, 0, 1, 0, time.UTC), // date/time at tz +0100, not the header's 2025
			Want: map[string]any{
				"host.name": "fgt01", "observer.name": "fgt01", "observer.serial_number": "FG100FTK19000001",
				"event.code": "0000000013", "kv.type": "traffic", "kv.subtype": "forward", "log.level": "notice",
				"kv.vd": "root", "source.ip": "198.51.100.7", "source.port": i64(40001),
				"observer.ingress.interface.name": "port1", "destination.ip": "192.0.2.10",
				"destination.port": i64(443), "observer.egress.interface.name": "wan1",
				"network.iana_number": "6", "network.transport": "tcp", "network.protocol": "https",
				"event.action": "accept", "rule.id": "7", "source.bytes": i64(1200), "destination.bytes": i64(5400),
				"user.name": "alice", "message": "allowed", "observer.vendor": "Fortinet", "observer.product": "FortiGate",
			},
		},
		{
			Has: "<189>",
			TS:  time.Date(2024, 1, 12, 23, 59, 59, 0, time.UTC),
			Want: map[string]any{
				"log.syslog.priority": i64(189), "log.syslog.facility.code": i64(23), "log.syslog.severity.code": i64(5),
				"event.code": "0100032001", "kv.type": "event", "kv.subtype": "system", "kv.vd": "root",
				"user.name": "admin", "kv.ui": "https(198.51.100.7)", "event.action": "login", "kv.status": "success",
				"message":         "Administrator admin logged in successfully from https(198.51.100.7)",
				"observer.vendor": "Fortinet", "observer.product": "FortiGate",
			},
		},
		{
			Has: "app=backup",
			Want: map[string]any{"kv.app": "backup", "kv.host": "db1", "message": "disk full on /var", "kv.size": "12",
				"kv.path": `C:\tmp'x`},
		},
		{
			Has: "not-an-ip",
			Want: map[string]any{"source.ip": "192.0.2.1", "kv.dst": "not-an-ip", "network.transport": "udp",
				"destination.port": i64(53), "kv.date": "2024-13-01", "kv.time": "10:00:00"},
		},
		{
			Has: "never closed", Outcome: parsertest.Malformed, ErrHas: "kv: quote at byte 8 not closed",
			Want: map[string]any{"kv.a": "1", "message": "never closed"},
		},
		{Has: "sshd[1]", Outcome: parsertest.NotMatched},
		{Has: "some words", Outcome: parsertest.NotMatched},
		{Has: "some text", Outcome: parsertest.NotMatched},
		{
			Has: "<14>1",
			TS:  time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			Want: map[string]any{
				"log.syslog.priority": i64(14), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(6),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"process.pid": i64(1), "kv.k": "v", "kv.n": "x y",
			},
		},
	}
	device.CheckFixtures(t, newTestParser(), tests)
}

func TestParser_TimeZones(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	base := time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC)
	for _, tc := range []struct {
		tz   string
		loc  *time.Location
		want time.Time
		ok   bool
	}{
		{tz: "", want: base, ok: true},
		{tz: "", loc: est, want: base.Add(5 * time.Hour), ok: true},
		{tz: ` tz="-0500"`, want: base.Add(5 * time.Hour), ok: true},
		{tz: ` tz="+05:30"`, want: base.Add(-5*time.Hour - 30*time.Minute), ok: true},
		{tz: ` tz=+09`, want: base.Add(-9 * time.Hour), ok: true},
		{tz: ` tz="UTC"`, loc: est, want: base, ok: true},
		{tz: ` tz="CET"`},
		{tz: ` tz="+2400"`},
		{tz: ` tz="+01:0"`},
	} {
		p := New(Options{Location: tc.loc})
		in := "date=2024-01-12 time=10:00:01" + tc.tz
		var ev sdk.Event
		if err := p.Parse([]byte(in), &ev); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		_, kept := ev.Get("kv.date")
		if !ev.Timestamp.Equal(tc.want) || kept == tc.ok {
			t.Errorf("%q (location %v): timestamp %v, kv.date kept %v; want %v, %v", in, tc.loc, ev.Timestamp, kept, tc.want, !tc.ok)
		}
	}
}

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte(`<189>date=2024-01-12 time=10:00:01 logid="0000000013" type="traffic" vd="root" tz="-0500" srcip=198.51.100.7 dstport=443 proto=6 action="accept" msg="ok"`)
	// The Original string and the copy of the "<189>" header handed to
	// package syslog.
	parsertest.CheckAllocs(t, p, raw, 2, "the Original string and the header copy")
}
