package cef

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

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
	recs := fixtures(t)
	acme := func(kv ...any) map[string]any {
		m := map[string]any{"cef.version": i64(0), "observer.vendor": "Acme", "observer.product": "Firewall",
			"observer.version": "2.1", "event.code": "100", "cef.severity": "5", "event.severity": i64(5)}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		has     string // a part of the record, guarding the order
		outcome int
		errHas  string
		ts      time.Time
		want    map[string]any
	}{
		{
			has: "Connection blocked",
			want: acme("cef.name", "Connection blocked", "source.ip", "198.51.100.7", "source.port", i64(40001),
				"destination.ip", "192.0.2.10", "destination.port", i64(443), "network.transport", "tcp",
				"event.action", "blocked", "message", "blocked by policy 7"),
		},
		{
			has: "Port scan",
			ts:  time.Date(2024, 1, 12, 10, 0, 0, 0, time.UTC), // rt, not the header's 2025
			want: map[string]any{
				"log.syslog.priority": i64(134), "log.syslog.facility.code": i64(16), "log.syslog.severity.code": i64(6),
				"host.name": "fw01", "cef.version": i64(0), "observer.vendor": "Acme", "observer.product": "IDS",
				"observer.version": "1.0", "event.code": "sig|42", "cef.name": `Port scan \ detected`,
				"cef.severity": "High", "source.ip": "203.0.113.5", "source.domain": "scanner.example.net",
				"source.user.name": "alice", "cef.extensions.cs1Label": "zone", "cef.extensions.cs1": "dmz",
				"url.original": "https://example.com/a?b=c&d=e", "message": `Port scan \ detected`,
			},
		},
		{
			has: "cef-relay",
			ts:  time.Date(2024, 1, 12, 10, 0, 1, 5e8, time.UTC),
			want: map[string]any{
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
			has:  "Name only",
			want: acme("cef.name", "Name only", "message", "Name only"),
		},
		{
			has: "|Dup|",
			ts:  time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			want: acme("cef.name", "Dup", "source.ip", "198.51.100.7", "cef.extensions.cs2", "x",
				"cef.extensions.spt", "notaport", "message", "line one\nline two"),
		},
		{
			has:  "No prefix",
			want: acme("cef.name", "No prefix", "source.ip", "198.51.100.7", "message", "No prefix"),
		},
		{
			has: "Broken", outcome: malformed, errHas: "cef: header has 3 of 7 fields",
			want: map[string]any{"cef.version": i64(0), "observer.vendor": "Acme", "observer.product": "Broken"},
		},
		{
			has: "=novalue", outcome: malformed, errHas: "extension at byte 18: expected key=value",
			want: map[string]any{"cef.version": i64(0), "observer.vendor": "A", "observer.product": "B",
				"observer.version": "C", "event.code": "D", "cef.name": "E", "cef.severity": "F", "message": "E"},
		},
		{has: "sshd[1]", outcome: notMatched},
		{has: "0|only", outcome: notMatched},
		{has: "CEF:x", outcome: notMatched},
	}
	if len(tests) != len(recs) {
		t.Fatalf("%d cases for %d records", len(tests), len(recs))
	}
	p := newTestParser()
	for i, tc := range tests {
		rec := recs[i]
		if !strings.Contains(rec, tc.has) {
			t.Fatalf("record %d %q does not contain %q: cases out of order", i+1, rec, tc.has)
		}
		var ev sdk.Event
		err := p.Parse([]byte(rec), &ev)
		wantOutcome(t, fmt.Sprintf("record %d", i+1), err, tc.outcome, tc.errHas)
		if cerr := check([]byte(rec), &ev, err); cerr != nil {
			t.Errorf("record %d: %v", i+1, cerr)
		}
		if !ev.Timestamp.Equal(tc.ts) {
			t.Errorf("record %d: timestamp %v, want %v", i+1, ev.Timestamp, tc.ts)
		}
		want := tc.want
		if want == nil {
			want = map[string]any{}
		}
		if got := parsertest.Fields(t, &ev); !reflect.DeepEqual(got, want) {
			t.Errorf("record %d fields:\n got %v\nwant %v", i+1, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	loc := time.FixedZone("", 3600)
	now := func() time.Time { return refNow }
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1705053601000", time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC), true},
		{"1705053601", time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC), true},
		{"2024-01-12T10:00:01+02:00", time.Date(2024, 1, 12, 8, 0, 1, 0, time.UTC), true},
		{"Jan 12 2024 10:00:01", time.Date(2024, 1, 12, 9, 0, 1, 0, time.UTC), true},
		{"Jan 12 2024 10:00:01.250 GMT", time.Date(2024, 1, 12, 10, 0, 1, 25e7, time.UTC), true},
		{"Jan 12 2024 10:00:01 -0500", time.Date(2024, 1, 12, 15, 0, 1, 0, time.UTC), true},
		{"Jan 12 2024 10:00:01 +05:30", time.Date(2024, 1, 12, 4, 30, 1, 0, time.UTC), true},
		{"Jan 12 2024 10:00:01 CEST", time.Date(2024, 1, 12, 9, 0, 1, 0, time.UTC), true}, // unknown zone: loc
		{"Jun 16 10:00:01", time.Date(2025, 6, 16, 9, 0, 1, 0, time.UTC), true},           // within a day of now
		{"Dec 31 10:00:01", time.Date(2024, 12, 31, 9, 0, 1, 0, time.UTC), true},          // would be in the future
		{"Feb 30 2024 10:00:01", time.Time{}, false},
		{"Jan 12 2024 25:00:01", time.Time{}, false},
		{"Jan 12 2024 10:00", time.Time{}, false},
		{"12345", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, ok := parseTime(tc.in, loc, now)
		if ok != tc.ok || !got.Equal(tc.want) || ok && got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestParser_Allocs bounds the allocations of a record without a header
// once the extension keys are known: the Original string only.
func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte("CEF:0|Acme|Firewall|2.1|100|Connection blocked|5|src=198.51.100.7 spt=40001 dst=192.0.2.10 dpt=443 proto=TCP cs1=x msg=blocked")
	var ev sdk.Event
	allocs := testing.AllocsPerRun(100, func() {
		ev.Reset()
		if err := p.Parse(raw, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per record, want at most 1", allocs)
	}
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
