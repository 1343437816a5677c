package leef

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

type i64 = int64

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
	hdr := func(version, vendor, product, v, code string, kv ...any) map[string]any {
		return parsertest.With(map[string]any{"leef.version": version, "observer.vendor": vendor, "observer.product": product,
			"observer.version": v, "event.code": code}, kv...)
	}
	tests := []parsertest.Fixture{
		{
			Has: "MSExchange",
			Want: hdr("1.0", "Microsoft", "MSExchange", "2016", "15345", "source.ip", "198.51.100.7",
				"destination.ip", "192.0.2.10", "leef.attributes.spt", "1200", "source.port", i64(1200),
				"destination.port", i64(25), "network.transport", "tcp", "user.name", "alice",
				"event.severity", i64(5), "leef.attributes.cat", "mail"),
		},
		{
			Has: "StealthWatch",
			TS:  time.Date(2024, 1, 12, 10, 0, 0, 123e6, time.UTC), // devTime, not the header's 2025
			Want: hdr("2.0", "Lancope", "StealthWatch", "1.0", "41", "log.syslog.priority", i64(13),
				"log.syslog.facility.code", i64(1), "log.syslog.severity.code", i64(5), "host.name", "qradar01",
				"source.ip", "192.0.2.1", "destination.ip", "198.51.100.7", "event.action", "blocked",
				"url.original", "/a b"),
		},
		{
			Has: "x7C",
			Want: hdr("2.0", "Vendor", "Product", "1.0", "Ev", "source.ip", "192.0.2.1", "destination.ip", "192.0.2.2",
				"leef.attributes.srcPort", "99999"),
		},
		{
			Has:  "Ev|src",
			Want: hdr("2.0", "Vendor", "Product", "1.0", "Ev", "source.ip", "192.0.2.1", "destination.ip", "192.0.2.2"),
		},
		{
			Has: "disk full",
			Want: hdr("1.0", "Vendor", "Product", "1.0", "Ev", "source.ip", "192.0.2.1", "destination.ip", "192.0.2.2",
				"message", "disk full on /var", "user.name", "bob"),
		},
		{
			Has: "LEEF:1.0|Vendor|Product", Outcome: parsertest.Malformed, ErrHas: "leef: header has 2 of 5 fields",
			Want: map[string]any{"leef.version": "1.0", "observer.vendor": "Vendor"},
		},
		{
			Has: "sev=high",
			TS:  time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			Want: hdr("2.0", "V", "P", "1", "E", "leef.attributes.sev", "high", "leef.attributes.src", "not-an-ip",
				"source.ip", "192.0.2.9"),
		},
		{Has: "CEF:0", Outcome: parsertest.NotMatched},
		{Has: "no version", Outcome: parsertest.NotMatched},
	}
	device.CheckFixtures(t, newTestParser(), tests)
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
	if got := device.MatchedPerFile(t, newTestParser()); len(got) != 0 {
		t.Errorf("records parsed as LEEF: %v, want none", got)
	}
}

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=192.0.2.1^dst=198.51.100.7^srcPort=1^dstPort=2^cat=x^sev=3")
	parsertest.CheckAllocs(t, p, raw, 1, "the Original string")
}
