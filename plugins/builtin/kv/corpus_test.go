package kv

import (
	"reflect"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// TestCorpus_Matches parses the whole corpus: the 28 FortiGate records and
// the 4 auditd SYSCALL records (type=... msg=... key=value) are key=value;
// nothing else is.
func TestCorpus_Matches(t *testing.T) {
	device.CheckMatches(t, newTestParser(), map[string]int{
		"fortigate/beats-fortinet-firewall-utm.log": 28,
		"auditd/crowdsec-auditd-logs.log":           4,
	})
}

// TestCorpus_FortiGate counts field values over the 28 FortiGate UTM
// records. The figures were counted with grep over the file, and agree with
// MANIFEST.md (subtypes; action="blocked" on 12 lines).
func TestCorpus_FortiGate(t *testing.T) {
	recs := parsertest.CorpusRecords(t, parsertest.CorpusDir(t), "fortigate/beats-fortinet-firewall-utm.log")
	p := newTestParser()
	counts := map[string]map[string]int{}
	present := map[string]int{}
	var ev sdk.Event
	for i, rec := range recs {
		ev.Reset()
		if err := p.Parse([]byte(rec), &ev); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		if ev.Timestamp.IsZero() {
			t.Errorf("record %d: no timestamp", i+1)
		}
		if i == 0 && !ev.Timestamp.Equal(time.Date(2020, 4, 23, 17, 17, 48, 0, time.UTC)) {
			t.Errorf("record 1: timestamp %v, want 2020-04-23 12:17:48 at -0500", ev.Timestamp)
		}
		m := parsertest.Fields(t, &ev)
		for k, v := range m {
			present[k]++
			switch k {
			case "kv.subtype", "event.action", "network.transport", "network.iana_number", "network.protocol", "observer.vendor", "observer.product":
				if counts[k] == nil {
					counts[k] = map[string]int{}
				}
				counts[k][v.(string)]++
			}
		}
	}
	wantCounts := map[string]map[string]int{
		"kv.subtype": {"ssl": 10, "app-ctrl": 4, "dns": 4, "webfilter": 3, "virus": 2, "ips": 1, "anomaly": 1,
			"dlp": 1, "ssh": 1, "cifs": 1},
		"event.action":        {"blocked": 12, "pass": 7, "exempt": 3, "passthrough": 2, "block": 1, "clear_session": 1, "dropped": 1},
		"network.iana_number": {"6": 22, "17": 4, "1": 1, "16": 1},
		"network.transport":   {"tcp": 22, "udp": 4, "icmp": 1},
		"network.protocol":    {"https": 13, "http": 4, "ssl": 3, "cifs": 1, "ping": 1, "smtps": 1},
		"observer.vendor":     {"Fortinet": 28},
		"observer.product":    {"FortiGate": 28},
	}
	if !reflect.DeepEqual(counts, wantCounts) {
		t.Errorf("value counts:\n got %v\nwant %v", counts, wantCounts)
	}
	// Every record has srcip, dstip, logid, level, vd; 27 have ports (the
	// ICMP anomaly has none), 25 a msg, 11 a devname, 6 a user.
	for k, n := range map[string]int{"source.ip": 28, "destination.ip": 28, "event.code": 28, "log.level": 28, "kv.vd": 28,
		"source.port": 27, "destination.port": 27, "message": 25, "observer.name": 11, "user.name": 6} {
		if present[k] != n {
			t.Errorf("%s set in %d records, want %d", k, present[k], n)
		}
	}
	// tz is consumed into @timestamp wherever it appears.
	if present["kv.tz"] != 0 || present["kv.date"] != 0 || present["kv.time"] != 0 {
		t.Errorf("date/time/tz kept as fields: %d, %d, %d", present["kv.date"], present["kv.time"], present["kv.tz"])
	}
}
