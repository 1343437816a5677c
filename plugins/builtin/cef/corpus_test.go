package cef

import (
	"reflect"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// TestCorpus_OnlyCEFMatches parses every record of the corpus: the four
// records of the CEF file parse without error (CEF:0|, CEF: 0|, the bare
// 0|..., and one behind a BSD header) and no record of any other file is
// taken for CEF.
func TestCorpus_OnlyCEFMatches(t *testing.T) {
	p := New(Options{Now: func() time.Time { return time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC) }})
	device.CheckMatches(t, p, map[string]int{"cef/crowdsec-cef-logs.log": 4})
}

// TestCorpus_CEFRecords checks the fields of the four UniFi records, read
// off the file by hand.
func TestCorpus_CEFRecords(t *testing.T) {
	recs := parsertest.CorpusRecords(t, parsertest.CorpusDir(t), "cef/crowdsec-cef-logs.log")
	type row struct {
		version, code, name, src, host string
		sev                            int64
		dpt                            int64 // 0: none
		ts                             time.Time
		fields                         int
	}
	want := []row{
		{"9.4.19", "544", "Admin Accessed UniFi Network", "10.72.1.222", "", 1, 0, time.Time{}, 16},
		{"9.4.19", "544", "Admin Accessed UniFi Network", "10.72.1.222", "", 1, 0, time.Time{}, 16},
		{"9.3.45", "201", "Threat Detected and Blocked", "192.168.0.1", "", 7, 80, time.Time{}, 26},
		{"9.4.19", "201", "Threat Detected and Blocked", "192.168.100.252", "UDM-Gent", 9, 80, time.Date(2025, 9, 8, 8, 32, 20, 0, time.UTC), 29},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC) }})
	for i, rec := range recs {
		var ev sdk.Event
		if err := p.Parse([]byte(rec), &ev); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		m := parsertest.Fields(t, &ev)
		w := want[i]
		got := row{
			version: parsertest.Str(m["observer.version"]), code: parsertest.Str(m["event.code"]), name: parsertest.Str(m["cef.name"]),
			src: parsertest.Str(m["source.ip"]), host: parsertest.Str(m["host.name"]), sev: parsertest.Num(m["event.severity"]),
			dpt: parsertest.Num(m["destination.port"]), ts: ev.Timestamp, fields: len(m),
		}
		if !reflect.DeepEqual(got, w) || m["observer.vendor"] != "Ubiquiti" || m["observer.product"] != "UniFi Network" {
			t.Errorf("record %d:\n got %+v\nwant %+v\n(fields %v)", i+1, got, w, m)
		}
	}
}
