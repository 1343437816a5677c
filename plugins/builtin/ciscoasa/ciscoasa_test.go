package ciscoasa

import (
	"strings"
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
	if got := newTestParser().ID(); got != "parser.cisco_asa" {
		t.Fatalf("ID() = %q", got)
	}
}

// TestParser_Fixtures checks every field of every record of
// testdata/fixtures.log, in file order.
func TestParser_Fixtures(t *testing.T) {
	// base holds what every tagged record sets; msg is the text after the tag.
	base := func(product, code string, sev int64, msg string, kv ...any) map[string]any {
		return parsertest.With(map[string]any{"observer.vendor": "Cisco", "observer.product": product, "event.code": code,
			"event.severity": sev, "log.level": levels[sev], "message": msg}, kv...)
	}
	tests := []parsertest.Fixture{
		{
			Has: "302013", TS: time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			WantOf: func(rec string) map[string]any {
				return base("ASA", "302013", 6, rec[strings.Index(rec, "Built"):],
					"log.syslog.priority", i64(166), "log.syslog.facility.code", i64(20), "log.syslog.severity.code", i64(6),
					"host.name", "fw01", "event.action", "connection-built", "network.direction", "inbound",
					"network.transport", "tcp", "source.ip", "198.51.100.7", "source.port", i64(40001),
					"destination.ip", "10.0.0.5", "destination.port", i64(443),
					"observer.ingress.interface.name", "outside", "observer.egress.interface.name", "inside",
					"destination.nat.ip", "203.0.113.5", "destination.nat.port", i64(443))
			},
		},
		{
			Has: "302014", TS: time.Date(2025, 1, 12, 10, 0, 2, 0, time.UTC),
			WantOf: func(rec string) map[string]any {
				return base("ASA", "302014", 6, rec[strings.Index(rec, "Teardown"):],
					"host.name", "fw01", "event.action", "connection-teardown", "network.transport", "tcp",
					"source.ip", "198.51.100.7", "source.port", i64(40001), "destination.ip", "10.0.0.5",
					"destination.port", i64(443), "observer.ingress.interface.name", "outside",
					"observer.egress.interface.name", "inside", "event.duration", i64(3723*time.Second),
					"network.bytes", i64(5120), "event.reason", "TCP FINs")
			},
		},
		{
			Has: "302015",
			WantOf: func(rec string) map[string]any {
				return base("ASA", "302015", 6, rec[strings.Index(rec, "Built"):],
					"event.action", "connection-built", "network.direction", "outbound", "network.transport", "udp",
					"source.ip", "10.0.0.8", "source.port", i64(5353), "destination.ip", "192.0.2.53",
					"destination.port", i64(53), "observer.ingress.interface.name", "inside",
					"observer.egress.interface.name", "outside", "source.nat.ip", "203.0.113.5",
					"source.nat.port", i64(40000))
			},
		},
		{
			Has: "106023", TS: time.Date(2024, 1, 12, 10, 0, 3, 0, time.UTC),
			WantOf: func(rec string) map[string]any {
				return base("ASA", "106023", 4, rec[strings.Index(rec, "Deny"):],
					"log.syslog.priority", i64(164), "log.syslog.facility.code", i64(20), "log.syslog.severity.code", i64(4),
					"host.name", "fw01", "event.action", "deny", "network.transport", "tcp",
					"source.ip", "198.51.100.7", "source.port", i64(40002), "destination.ip", "10.0.0.5",
					"destination.port", i64(22), "observer.ingress.interface.name", "outside",
					"observer.egress.interface.name", "inside", "rule.name", "outside_in")
			},
		},
		{
			Has: "106014",
			WantOf: func(rec string) map[string]any {
				return base("ASA", "106014", 3, rec[strings.Index(rec, "Deny"):],
					"event.action", "deny", "network.transport", "icmp", "source.ip", "198.51.100.7",
					"destination.ip", "10.0.0.5", "observer.ingress.interface.name", "outside",
					"observer.egress.interface.name", "inside")
			},
		},
		{
			Has: "106100",
			WantOf: func(rec string) map[string]any {
				return base("ASA", "106100", 6, rec[strings.Index(rec, "access-list"):],
					"event.action", "permit", "rule.name", "inside_acl", "network.transport", "tcp",
					"source.ip", "10.0.0.5", "source.port", i64(51000), "destination.ip", "192.0.2.80",
					"destination.port", i64(80), "observer.ingress.interface.name", "inside",
					"observer.egress.interface.name", "outside")
			},
		},
		{
			Has: "113004",
			WantOf: func(rec string) map[string]any {
				return base("ASA", "113004", 6, rec[strings.Index(rec, "AAA"):],
					"event.action", "user-authentication", "event.outcome", "success", "user.name", "alice")
			},
		},
		{
			Has: "113005",
			WantOf: func(rec string) map[string]any {
				return base("ASA", "113005", 6, rec[strings.Index(rec, "AAA"):],
					"event.action", "user-authentication", "event.outcome", "failure", "source.ip", "198.51.100.7")
			},
		},
		{
			Has: "113015",
			WantOf: func(rec string) map[string]any {
				return base("ASA", "113015", 6, rec[strings.Index(rec, "AAA"):],
					"event.action", "user-authentication", "event.outcome", "failure", "user.name", "bob",
					"source.ip", "198.51.100.9")
			},
		},
		{
			Has: "611102",
			WantOf: func(rec string) map[string]any {
				return base("ASA", "611102", 6, rec[strings.Index(rec, "User"):],
					"event.action", "user-authentication", "event.outcome", "failure", "user.name", "carol",
					"source.ip", "198.51.100.7")
			},
		},
		{
			Has: "430003",
			WantOf: func(rec string) map[string]any {
				return base("FTD", "430003", 6, rec[strings.Index(rec, "DeviceUUID"):],
					"source.ip", "198.51.100.7", "destination.ip", "192.0.2.10", "source.port", i64(40003),
					"destination.port", i64(3389), "network.transport", "tcp",
					"observer.ingress.interface.name", "outside", "observer.egress.interface.name", "inside",
					"rule.name", "block-rdp", "event.action", "block")
			},
		},
		{
			Has: "111008",
			WantOf: func(rec string) map[string]any {
				return base("ASA", "111008", 5, rec[strings.Index(rec, "User"):])
			},
		},
		{Has: "sshd[1]", Outcome: parsertest.NotMatched},
		{Has: "100%ASA", Outcome: parsertest.NotMatched},
		{Has: "ASA-9", Outcome: parsertest.NotMatched},
	}
	device.CheckFixtures(t, newTestParser(), tests)
}

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct{ in, iface, ip, port string }{
		{"outside:198.51.100.7/40001", "outside", "198.51.100.7", "40001"},
		{"198.51.100.7/ssh", "", "198.51.100.7", "ssh"},
		{"inside:2001:db8::1/443", "inside", "2001:db8::1", "443"},
		{"2001:db8::1", "", "2001:db8::1", ""},
		{"outside:X.X.X.X/22", "outside", "", "22"},
		{"***/20031", "", "", "20031"},
		{"dmz:10.0.0.1,", "dmz", "10.0.0.1", ""},
	} {
		iface, ip, port := endpoint(tc.in)
		if iface != tc.iface || ip != tc.ip || port != tc.port {
			t.Errorf("endpoint(%q) = %q, %q, %q; want %q, %q, %q", tc.in, iface, ip, port, tc.iface, tc.ip, tc.port)
		}
	}
}

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte("%ASA-6-302013: Built inbound TCP connection 7 for outside:198.51.100.7/40001 (198.51.100.7/40001) to inside:10.0.0.5/443 (203.0.113.5/443)")
	parsertest.CheckAllocs(t, p, raw, 1, "the Original string")
}
