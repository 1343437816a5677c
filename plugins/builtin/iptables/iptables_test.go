package iptables

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
	if got := newTestParser().ID(); got != "parser.iptables" {
		t.Fatalf("ID() = %q", got)
	}
}

// TestParser_Fixtures checks every field of every record of
// testdata/fixtures.log, in file order.
func TestParser_Fixtures(t *testing.T) {
	recs := fixtures(t)
	f := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		has     string // a part of the record, guarding the order
		outcome int
		ts      time.Time
		want    map[string]any
	}{
		{
			has: "12345.678901", ts: time.Date(2025, 1, 12, 10, 0, 1, 0, time.UTC),
			want: f("host.name", "gw", "process.name", "kernel", "observer.ingress.interface.name", "eth0",
				"destination.mac", "52-54-00-12-34-56", "source.mac", "52-54-00-AB-CD-EF",
				"source.ip", "198.51.100.7", "network.type", "ipv4", "destination.ip", "192.0.2.1",
				"iptables.length", i64(60), "iptables.ttl", i64(51), "iptables.id", i64(4242),
				"network.transport", "tcp", "source.port", i64(40001), "destination.port", i64(22)),
		},
		{
			has: "UFW BLOCK", ts: time.Date(2025, 1, 12, 10, 0, 2, 0, time.UTC),
			want: f("host.name", "gw", "process.name", "kernel", "rule.name", "UFW BLOCK", "event.action", "block",
				"observer.ingress.interface.name", "eth0",
				"destination.mac", "52-54-00-12-34-56", "source.mac", "52-54-00-AB-CD-EF",
				"source.ip", "198.51.100.8", "network.type", "ipv4", "destination.ip", "192.0.2.1",
				"iptables.length", i64(40), "iptables.ttl", i64(244), "iptables.id", i64(1),
				"network.transport", "tcp", "source.port", i64(50000), "destination.port", i64(3389)),
		},
		{
			has: "filter_IN_public_REJECT", ts: time.Date(2025, 1, 12, 10, 0, 3, 0, time.UTC),
			want: f("log.syslog.priority", i64(4), "log.syslog.facility.code", i64(0), "log.syslog.severity.code", i64(4),
				"host.name", "gw", "process.name", "kernel", "rule.name", "filter_IN_public_REJECT", "event.action", "reject",
				"observer.ingress.interface.name", "eth0",
				"destination.mac", "52-54-00-12-34-56", "source.mac", "52-54-00-AB-CD-EF",
				"source.ip", "2001:db8::7", "network.type", "ipv6", "destination.ip", "2001:db8::1",
				"iptables.length", i64(80), "iptables.ttl", i64(57),
				"network.transport", "udp", "source.port", i64(5353), "destination.port", i64(161)),
		},
		{
			has: "FINAL_REJECT",
			want: f("rule.name", "FINAL_REJECT", "event.action", "reject", "observer.ingress.interface.name", "wlan0",
				"observer.egress.interface.name", "eth1", "source.ip", "10.0.0.5", "network.type", "ipv4",
				"destination.ip", "192.0.2.9", "iptables.length", i64(84), "iptables.ttl", i64(63), "iptables.id", i64(0),
				"network.transport", "icmp"),
		},
		{
			has: "tap100i0-IN", ts: time.Date(2024, 1, 12, 9, 0, 5, 0, time.UTC),
			want: f("rule.name", "tap100i0-IN", "event.action", "drop", "observer.ingress.interface.name", "fwbr100i0",
				"observer.egress.interface.name", "fwbr100i0", "source.ip", "198.51.100.7", "network.type", "ipv4",
				"destination.ip", "192.0.2.100", "iptables.length", i64(52), "iptables.ttl", i64(117), "iptables.id", i64(31),
				"network.iana_number", "47"),
		},
		{
			has: "DPT=70000",
			want: f("observer.egress.interface.name", "eth0", "source.ip", "192.0.2.1", "network.type", "ipv4",
				"destination.ip", "198.51.100.7", "iptables.length", i64(60), "network.transport", "tcp"),
		},
		{has: "XX=eth0", outcome: notMatched},
		{has: "firewalld", outcome: notMatched},
		{has: "LOGIN", outcome: notMatched},
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
		wantOutcome(t, fmt.Sprintf("record %d", i+1), err, tc.outcome, "")
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

func TestVerdict(t *testing.T) {
	for in, want := range map[string]string{
		"IPTABLES-DROP":    "drop",
		"[UFW ALLOW]":      "allow",
		"[UFW AUDIT]":      "audit",
		"policy DROP":      "drop",
		"PVEFW-reject":     "reject",
		"DENY then ACCEPT": "accept",
		"dropped":          "",
		"":                 "",
	} {
		if got := verdict(in); got != want {
			t.Errorf("verdict(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte("IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=51 ID=4242 DF PROTO=TCP SPT=40001 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0")
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
