package ciscoasa

import (
	"reflect"
	"testing"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// TestCorpus_OnlyCiscoMatches parses the whole corpus: the 22 PIX records
// parse and nothing else carries a %ASA/%PIX/%FWSM/%FTD tag. (The Cisco IOS
// files use other facilities: %SEC-, %IPS-, %PARSER-.)
func TestCorpus_OnlyCiscoMatches(t *testing.T) {
	device.CheckMatches(t, newTestParser(), map[string]int{"cisco-asa/wazuh-pix.log": 22})
}

// TestCorpus_PIX checks the PIX records one by one against what each line
// says, read by hand. Placeholders in the file ("X.X.X.X", "***",
// "<public IP of 525>", "a.b.c.d") set no address.
func TestCorpus_PIX(t *testing.T) {
	recs := parsertest.CorpusRecords(t, parsertest.CorpusDir(t), "cisco-asa/wazuh-pix.log")
	type row struct {
		code, action, outcome, src, dst, user string
		dport                                 int64
	}
	want := []row{
		{code: "710001", dport: 22},
		{code: "710003", action: "deny", src: "216.39.220.130", dst: "62.192.113.98", dport: 22},
		{code: "106010", action: "deny", src: "213.98.79.233", dst: "213.98.254.145", dport: 135},
		{code: "710002", action: "permit", src: "33.33.33.4", dst: "33.33.33.15", dport: 161},
		{code: "710005", action: "deny", dst: "192.168.69.137", dport: 4500},
		{code: "710002", action: "permit", src: "10.0.0.1", dst: "10.0.0.2", dport: 22},
		{code: "106015", action: "deny", src: "161.58.238.151", dport: 3782},
		{code: "106011", action: "deny", src: "192.168.2.1"},
		{code: "106011", action: "deny", src: "10.100.7.43"},
		{code: "106023", action: "deny", src: "111.11.11.1", dst: "172.11.1.11", dport: 139},
		{code: "106006", action: "deny", dport: 20031},
		{code: "106001", action: "deny", src: "165.139.46.7", dst: "165.189.27.70", dport: 139},
		{code: "305012", action: "translation-teardown", src: "1.1.1.1"},
		{code: "106002", action: "deny"},
		{code: "106002", action: "deny", src: "216.53.120.62", dst: "169.132.10.82"},
		{code: "400013", action: "ids-alert", src: "10.4.1.2", dst: "10.2.1.1"},
		{code: "305005"},
		{code: "605005", action: "login", outcome: "success", src: "192.168.1.2", dst: "192.168.1.1", dport: 23},
		{code: "605004", action: "login", outcome: "failure", src: "192.168.2.10", dst: "192.168.2.14", user: "root", dport: 22},
		{code: "305011", action: "translation-built", src: "192.168.1.2"},
		{code: "305011", action: "translation-built", src: "192.168.1.3"},
		{code: "302015", action: "connection-built", src: "192.168.1.2", dst: "192.168.2.10", dport: 1514},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	p := newTestParser()
	levels := map[string]int{}
	var ev sdk.Event
	for i, rec := range recs {
		ev.Reset()
		if err := p.Parse([]byte(rec), &ev); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		m := parsertest.Fields(t, &ev)
		got := row{
			code: parsertest.Str(m["event.code"]), action: parsertest.Str(m["event.action"]), outcome: parsertest.Str(m["event.outcome"]),
			src: parsertest.Str(m["source.ip"]), dst: parsertest.Str(m["destination.ip"]), user: parsertest.Str(m["user.name"]),
			dport: parsertest.Num(m["destination.port"]),
		}
		if got != want[i] || m["observer.product"] != "PIX" || !ev.Timestamp.IsZero() {
			t.Errorf("record %d:\n got %+v\nwant %+v\n(fields %v)", i+1, got, want[i], m)
		}
		levels[parsertest.Str(m["log.level"])]++
	}
	// The severity digits of the file: 7 four times, 3 five times, 6 seven
	// times, 4 twice, 2 four times.
	if want := map[string]int{"debugging": 4, "errors": 5, "informational": 7, "warnings": 2, "critical": 4}; !reflect.DeepEqual(levels, want) {
		t.Errorf("log.level counts %v, want %v", levels, want)
	}
}
