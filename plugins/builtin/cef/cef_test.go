package cef

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

type i64 = int64

// refNow is the reference clock for year inference.
var refNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func newTestParser() *Parser {
	return New(Options{Now: func() time.Time { return refNow }})
}

func TestParser_ID(t *testing.T) {
	if got := newTestParser().ID(); got != "parser.cef" {
		t.Fatalf("ID() = %q", got)
	}
}

// TestParser_Fixtures checks every field of every record of
// testdata/fixtures.log, in file order.
func TestParser_Fixtures(t *testing.T) {
	acme := func(kv ...any) map[string]any {
		return parsertest.With(map[string]any{"cef.version": i64(0), "observer.vendor": "Acme", "observer.product": "Firewall",
			"observer.version": "2.1", "event.code": "100", "cef.severity": "5", "event.severity": i64(5)}, kv...)
	}
	tests := []parsertest.Fixture{
		{
			Has: "Connection blocked",
			Want: acme("cef.name", "Connection blocked", "source.ip", "198.51.100.7", "source.port", i64(40001),
				"destination.ip", "192.0.2.10", "destination.port", i64(443), "network.transport", "tcp",
				"event.action", "blocked", "message", "blocked by policy 7"),
		},
		{
			Has: "Port scan",
			TS:  time.Date(2024, 1, 12, 10, 0, 0, 0, time.UTC), // rt, not the header's 2025
			Want: map[string]any{
				"log.syslog.priority": i64(134), "log.syslog.facility.code": i64(16), "log.syslog.severity.code": i64(6),
				"host.name": "fw01", "cef.version": i64(0), "observer.vendor": "Acme", "observer.product": "IDS",
				"observer.version": "1.0", "event.code": "sig|42", "cef.name": `Port scan \ detected`,
				"cef.severity": "High", "source.ip": "203.0.113.5", "source.domain": "scanner.example.net",
				"source.user.name": "alice", "cef.extensions.cs1Label": "zone", "cef.extensions.cs1": "dmz",
				"url.original": "https://example.com/a?b=c&d=e", "message": `Port scan \ detected`,
			},
		},
		{
			Has: "cef-relay",
			TS:  time.Date(2024, 1, 12, 10, 0, 1, 5e8, time.UTC),
			Want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "fw01.example.com", "log.syslog.appname": "cef-relay",
				"process.name": "cef-relay", "process.pid": i64(77),
				"cef.version": i64(1), "observer.vendor": "Acme", "observer.product": "Proxy", "observer.version": "3.0",
				"event.code": "http", "cef.name": "Request", "cef.severity": "3", "event.severity": i64(3),
				"http.request.method": "GET", "url.original": "/index.html",
				"user_agent.original": "Mozilla/5.0 (X11; Linux)", "destination.domain": "www.example.com",
				"destination.ip": "2001:db8::1", "destination.port": i64(80), "source.bytes": i64(123),
				"destination.bytes": i64(4567), "event.outcome": "success", "message": "Request",
			},
		},
		{
			Has:  "Name only",
			Want: acme("cef.name", "Name only", "message", "Name only"),
		},
		{
			Has: "|Dup|",
			TS:  time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			Want: acme("cef.name", "Dup", "source.ip", "198.51.100.7", "cef.extensions.cs2", "x",
				"cef.extensions.spt", "notaport", "message", "line one\nline two"),
		},
		{
			Has:  "No prefix",
			Want: acme("cef.name", "No prefix", "source.ip", "198.51.100.7", "message", "No prefix"),
		},
		{
			Has: "Broken", Outcome: parsertest.Malformed, ErrHas: "cef: header has 3 of 7 fields",
			Want: map[string]any{"cef.version": i64(0), "observer.vendor": "Acme", "observer.product": "Broken"},
		},
		{
			Has: "=novalue", Outcome: parsertest.Malformed, ErrHas: "extension at byte 18: expected key=value",
			Want: map[string]any{"cef.version": i64(0), "observer.vendor": "A", "observer.product": "B",
				"observer.version": "C", "event.code": "D", "cef.name": "E", "cef.severity": "F", "message": "E"},
		},
		{Has: "sshd[1]", Outcome: parsertest.NotMatched},
		{Has: "0|only", Outcome: parsertest.NotMatched},
		{Has: "CEF:x", Outcome: parsertest.NotMatched},
	}
	device.CheckFixtures(t, newTestParser(), tests)
}

// TestParser_Allocs bounds the allocations of a record without a header
// once the extension keys are known: the Original string only.
func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte("CEF:0|Acme|Firewall|2.1|100|Connection blocked|5|src=198.51.100.7 spt=40001 dst=192.0.2.10 dpt=443 proto=TCP cs1=x msg=blocked")
	parsertest.CheckAllocs(t, p, raw, 1, "the Original string")
}

func BenchmarkParse(b *testing.B) {
	p := newTestParser()
	raw := []byte("<134>Jan 12 10:00:01 fw01 CEF:0|Acme|Firewall|2.1|100|Connection blocked|5|src=198.51.100.7 spt=40001 dst=192.0.2.10 dpt=443 proto=TCP act=blocked msg=blocked by policy 7")
	var ev sdk.Event
	b.ReportAllocs()
	for b.Loop() {
		ev.Reset()
		_ = p.Parse(raw, &ev)
	}
}
