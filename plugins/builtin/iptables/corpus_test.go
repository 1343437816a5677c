package iptables

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// TestCorpus_Matches parses the whole corpus. The netfilter file has four
// kernel lines, of which the third is deliberately broken ("XX=" in place
// of "IN="; CrowdSec's parser rejects it too); all ten Proxmox lines parse.
// The firewalld lines (daemon errors) and the pfSense filterlog CSV lines
// carry no IN=/OUT= fields.
func TestCorpus_Matches(t *testing.T) {
	device.CheckMatches(t, newTestParser(), map[string]int{
		"iptables/crowdsec-iptables-logs.log":    3,
		"iptables/crowdsec-proxmox-iptables.log": 10,
	})
}

type row struct {
	host, rule, action, in, out, src, dst, transport string
	dport                                            int64
}

func rowOf(m map[string]any) row {
	return row{
		host: parsertest.Str(m["host.name"]), rule: parsertest.Str(m["rule.name"]), action: parsertest.Str(m["event.action"]),
		in: parsertest.Str(m["observer.ingress.interface.name"]), out: parsertest.Str(m["observer.egress.interface.name"]),
		src: parsertest.Str(m["source.ip"]), dst: parsertest.Str(m["destination.ip"]), transport: parsertest.Str(m["network.transport"]),
		dport: parsertest.Num(m["destination.port"]),
	}
}

// TestCorpus_Netfilter checks the three kernel records, read by hand.
func TestCorpus_Netfilter(t *testing.T) {
	recs := parsertest.CorpusRecords(t, parsertest.CorpusDir(t), "iptables/crowdsec-iptables-logs.log")
	want := map[int]row{
		0: {host: "sd-126005", in: "enp1s0", src: "195.54.160.107", dst: "51.15.166.67", transport: "tcp", dport: 8123},
		1: {host: "sd-126005", in: "enp.1s0", src: "195.54.160.107", dst: "51.15.166.67", transport: "tcp", dport: 8123},
		3: {host: "ubuntu-focal", rule: "IPTABLES-DROP", action: "drop", in: "lo", src: "127.0.0.1", dst: "127.0.0.53", transport: "udp", dport: 53},
	}
	p := newTestParser()
	for i, rec := range recs {
		var ev sdk.Event
		err := p.Parse([]byte(rec), &ev)
		w, ok := want[i]
		if !ok {
			if !parsertest.IsNotMatched(err) {
				t.Errorf("record %d: %v, want not matched", i+1, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		m := parsertest.Fields(t, &ev)
		if got := rowOf(m); got != w || m["process.name"] != "kernel" {
			t.Errorf("record %d:\n got %+v\nwant %+v", i+1, got, w)
		}
	}
}

// TestCorpus_Proxmox checks the ten Proxmox VE firewall records, read by
// hand: the chain is the rule, the word before "IN=" the verdict (line 9
// has none), and the bracketed time carries a +0200 offset.
func TestCorpus_Proxmox(t *testing.T) {
	recs := parsertest.CorpusRecords(t, parsertest.CorpusDir(t), "iptables/crowdsec-proxmox-iptables.log")
	want := []row{
		{rule: "PVEFW-HOST-IN", action: "drop", in: "vmbr0.94", src: "10.3.94.11", dst: "10.3.94.12", transport: "udp", dport: 3784},
		{rule: "PVEFW-HOST-IN", action: "accept", in: "vmbr0.94", src: "10.3.95.34", dst: "10.3.94.12", transport: "tcp", dport: 8006},
		{rule: "PVEFW-HOST-IN", action: "reject", in: "vmbr0.94", src: "10.3.95.34", dst: "10.3.94.12", transport: "tcp", dport: 3306},
		{rule: "tap101i0-IN", action: "reject", in: "fwbr101i0", out: "fwbr101i0", src: "10.3.95.34", dst: "10.3.95.200", transport: "tcp", dport: 22},
		{rule: "tap101i0-IN", action: "accept", in: "fwbr101i0", out: "fwbr101i0", src: "10.3.95.34", dst: "10.3.95.200", transport: "tcp", dport: 3306},
		{rule: "tap101i0-IN", action: "reject", in: "fwbr101i0", out: "fwbr101i0", src: "2a0a:1580::a", dst: "2a0a:1580::17", transport: "tcp", dport: 22},
		{rule: "tap101i0-OUT", action: "reject", in: "fwbr101i0", out: "fwbr101i0", src: "10.3.95.200", dst: "10.3.95.10", transport: "tcp", dport: 22},
		{rule: "PVEFW-HOST-OUT", action: "reject", out: "vmbr0.94", src: "10.3.94.12", dst: "10.3.94.10", transport: "tcp", dport: 22},
		{rule: "GROUP-security1-IN", in: "fwbr101i0", out: "fwbr101i0", src: "10.3.95.34", dst: "10.3.95.200", transport: "tcp", dport: 22},
		{rule: "tap101i0-IN", action: "drop", in: "fwbr101i0", out: "fwbr101i0", src: "10.3.95.34", dst: "10.3.95.200", transport: "tcp", dport: 22},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	p := newTestParser()
	for i, rec := range recs {
		var ev sdk.Event
		if err := p.Parse([]byte(rec), &ev); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		if got := rowOf(parsertest.Fields(t, &ev)); got != want[i] {
			t.Errorf("record %d:\n got %+v\nwant %+v", i+1, got, want[i])
		}
		if i == 0 && !ev.Timestamp.Equal(time.Date(2022, 6, 20, 11, 9, 14, 0, time.UTC)) {
			t.Errorf("record 1: timestamp %v, want 2022-06-20 13:09:14 +0200", ev.Timestamp)
		}
		if ev.Timestamp.IsZero() {
			t.Errorf("record %d: no timestamp", i+1)
		}
	}
}
