package leef

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

var refNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func newTestParser() *Parser {
	return New(Options{Now: func() time.Time { return refNow }})
}

func TestParser_ID(t *testing.T) {
	if got := newTestParser().ID(); got != "parser.leef" {
		t.Fatalf("ID() = %q", got)
	}
}

// TestParser_Fixtures checks every field of every record of
// testdata/fixtures.log, in file order.
func TestParser_Fixtures(t *testing.T) {
	recs := fixtures(t)
	hdr := func(version, vendor, product, v, code string, kv ...any) map[string]any {
		m := map[string]any{"leef.version": version, "observer.vendor": vendor, "observer.product": product,
			"observer.version": v, "event.code": code}
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
			has: "MSExchange",
			want: hdr("1.0", "Microsoft", "MSExchange", "2016", "15345", "source.ip", "198.51.100.7",
				"destination.ip", "192.0.2.10", "leef.attributes.spt", "1200", "source.port", i64(1200),
				"destination.port", i64(25), "network.transport", "tcp", "user.name", "alice",
				"event.severity", i64(5), "leef.attributes.cat", "mail"),
		},
		{
			has: "StealthWatch",
			ts:  time.Date(2024, 1, 12, 10, 0, 0, 123e6, time.UTC), // devTime, not the header's 2025
			want: hdr("2.0", "Lancope", "StealthWatch", "1.0", "41", "log.syslog.priority", i64(13),
				"log.syslog.facility.code", i64(1), "log.syslog.severity.code", i64(5), "host.name", "qradar01",
				"source.ip", "192.0.2.1", "destination.ip", "198.51.100.7", "event.action", "blocked",
				"url.original", "/a b"),
		},
		{
			has: "x7C",
			want: hdr("2.0", "Vendor", "Product", "1.0", "Ev", "source.ip", "192.0.2.1", "destination.ip", "192.0.2.2",
				"leef.attributes.srcPort", "99999"),
		},
		{
			has:  "Ev|src",
			want: hdr("2.0", "Vendor", "Product", "1.0", "Ev", "source.ip", "192.0.2.1", "destination.ip", "192.0.2.2"),
		},
		{
			has: "disk full",
			want: hdr("1.0", "Vendor", "Product", "1.0", "Ev", "source.ip", "192.0.2.1", "destination.ip", "192.0.2.2",
				"message", "disk full on /var", "user.name", "bob"),
		},
		{
			has: "LEEF:1.0|Vendor|Product", outcome: malformed, errHas: "leef: header has 2 of 5 fields",
			want: map[string]any{"leef.version": "1.0", "observer.vendor": "Vendor"},
		},
		{
			has: "sev=high",
			ts:  time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			want: hdr("2.0", "V", "P", "1", "E", "leef.attributes.sev", "high", "leef.attributes.src", "not-an-ip",
				"source.ip", "192.0.2.9"),
		},
		{has: "CEF:0", outcome: notMatched},
		{has: "no version", outcome: notMatched},
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

func TestDelimiter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		d    byte
		next int
		ok   bool
	}{
		{"^|a=b", '^', 2, true},
		{"x5E|a=b", '^', 4, true},
		{"0x09|a=b", '\t', 5, true},
		{`\t|a=b`, '\t', 3, true},
		{"|a=b", '\t', 1, true},
		{"a=b|c=d", 0, 0, false},
		{"x00|a=b", 0, 0, false},
		{"xZZ|a=b", 0, 0, false},
		{"a=b", 0, 0, false},
	} {
		d, next, ok := delimiter(tc.in, 0)
		if d != tc.d || next != tc.next || ok != tc.ok {
			t.Errorf("delimiter(%q) = %q, %d, %v; want %q, %d, %v", tc.in, d, next, ok, tc.d, tc.next, tc.ok)
		}
	}
}

// TestCorpus_NoFalseMatches parses the whole corpus, which holds no LEEF:
// not one record may be taken for LEEF.
func TestCorpus_NoFalseMatches(t *testing.T) {
	if got := matchedPerFile(t, newTestParser()); len(got) != 0 {
		t.Errorf("records parsed as LEEF: %v, want none", got)
	}
}

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=192.0.2.1^dst=198.51.100.7^srcPort=1^dstPort=2^cat=x^sev=3")
	var ev sdk.Event
	allocs := testing.AllocsPerRun(100, func() {
		ev.Reset()
		if err := p.Parse(raw, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per record, want at most 1 (the Original string)", allocs)
	}
}
