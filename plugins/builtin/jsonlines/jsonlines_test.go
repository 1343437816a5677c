package jsonlines

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
	if got := newTestParser().ID(); got != "parser.json" {
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
		errHas  string
		ts      time.Time
		want    map[string]any
	}{
		{
			has: "login failed", ts: time.Date(2024, 1, 12, 10, 0, 1, 5e8, time.UTC),
			want: f("log.level", "warn", "log.logger", "auth", "source.ip", "198.51.100.7", "source.port", i64(40001),
				"event.action", "login", "event.outcome", "failure", "user.name", "alice", "message", "login failed",
				"json.tags", `["a","b"]`),
		},
		{
			has: "started", ts: time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			want: f("message", "started", "log.level", "info", "pid", i64(42), "ratio", 0.25, "ok", true,
				"nested.deep.er", "x", "esc", "tab\there \u00e9 \U0001F600 \"q\""),
		},
		{
			has: "not a time", ts: time.Date(2024, 1, 12, 10, 0, 2, 0, time.UTC),
			want: f("time", "not a time", "json.@timestamp", "bad", "json.tags", `["x"]`, "json.agent.id", "a1",
				"json.vigil.seq", i64(1), "json.client.ip", "db1", "json.client.port", "80", "json.host.ip", `["192.0.2.1"]`),
		},
		{
			has: "empty key", ts: time.Date(2024, 1, 12, 9, 0, 4, 0, time.UTC), // @timestamp wins over time
			want: f("time", "2024-01-12T10:00:03Z", "a.b", i64(1), "dup", i64(1)),
		},
		{
			has: "app01", ts: time.Date(2025, 1, 12, 10, 0, 5, 0, time.UTC), // the header's: ts is not a time member
			want: f("host.name", "app01", "process.name", "myapp", "process.pid", i64(77), "log.level", "error",
				"message", "boom", "ts", i64(1705053605123)),
		},
		{
			has:  `"n":-0`,
			want: f("n", i64(0), "big", 1.2345678901234568e29, "e", 1000.0, "arr", `[{"x":"]"},2]`),
		},
		{has: `{"a":1,}`, outcome: malformed, errHas: "json: at byte 7: expected a key", want: f("a", i64(1))},
		{has: "unterminated", outcome: malformed, errHas: "json: at byte 5: string not closed"},
		{has: "trailing", outcome: malformed, errHas: "json: at byte 8: data after the object", want: f("a", i64(1))},
		{has: "[1,2,3]", outcome: notMatched},
		{has: "plain text", outcome: notMatched},
		{has: "tru}", outcome: malformed, errHas: "json: at byte 5: invalid literal"},
		{has: "01}", outcome: malformed, errHas: "json: at byte 5: invalid number"},
		{has: "l17", want: f("l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.l12.l13.l14.l15.l16", `{"l17":1}`)},
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

func TestParser_EpochUnits(t *testing.T) {
	want := time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC)
	p := newTestParser()
	for _, v := range []string{"1705053601", "1705053601000", "1705053601000000", "1705053601000000000", "1705053601.0"} {
		var ev sdk.Event
		if err := p.Parse([]byte(`{"@timestamp":`+v+`}`), &ev); err != nil || !ev.Timestamp.Equal(want) || len(ev.Fields) != 0 {
			t.Errorf("@timestamp %s: %v, %v, fields %v", v, err, ev.Timestamp, ev.Fields)
		}
	}
}

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte(`{"@timestamp":"2024-01-12T10:00:01.5Z","log":{"level":"warn"},"source":{"ip":"198.51.100.7","port":40001},"message":"login failed","n":1.5,"ok":true}`)
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
