package iptables

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
	if got := newTestParser().ID(); got != "parser.iptables" {
		t.Fatalf("ID() = %q", got)
	}
}

// TestParser_Fixtures checks every field of every record of
// testdata/fixtures.log, in file order.
func TestParser_Fixtures(t *testing.T) {
	f := parsertest.Map
	tests := []parsertest.Fixture{
		{
			Has: "12345.678901", TS: time.Date(2025, 1, 12, 10, 0, 1, 0, time.UTC),
			Want: f("host.name", "gw", "process.name", "kernel", "observer.ingress.interface.name", "eth0",
				"destination.mac", "52-54-00-12-34-56", "source.mac", "52-54-00-AB-CD-EF",
				"source.ip", "198.51.100.7", "network.type", "ipv4", "destination.ip", "192.0.2.1",
				"iptables.length", i64(60), "iptables.ttl", i64(51), "iptables.id", i64(4242),
				"network.transport", "tcp", "source.port", i64(40001), "destination.port", i64(22)),
		},
		{
			Has: "UFW BLOCK", TS: time.Date(2025, 1, 12, 10, 0, 2, 0, time.UTC),
			Want: f("host.name", "gw", "process.name", "kernel", "rule.name", "UFW BLOCK", "event.action", "block",
				"observer.ingress.interface.name", "eth0",
				"destination.mac", "52-54-00-12-34-56", "source.mac", "52-54-00-AB-CD-EF",
				"source.ip", "198.51.100.8", "network.type", "ipv4", "destination.ip", "192.0.2.1",
				"iptables.length", i64(40), "iptables.ttl", i64(244), "iptables.id", i64(1),
				"network.transport", "tcp", "source.port", i64(50000), "destination.port", i64(3389)),
		},
		{
			Has: "filter_IN_public_REJECT", TS: time.Date(2025, 1, 12, 10, 0, 3, 0, time.UTC),
			Want: f("log.syslog.priority", i64(4), "log.syslog.facility.code", i64(0), "log.syslog.severity.code", i64(4),
				"host.name", "gw", "process.name", "kernel", "rule.name", "filter_IN_public_REJECT", "event.action", "reject",
				"observer.ingress.interface.name", "eth0",
				"destination.mac", "52-54-00-12-34-56", "source.mac", "52-54-00-AB-CD-EF",
				"source.ip", "2001:db8::7", "network.type", "ipv6", "destination.ip", "2001:db8::1",
				"iptables.length", i64(80), "iptables.ttl", i64(57),
				"network.transport", "udp", "source.port", i64(5353), "destination.port", i64(161)),
		},
		{
			Has: "FINAL_REJECT",
			Want: f("rule.name", "FINAL_REJECT", "event.action", "reject", "observer.ingress.interface.name", "wlan0",
				"observer.egress.interface.name", "eth1", "source.ip", "10.0.0.5", "network.type", "ipv4",
				"destination.ip", "192.0.2.9", "iptables.length", i64(84), "iptables.ttl", i64(63), "iptables.id", i64(0),
				"network.transport", "icmp"),
		},
		{
			Has: "tap100i0-IN", TS: time.Date(2024, 1, 12, 9, 0, 5, 0, time.UTC),
			Want: f("rule.name", "tap100i0-IN", "event.action", "drop", "observer.ingress.interface.name", "fwbr100i0",
				"observer.egress.interface.name", "fwbr100i0", "source.ip", "198.51.100.7", "network.type", "ipv4",
				"destination.ip", "192.0.2.100", "iptables.length", i64(52), "iptables.ttl", i64(117), "iptables.id", i64(31),
				"network.iana_number", "47"),
		},
		{
			Has: "DPT=70000",
			Want: f("observer.egress.interface.name", "eth0", "source.ip", "192.0.2.1", "network.type", "ipv4",
				"destination.ip", "198.51.100.7", "iptables.length", i64(60), "network.transport", "tcp"),
		},
		{Has: "XX=eth0", Outcome: parsertest.NotMatched},
		{Has: "firewalld", Outcome: parsertest.NotMatched},
		{Has: "LOGIN", Outcome: parsertest.NotMatched},
	}
	device.CheckFixtures(t, newTestParser(), tests)
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
	parsertest.CheckAllocs(t, p, raw, 1, "the Original string")
}
