package jsonlines

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

type i64 = int64

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
	f := parsertest.Map
	tests := []parsertest.Fixture{
		{
			Has: "login failed", TS: time.Date(2024, 1, 12, 10, 0, 1, 5e8, time.UTC),
			Want: f("log.level", "warn", "log.logger", "auth", "source.ip", "198.51.100.7", "source.port", i64(40001),
				"event.action", "login", "event.outcome", "failure", "user.name", "alice", "message", "login failed",
				"json.tags", `["a","b"]`),
		},
		{
			Has: "started", TS: time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			Want: f("message", "started", "log.level", "info", "pid", i64(42), "ratio", 0.25, "ok", true,
				"nested.deep.er", "x", "esc", "tab\there \u00e9 \U0001F600 \"q\""),
		},
		{
			Has: "not a time", TS: time.Date(2024, 1, 12, 10, 0, 2, 0, time.UTC),
			Want: f("time", "not a time", "json.@timestamp", "bad", "json.tags", `["x"]`, "json.agent.id", "a1",
				"json.vigil.seq", i64(1), "json.client.ip", "db1", "json.client.port", "80", "json.host.ip", `["192.0.2.1"]`),
		},
		{
			Has: "empty key", TS: time.Date(2024, 1, 12, 9, 0, 4, 0, time.UTC), // @timestamp wins over time
			Want: f("time", "2024-01-12T10:00:03Z", "a.b", i64(1), "dup", i64(1)),
		},
		{
			Has: "app01", TS: time.Date(2025, 1, 12, 10, 0, 5, 0, time.UTC), // the header's: ts is not a time member
			Want: f("host.name", "app01", "process.name", "myapp", "process.pid", i64(77), "log.level", "error",
				"message", "boom", "ts", i64(1705053605123)),
		},
		{
			Has:  `"n":-0`,
			Want: f("n", i64(0), "big", 1.2345678901234568e29, "e", 1000.0, "arr", `[{"x":"]"},2]`),
		},
		{Has: `{"a":1,}`, Outcome: parsertest.Malformed, ErrHas: "json: at byte 7: expected a key", Want: f("a", i64(1))},
		{Has: "unterminated", Outcome: parsertest.Malformed, ErrHas: "json: at byte 5: string not closed"},
		{Has: "trailing", Outcome: parsertest.Malformed, ErrHas: "json: at byte 8: data after the object", Want: f("a", i64(1))},
		{Has: "[1,2,3]", Outcome: parsertest.NotMatched},
		{Has: "plain text", Outcome: parsertest.NotMatched},
		{Has: "tru}", Outcome: parsertest.Malformed, ErrHas: "json: at byte 5: invalid literal"},
		{Has: "01}", Outcome: parsertest.Malformed, ErrHas: "json: at byte 5: invalid number"},
		{Has: "l17", Want: f("l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.l12.l13.l14.l15.l16", `{"l17":1}`)},
	}
	device.CheckFixtures(t, newTestParser(), tests)
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
	parsertest.CheckAllocs(t, p, raw, 1, "the Original string")
}
