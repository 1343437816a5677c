package rfc5424

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

type i64 = int64

// outcome of a parse in the table.
const (
	ok = iota
	notMatched
	malformed
)

func TestParser_ID(t *testing.T) {
	if got := New().ID(); got != "parser.syslog_rfc5424" {
		t.Fatalf("ID() = %q", got)
	}
}

func TestParser_Parse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		outcome int
		errHas  string // substring of the error, for malformed records
		ts      time.Time
		want    map[string]any
	}{
		{
			name: "rfc example 1 with BOM and NILVALUE procid and SD",
			in:   "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
			ts:   time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(34), "log.syslog.facility.code": i64(4), "log.syslog.severity.code": i64(2),
				"log.syslog.version": i64(1), "host.name": "mymachine.example.com",
				"log.syslog.appname": "su", "process.name": "su", "log.syslog.msgid": "ID47",
				"message": "'su root' failed for lonvick on /dev/pts/8",
			},
		},
		{
			name: "rfc example 2 with microseconds and negative offset",
			in:   "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
			ts:   time.Date(2003, 8, 24, 12, 14, 15, 3000, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(165), "log.syslog.facility.code": i64(20), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "192.0.2.1",
				"log.syslog.appname": "myproc", "process.name": "myproc", "process.pid": i64(8710),
				"message": "%% It's time to make the do-nuts.",
			},
		},
		{
			name: "rfc example 3 with SD and BOM message",
			in: "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 " +
				`[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` +
				"\xEF\xBB\xBFAn application event log entry...",
			ts: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(165), "log.syslog.facility.code": i64(20), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "mymachine.example.com",
				"log.syslog.appname": "evntslog", "process.name": "evntslog", "log.syslog.msgid": "ID47",
				"log.syslog.structured_data.exampleSDID@32473.iut":         "3",
				"log.syslog.structured_data.exampleSDID@32473.eventSource": "Application",
				"log.syslog.structured_data.exampleSDID@32473.eventID":     "1011",
				"message": "An application event log entry...",
			},
		},
		{
			name: "rfc example 4 with two SD elements and no MSG",
			in: "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 " +
				`[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
			ts: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(165), "log.syslog.facility.code": i64(20), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "mymachine.example.com",
				"log.syslog.appname": "evntslog", "process.name": "evntslog", "log.syslog.msgid": "ID47",
				"log.syslog.structured_data.exampleSDID@32473.iut":         "3",
				"log.syslog.structured_data.exampleSDID@32473.eventSource": "Application",
				"log.syslog.structured_data.exampleSDID@32473.eventID":     "1011",
				"log.syslog.structured_data.examplePriority@32473.class":   "high",
			},
		},
		{
			name: "all NILVALUEs",
			in:   "<0>1 - - - - - -",
			want: map[string]any{
				"log.syslog.priority": i64(0), "log.syslog.facility.code": i64(0), "log.syslog.severity.code": i64(0),
				"log.syslog.version": i64(1),
			},
		},
		{
			name: "all NILVALUEs with message",
			in:   "<191>1 - - - - - - hello",
			want: map[string]any{
				"log.syslog.priority": i64(191), "log.syslog.facility.code": i64(23), "log.syslog.severity.code": i64(7),
				"log.syslog.version": i64(1), "message": "hello",
			},
		},
		{
			name: "empty message after SD space",
			in:   "<13>1 2024-01-12T10:00:01Z h a 1 m - ",
			ts:   time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "h", "log.syslog.appname": "a", "process.name": "a",
				"process.pid": i64(1), "log.syslog.msgid": "m",
			},
		},
		{
			name: "escapes in SD values and non-numeric procid",
			in:   `<86>1 2024-02-29T23:59:59.999999999+05:30 web01 nginx worker-3 ACCESS [req@1 path="/a\"b\\c\]d" raw="x\ny"] GET /`,
			ts:   time.Date(2024, 2, 29, 18, 29, 59, 999999999, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(86), "log.syslog.facility.code": i64(10), "log.syslog.severity.code": i64(6),
				"log.syslog.version": i64(1), "host.name": "web01", "log.syslog.appname": "nginx", "process.name": "nginx",
				"log.syslog.msgid":                      "ACCESS",
				"log.syslog.structured_data.req@1.path": `/a"b\c]d`,
				"log.syslog.structured_data.req@1.raw":  `x\ny`,
				"message":                               "GET /",
			},
		},
		{
			name: "empty SD value and SD element without params",
			in:   `<14>1 2024-01-12T10:00:01+00:00 h app - - [timeQuality tzKnown="1" isSynced=""][empty] msg`,
			ts:   time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(14), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(6),
				"log.syslog.version": i64(1), "host.name": "h", "log.syslog.appname": "app", "process.name": "app",
				"log.syslog.structured_data.timeQuality.tzKnown": "1",
				"message": "msg",
			},
		},
		{
			name: "pfsense filterlog with trailing CRLF and spaces trimmed",
			in:   "<134>1 2025-11-06T11:32:42.868451+00:00 firewall.lan filterlog 92653 - - 7,,,1000000102,vtnet0.5,match,block,in \t\r\n",
			ts:   time.Date(2025, 11, 6, 11, 32, 42, 868451000, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(134), "log.syslog.facility.code": i64(16), "log.syslog.severity.code": i64(6),
				"log.syslog.version": i64(1), "host.name": "firewall.lan", "log.syslog.appname": "filterlog",
				"process.name": "filterlog", "process.pid": i64(92653),
				"message": "7,,,1000000102,vtnet0.5,match,block,in",
			},
		},
		{
			name: "lower-case t and z accepted, double spaces tolerated",
			in:   "<13>1 2024-01-12t10:00:01z  host  app  -  -  -  two  spaces",
			ts:   time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"message": " two  spaces",
			},
		},
		{
			name: "tabs between header fields",
			in:   "<13>1 -\thost\tapp\t-\t-\t-\tmsg",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"message": "msg",
			},
		},
		{
			name: "tab inside message kept",
			in:   "<13>1 - host app - - - a\tb",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"message": "a\tb",
			},
		},

		// Not RFC 5424 at all.
		{name: "empty", in: "", outcome: notMatched, want: map[string]any{}},
		{name: "bsd syslog", in: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed", outcome: notMatched, want: map[string]any{}},
		{name: "no pri", in: "1 2003-10-11T22:14:15.003Z host app - - -", outcome: notMatched, want: map[string]any{}},
		{name: "version zero", in: "<34>0 - - - - - -", outcome: notMatched, want: map[string]any{}},
		{name: "pri not numeric", in: "<ab>1 - - - - - -", outcome: notMatched, want: map[string]any{}},
		{name: "bad pri without version", in: "<999>Oct 11 22:14:15 h x", outcome: notMatched, want: map[string]any{}},

		// RFC 5424 header, malformed later.
		{
			name: "pri out of range", in: "<192>1 - - - - - - x", outcome: malformed, errHas: "192 out of range",
			want: map[string]any{"message": "<192>1 - - - - - - x"},
		},
		{
			name: "pri with four digits", in: "<0013>1 - - - - - -", outcome: malformed, errHas: "more than 3 digits",
			want: map[string]any{"message": "<0013>1 - - - - - -"},
		},
		{
			name: "unsupported version", in: "<13>2 - - - - - - x", outcome: malformed, errHas: "unsupported version 2",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(2), "message": "2 - - - - - - x",
			},
		},
		{
			name: "bad month", in: "<13>1 2024-13-12T10:00:01Z host app - - - msg", outcome: malformed, errHas: "byte 6: month 13",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "message": "2024-13-12T10:00:01Z host app - - - msg",
			},
		},
		{
			name: "feb 29 in a common year", in: "<13>1 2023-02-29T10:00:01Z host app - - -", outcome: malformed, errHas: "day 29",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "message": "2023-02-29T10:00:01Z host app - - -",
			},
		},
		{
			name: "missing offset", in: "<13>1 2024-01-12T10:00:01 host app - - - msg", outcome: malformed, errHas: "byte 25: missing offset",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "message": "2024-01-12T10:00:01 host app - - - msg",
			},
		},
		{
			name: "bsd timestamp after version", in: "<13>1 Oct 11 22:14:15 host app: msg", outcome: malformed, errHas: "expected YYYY-MM-DD",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "message": "Oct 11 22:14:15 host app: msg",
			},
		},
		{
			name: "missing header fields", in: "<13>1 2024-01-12T10:00:01Z host app", outcome: malformed, errHas: "procid at byte 35: missing",
			ts: time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
			},
		},
		{
			name: "missing SD", in: "<13>1 2024-01-12T10:00:01Z host app 12 ID1", outcome: malformed, errHas: "structured data at byte 42: missing",
			ts: time.Date(2024, 1, 12, 10, 0, 1, 0, time.UTC),
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"process.pid": i64(12), "log.syslog.msgid": "ID1",
			},
		},
		{
			name: "message where SD should be", in: "<13>1 - host app 12 ID1 hello world", outcome: malformed, errHas: "byte 24: expected '-' or '['",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"process.pid": i64(12), "log.syslog.msgid": "ID1", "message": "hello world",
			},
		},
		{
			name: "unterminated SD value", in: `<13>1 - host app - - [a@1 k="v] rest of line`, outcome: malformed, errHas: `byte 29: unterminated value of "k"`,
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"message": `[a@1 k="v] rest of line`,
			},
		},
		{
			name: "unterminated SD element keeps earlier params", in: `<13>1 - host app - - [a@1 k="v" j="w"`, outcome: malformed, errHas: `unterminated element "a@1"`,
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"log.syslog.structured_data.a@1.k": "v", "log.syslog.structured_data.a@1.j": "w",
				"message": `[a@1 k="v" j="w"`,
			},
		},
		{
			name: "unquoted SD value", in: `<13>1 - host app - - [a@1 k=v] msg`, outcome: malformed, errHas: `byte 27: expected =" after "k"`,
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"message": `[a@1 k=v] msg`,
			},
		},
		{
			name: "empty SD-ID", in: `<13>1 - host app - - [] msg`, outcome: malformed, errHas: "empty SD-ID",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"message": `[] msg`,
			},
		},
		{
			name: "no space between SD and MSG", in: `<13>1 - host app - - [a@1 k="v"]msg`, outcome: malformed, errHas: "expected space before message",
			want: map[string]any{
				"log.syslog.priority": i64(13), "log.syslog.facility.code": i64(1), "log.syslog.severity.code": i64(5),
				"log.syslog.version": i64(1), "host.name": "host", "log.syslog.appname": "app", "process.name": "app",
				"log.syslog.structured_data.a@1.k": "v",
				"message":                          `[a@1 k="v"]msg`,
			},
		},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev sdk.Event
			err := p.Parse([]byte(tt.in), &ev)
			switch tt.outcome {
			case ok:
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
			case notMatched:
				if !errors.Is(err, sdk.ErrNotMatched) {
					t.Fatalf("Parse error = %v, want ErrNotMatched", err)
				}
			case malformed:
				if err == nil || errors.Is(err, sdk.ErrNotMatched) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Parse error = %v, want malformed containing %q", err, tt.errHas)
				}
				if !strings.HasPrefix(err.Error(), "rfc5424: ") {
					t.Errorf("error %q lacks the rfc5424 prefix", err)
				}
			}
			if ev.Original != tt.in {
				t.Errorf("Original = %q, want %q", ev.Original, tt.in)
			}
			if !ev.Timestamp.Equal(tt.ts) || (!tt.ts.IsZero() && ev.Timestamp.Location() != time.UTC) {
				t.Errorf("Timestamp = %v, want %v in UTC", ev.Timestamp, tt.ts)
			}
			if got := parsertest.Fields(t, &ev); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields:\n got %#v\nwant %#v", got, tt.want)
			}
			if err := parsertest.Check([]byte(tt.in), &ev, err); err != nil {
				t.Errorf("invariant: %v", err)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	for in, want := range map[string]bool{
		"<34>1 x":          true,
		"<0>1 ":            true,
		"<191>1 -":         true,
		"<999>1 -":         true, // range is checked by Parse
		"<34>1":            false,
		"<34>11 x":         false,
		"<34>Oct 11":       false,
		"<>1 x":            false,
		"34>1 x":           false,
		"<12345>1 x":       false,
		"":                 false,
		"Jan 12 10:00:01 ": false,
	} {
		if got := Match([]byte(in)); got != want {
			t.Errorf("Match(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestParser_ReuseEvent checks that a reset event carries nothing over and
// that cached SD keys give the same result on the second parse.
func TestParser_ReuseEvent(t *testing.T) {
	p := New()
	in := []byte(`<165>1 2003-10-11T22:14:15.003Z host app - ID47 [x@1 a="1"] m`)
	var ev sdk.Event
	if err := p.Parse(in, &ev); err != nil {
		t.Fatal(err)
	}
	first := parsertest.Fields(t, &ev)
	ev.Reset()
	if err := p.Parse(in, &ev); err != nil {
		t.Fatal(err)
	}
	if second := parsertest.Fields(t, &ev); !reflect.DeepEqual(first, second) {
		t.Fatalf("second parse %v differs from first %v", second, first)
	}
	if len(p.keys) != 1 {
		t.Fatalf("key cache holds %d keys, want 1", len(p.keys))
	}
}

// TestParser_KeyCacheBounded checks that an attacker sending ever-new SD keys
// cannot grow the cache without bound.
func TestParser_KeyCacheBounded(t *testing.T) {
	p := New()
	var ev sdk.Event
	for i := 0; i < maxKeyCache+10; i++ {
		ev.Reset()
		in := `<13>1 - h a - - [id ` + keyName(i) + `="v"]`
		if err := p.Parse([]byte(in), &ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.keys) != maxKeyCache {
		t.Fatalf("key cache holds %d keys, want %d", len(p.keys), maxKeyCache)
	}
	if f, ok := ev.Get("log.syslog.structured_data.id." + keyName(maxKeyCache+9)); !ok || f.Str != "v" {
		t.Fatalf("key beyond the cache bound not set: %v", ev.Fields)
	}
}

func keyName(i int) string { return "k" + strings.Repeat("x", i%7) + "_" + itoa(i) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestParser_Allocs(t *testing.T) {
	p := New()
	in := []byte(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event log entry`)
	ev := sdk.Event{Fields: make([]sdk.Field, 0, 16)}
	_ = p.Parse(in, &ev) // warm the SD key cache
	allocs := testing.AllocsPerRun(100, func() {
		ev.Reset()
		if err := p.Parse(in, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Fatalf("Parse allocates %v times per record, want 1 (the Original string)", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"plain", "<134>1 2025-11-06T11:32:42.868451+00:00 firewall.lan filterlog 92653 - - 7,,,1000000102,vtnet0.5,match,block,in,4,0x0,,64,19008,0,DF,6,tcp,60,192.168.5.6,192.168.1.100,42970,80,0,S"},
		{"sd", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := New()
			in := []byte(bc.in)
			ev := sdk.Event{Fields: make([]sdk.Field, 0, 16)}
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				ev.Reset()
				if err := p.Parse(in, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
