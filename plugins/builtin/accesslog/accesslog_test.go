package accesslog

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
	if got := newTestParser().ID(); got != "parser.accesslog" {
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
	oct10 := func(h, m, s int) time.Time { return time.Date(2024, 10, 10, h, m, s, 0, time.UTC) }
	tests := []struct {
		has     string // a part of the record, guarding the order
		outcome int
		errHas  string
		ts      time.Time
		want    map[string]any
	}{
		{
			has: "alice", ts: oct10(20, 55, 36),
			want: f("source.ip", "198.51.100.7", "user.name", "alice", "http.request.method", "GET",
				"url.original", "/a/b?x=1&y=2", "url.path", "/a/b", "url.query", "x=1&y=2", "http.version", "1.1",
				"http.response.status_code", i64(200), "http.response.body.bytes", i64(2326),
				"http.request.referrer", "https://example.com/start", "user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
		},
		{
			has: "POST /login", ts: oct10(13, 55, 37),
			want: f("source.ip", "192.0.2.5", "http.request.method", "POST", "url.original", "/login", "url.path", "/login",
				"http.version", "1.0", "http.response.status_code", i64(302)),
		},
		{
			has: "2001:db8::1", ts: oct10(11, 55, 38),
			want: f("source.ip", "2001:db8::1", "http.request.method", "HEAD", "url.original", "/", "url.path", "/",
				"http.version", "2.0", "http.response.status_code", i64(404), "http.response.body.bytes", i64(0)),
		},
		{
			has: "www.example.com:443", ts: oct10(13, 55, 39),
			want: f("url.domain", "www.example.com", "source.ip", "198.51.100.8", "http.request.method", "GET",
				"url.original", "http://proxy.example.net:8080/p?q=%7B", "url.path", "/p", "url.query", "q=%7B",
				"http.version", "1.1", "http.response.status_code", i64(200), "http.response.body.bytes", i64(10),
				"user_agent.original", "curl/8.0"),
		},
		{
			has: "client.example.net", ts: oct10(13, 55, 40),
			want: f("source.domain", "client.example.net", "user.name", "bob", "http.request.method", "GET",
				"url.original", "/x", "url.path", "/x", "http.version", "1.1", "http.response.status_code", i64(500),
				"http.response.body.bytes", i64(12), "user_agent.original", `say "hi" \o/`),
		},
		{
			has: `"-" 408`, ts: oct10(13, 55, 41),
			want: f("source.ip", "198.51.100.10", "http.response.status_code", i64(408), "http.response.body.bytes", i64(0)),
		},
		{
			has: `\x16`, ts: oct10(13, 55, 42),
			want: f("source.ip", "198.51.100.11", "http.response.status_code", i64(400), "http.response.body.bytes", i64(157)),
		},
		{
			has: "nginx[812]", ts: time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			want: f("host.name", "web1", "process.name", "nginx", "process.pid", i64(812), "source.ip", "198.51.100.12",
				"http.request.method", "GET", "url.original", "/wp-login.php", "url.path", "/wp-login.php",
				"http.version", "1.1", "http.response.status_code", i64(404), "http.response.body.bytes", i64(153),
				"user_agent.original", "Go-http-client/1.1"),
		},
		{
			has: "(cut", ts: oct10(13, 55, 43),
			want: f("source.ip", "198.51.100.13", "http.request.method", "GET", "url.original", "/cut", "url.path", "/cut",
				"http.version", "1.1", "http.response.status_code", i64(200), "http.response.body.bytes", i64(5),
				"user_agent.original", "Mozilla/5.0 (cut"),
		},
		{
			has: "/broken", outcome: malformed, errHas: "accesslog: status at byte 70: not a number", ts: oct10(13, 55, 44),
			want: f("source.ip", "198.51.100.14", "http.request.method", "GET", "url.original", "/broken",
				"url.path", "/broken", "http.version", "1.1"),
		},
		{
			has: "/open", outcome: malformed, errHas: "accesslog: at byte 47: quote not closed", ts: oct10(13, 55, 45),
			want: f("source.ip", "198.51.100.15"),
		},
		{has: "[error]", outcome: notMatched},
		{has: "32/Oct", outcome: notMatched},
		{has: "sshd[1]", outcome: notMatched},
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

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte(`198.51.100.7 - alice [10/Oct/2024:13:55:36 -0700] "GET /a/b?x=1 HTTP/1.1" 200 2326 "https://example.com/" "Mozilla/5.0"`)
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
