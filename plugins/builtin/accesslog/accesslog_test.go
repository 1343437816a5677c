package accesslog

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
	if got := newTestParser().ID(); got != "parser.accesslog" {
		t.Fatalf("ID() = %q", got)
	}
}

// TestParser_Fixtures checks every field of every record of
// testdata/fixtures.log, in file order.
func TestParser_Fixtures(t *testing.T) {
	f := parsertest.Map
	oct10 := func(h, m, s int) time.Time { return time.Date(2024, 10, 10, h, m, s, 0, time.UTC) }
	tests := []parsertest.Fixture{
		{
			Has: "alice", TS: oct10(20, 55, 36),
			Want: f("source.ip", "198.51.100.7", "user.name", "alice", "http.request.method", "GET",
				"url.original", "/a/b?x=1&y=2", "url.path", "/a/b", "url.query", "x=1&y=2", "http.version", "1.1",
				"http.response.status_code", i64(200), "http.response.body.bytes", i64(2326),
				"http.request.referrer", "https://example.com/start", "user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
		},
		{
			Has: "POST /login", TS: oct10(13, 55, 37),
			Want: f("source.ip", "192.0.2.5", "http.request.method", "POST", "url.original", "/login", "url.path", "/login",
				"http.version", "1.0", "http.response.status_code", i64(302)),
		},
		{
			Has: "2001:db8::1", TS: oct10(11, 55, 38),
			Want: f("source.ip", "2001:db8::1", "http.request.method", "HEAD", "url.original", "/", "url.path", "/",
				"http.version", "2.0", "http.response.status_code", i64(404), "http.response.body.bytes", i64(0)),
		},
		{
			Has: "www.example.com:443", TS: oct10(13, 55, 39),
			Want: f("url.domain", "www.example.com", "source.ip", "198.51.100.8", "http.request.method", "GET",
				"url.original", "http://proxy.example.net:8080/p?q=%7B", "url.path", "/p", "url.query", "q=%7B",
				"http.version", "1.1", "http.response.status_code", i64(200), "http.response.body.bytes", i64(10),
				"user_agent.original", "curl/8.0"),
		},
		{
			Has: "client.example.net", TS: oct10(13, 55, 40),
			Want: f("source.domain", "client.example.net", "user.name", "bob", "http.request.method", "GET",
				"url.original", "/x", "url.path", "/x", "http.version", "1.1", "http.response.status_code", i64(500),
				"http.response.body.bytes", i64(12), "user_agent.original", `say "hi" \o/`),
		},
		{
			Has: `"-" 408`, TS: oct10(13, 55, 41),
			Want: f("source.ip", "198.51.100.10", "http.response.status_code", i64(408), "http.response.body.bytes", i64(0)),
		},
		{
			Has: `\x16`, TS: oct10(13, 55, 42),
			Want: f("source.ip", "198.51.100.11", "http.response.status_code", i64(400), "http.response.body.bytes", i64(157)),
		},
		{
			Has: "nginx[812]", TS: time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			Want: f("host.name", "web1", "process.name", "nginx", "process.pid", i64(812), "source.ip", "198.51.100.12",
				"http.request.method", "GET", "url.original", "/wp-login.php", "url.path", "/wp-login.php",
				"http.version", "1.1", "http.response.status_code", i64(404), "http.response.body.bytes", i64(153),
				"user_agent.original", "Go-http-client/1.1"),
		},
		{
			Has: "(cut", TS: oct10(13, 55, 43),
			Want: f("source.ip", "198.51.100.13", "http.request.method", "GET", "url.original", "/cut", "url.path", "/cut",
				"http.version", "1.1", "http.response.status_code", i64(200), "http.response.body.bytes", i64(5),
				"user_agent.original", "Mozilla/5.0 (cut"),
		},
		{
			Has: "/broken", Outcome: parsertest.Malformed, ErrHas: "accesslog: status at byte 70: not a number", TS: oct10(13, 55, 44),
			Want: f("source.ip", "198.51.100.14", "http.request.method", "GET", "url.original", "/broken",
				"url.path", "/broken", "http.version", "1.1"),
		},
		{
			Has: "/open", Outcome: parsertest.Malformed, ErrHas: "accesslog: at byte 47: quote not closed", TS: oct10(13, 55, 45),
			Want: f("source.ip", "198.51.100.15"),
		},
		{Has: "[error]", Outcome: parsertest.NotMatched},
		{Has: "32/Oct", Outcome: parsertest.NotMatched},
		{Has: "sshd[1]", Outcome: parsertest.NotMatched},
	}
	device.CheckFixtures(t, newTestParser(), tests)
}

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte(`198.51.100.7 - alice [10/Oct/2024:13:55:36 -0700] "GET /a/b?x=1 HTTP/1.1" 200 2326 "https://example.com/" "Mozilla/5.0"`)
	parsertest.CheckAllocs(t, p, raw, 1, "the Original string")
}
