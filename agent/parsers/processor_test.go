package parsers_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/agent/parsers"
	"github.com/vigil-sec/vigil/plugins/builtin/raw"
	"github.com/vigil-sec/vigil/plugins/builtin/rfc3164"
	"github.com/vigil-sec/vigil/plugins/builtin/rfc5424"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"google.golang.org/protobuf/proto"
)

// fixedNow anchors the year rfc3164 infers for year-less timestamps.
var fixedNow = time.Date(2024, time.March, 1, 12, 0, 0, 0, time.UTC)

func newRFC3164(maxLine int) *parsers.Processor {
	p := rfc3164.New(rfc3164.Options{Now: func() time.Time { return fixedNow }})
	return parsers.NewProcessor("syslog_udp", p, maxLine)
}

// decode unmarshals one encoded event with the generated code, so the test
// checks the hand-written encoder against the real wire format.
func decode(t *testing.T, b []byte) *agentpb.Event {
	t.Helper()
	ev := &agentpb.Event{}
	if err := proto.Unmarshal(b, ev); err != nil {
		t.Fatalf("proto.Unmarshal: %v (bytes %x)", err, b)
	}
	return ev
}

// fieldMap flattens the event's fields; a repeated key fails the test.
func fieldMap(t *testing.T, ev *agentpb.Event) map[string]any {
	t.Helper()
	m := map[string]any{}
	for _, f := range ev.Fields {
		if _, dup := m[f.Key]; dup {
			t.Errorf("field %q set twice", f.Key)
		}
		switch v := f.Value.(type) {
		case *agentpb.Field_Str:
			m[f.Key] = v.Str
		case *agentpb.Field_Int:
			m[f.Key] = v.Int
		case *agentpb.Field_Float:
			m[f.Key] = v.Float
		case *agentpb.Field_Bool:
			m[f.Key] = v.Bool
		default:
			t.Errorf("field %q has no value", f.Key)
		}
	}
	return m
}

func assertFields(t *testing.T, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("field %q missing (fields %v)", k, got)
		} else if g != w {
			t.Errorf("field %q = %#v, want %#v", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %q = %#v", k, got[k])
		}
	}
}

func TestProcessor_RFC3164Line(t *testing.T) {
	proc := newRFC3164(0)
	line := "<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8"
	received := time.Date(2024, time.March, 1, 12, 0, 0, 500, time.UTC)

	ev := decode(t, proc.Process([]byte(line), received))

	wantTS := time.Date(2023, time.October, 11, 22, 14, 15, 0, time.UTC)
	if got := time.Unix(0, ev.TimestampUnixNano).UTC(); !got.Equal(wantTS) {
		t.Errorf("timestamp = %v, want %v", got, wantTS)
	}
	if ev.CreatedUnixNano != received.Truncate(time.Millisecond).UnixNano() {
		t.Errorf("created = %d, want %d", ev.CreatedUnixNano, received.Truncate(time.Millisecond).UnixNano())
	}
	if ev.Input != "syslog_udp" {
		t.Errorf("input = %q, want syslog_udp", ev.Input)
	}
	if ev.Parser != rfc3164.ID {
		t.Errorf("parser = %q, want %q", ev.Parser, rfc3164.ID)
	}
	if ev.Original != line {
		t.Errorf("original = %q, want %q", ev.Original, line)
	}
	if len(ev.OriginalBytes) != 0 {
		t.Errorf("original_bytes set for a valid record: %q", ev.OriginalBytes)
	}
	if len(ev.Tags) != 0 {
		t.Errorf("tags = %q, want none", ev.Tags)
	}
	assertFields(t, fieldMap(t, ev), map[string]any{
		"log.syslog.priority":      int64(34),
		"log.syslog.facility.code": int64(4),
		"log.syslog.severity.code": int64(2),
		"host.name":                "mymachine",
		"process.name":             "su",
		"process.pid":              int64(123),
		"message":                  "'su root' failed for lonvick on /dev/pts/8",
	})
	if got, want := proc.Stats(), (parsers.Stats{Records: 1}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestProcessor_TruncatesAtRuneBoundary(t *testing.T) {
	const maxLine = 32
	proc := parsers.NewProcessor("in", raw.Parser{}, maxLine)
	// 31 ASCII bytes then a 3-byte rune straddling the limit at byte 32.
	line := strings.Repeat("a", 31) + "€" + strings.Repeat("b", 20)
	ev := decode(t, proc.Process([]byte(line), time.Unix(100, 0)))

	want := strings.Repeat("a", 31)
	if ev.Original != want {
		t.Errorf("original = %q (%d bytes), want %q", ev.Original, len(ev.Original), want)
	}
	if !utf8.ValidString(ev.Original) {
		t.Errorf("original is not valid UTF-8: %q", ev.Original)
	}
	if !slices.Equal(ev.Tags, []string{"truncated"}) {
		t.Errorf("tags = %q, want [truncated]", ev.Tags)
	}
	assertFields(t, fieldMap(t, ev), map[string]any{"message": want})

	// A rune that ends exactly at the limit is kept whole.
	line = strings.Repeat("a", 29) + "€" + "tail"
	ev = decode(t, proc.Process([]byte(line), time.Unix(100, 0)))
	if want := strings.Repeat("a", 29) + "€"; ev.Original != want {
		t.Errorf("original = %q, want %q", ev.Original, want)
	}

	// A record exactly at the limit is not truncated.
	line = strings.Repeat("x", maxLine)
	ev = decode(t, proc.Process([]byte(line), time.Unix(100, 0)))
	if ev.Original != line || len(ev.Tags) != 0 {
		t.Errorf("record at the limit: original %d bytes, tags %q; want %d bytes, no tags", len(ev.Original), ev.Tags, maxLine)
	}

	if got, want := proc.Stats(), (parsers.Stats{Records: 3, Truncated: 2}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestProcessor_InvalidUTF8KeptByteExact(t *testing.T) {
	proc := newRFC3164(0)
	line := []byte("<13>Mar  1 10:00:00 host app: caf\xe9 \xff\xfe end")
	received := time.Unix(1700000000, 0)

	enc := proc.Process(line, received)
	ev := decode(t, enc) // must decode despite the invalid input

	if ev.Original != "" {
		t.Errorf("original = %q, want empty for invalid UTF-8", ev.Original)
	}
	if !bytes.Equal(ev.OriginalBytes, line) {
		t.Errorf("original_bytes = %q, want %q", ev.OriginalBytes, line)
	}
	if !slices.Equal(ev.Tags, []string{"invalid_utf8"}) {
		t.Errorf("tags = %q, want [invalid_utf8]", ev.Tags)
	}
	for _, f := range ev.Fields {
		if s, ok := f.Value.(*agentpb.Field_Str); ok && !utf8.ValidString(s.Str) {
			t.Errorf("field %q is not valid UTF-8: %q", f.Key, s.Str)
		}
	}
	got := fieldMap(t, ev)
	if got["message"] != "caf\uFFFD \uFFFD end" {
		t.Errorf("message = %q, want %q", got["message"], "caf\uFFFD \uFFFD end")
	}
	if got["host.name"] != "host" || got["process.name"] != "app" {
		t.Errorf("host.name = %v, process.name = %v; want host, app", got["host.name"], got["process.name"])
	}
	if got, want := proc.Stats(), (parsers.Stats{Records: 1, InvalidUTF8: 1}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestProcessor_InvalidUTF8Truncated(t *testing.T) {
	proc := parsers.NewProcessor("in", raw.Parser{}, 8)
	line := []byte("abc\xffdefghijkl")
	ev := decode(t, proc.Process(line, time.Unix(1, 0)))
	// Invalid records are cut at exactly the limit: there is no rune boundary to keep.
	if !bytes.Equal(ev.OriginalBytes, line[:8]) {
		t.Errorf("original_bytes = %q, want %q", ev.OriginalBytes, line[:8])
	}
	if !slices.Equal(ev.Tags, []string{"truncated", "invalid_utf8"}) {
		t.Errorf("tags = %q, want [truncated invalid_utf8]", ev.Tags)
	}
	if got, want := proc.Stats(), (parsers.Stats{Records: 1, Truncated: 1, InvalidUTF8: 1}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestProcessor_ParseErrorKeepsRecord(t *testing.T) {
	proc := newRFC3164(0)
	line := "this is not syslog at all"
	received := time.Date(2024, time.February, 3, 4, 5, 6, 7, time.UTC)

	ev := decode(t, proc.Process([]byte(line), received))

	if !slices.Equal(ev.Tags, []string{"parse_error"}) {
		t.Errorf("tags = %q, want [parse_error]", ev.Tags)
	}
	if ev.Original != line {
		t.Errorf("original = %q, want %q", ev.Original, line)
	}
	got := fieldMap(t, ev)
	// The raw record stays only in event.original (the hub shows it as the
	// message); it is not stored twice.
	if _, dup := got["message"]; dup {
		t.Errorf("message = %q: the raw line is stored twice", got["message"])
	}
	perr, _ := got["event.parse_error"].(string)
	if !strings.Contains(perr, "rfc3164") {
		t.Errorf("event.parse_error = %q, want the parser's error", perr)
	}
	if len(got) != 1 {
		t.Errorf("fields = %v, want only event.parse_error", got)
	}
	// No timestamp in the record: @timestamp is the receive time.
	if ev.TimestampUnixNano != received.Truncate(time.Millisecond).UnixNano() || ev.CreatedUnixNano != received.Truncate(time.Millisecond).UnixNano() {
		t.Errorf("timestamp/created = %d/%d, want both %d", ev.TimestampUnixNano, ev.CreatedUnixNano, received.Truncate(time.Millisecond).UnixNano())
	}
	if got, want := proc.Stats(), (parsers.Stats{Records: 1, ParseErrors: 1}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestProcessor_ParseErrorKeepsParserMessage(t *testing.T) {
	// A timestamp-shaped prefix that does not parse: the parser keeps the
	// rest in message, which the processor must not overwrite.
	proc := newRFC3164(0)
	line := "<13>Jan 12 25:00:00 host app: hello"
	ev := decode(t, proc.Process([]byte(line), time.Unix(5, 0)))
	got := fieldMap(t, ev)
	if got["message"] != "Jan 12 25:00:00 host app: hello" {
		t.Errorf("message = %q, want the parser's message from the timestamp on", got["message"])
	}
	if _, ok := got["event.parse_error"]; !ok {
		t.Errorf("event.parse_error not set: %v", got)
	}
	if got["log.syslog.priority"] != int64(13) {
		t.Errorf("log.syslog.priority = %v, want 13", got["log.syslog.priority"])
	}
	if !slices.Equal(ev.Tags, []string{"parse_error"}) {
		t.Errorf("tags = %q, want [parse_error]", ev.Tags)
	}
	if ev.TimestampUnixNano != time.Unix(5, 0).UnixNano() {
		t.Errorf("timestamp = %d, want the receive time", ev.TimestampUnixNano)
	}
}

func TestProcessor_NoTimestampUsesReceiveTime(t *testing.T) {
	proc := parsers.NewProcessor("files", raw.Parser{}, 0)
	received := time.Date(2025, time.May, 6, 7, 8, 9, 10, time.UTC)
	ev := decode(t, proc.Process([]byte("plain line"), received))
	if ev.TimestampUnixNano != received.Truncate(time.Millisecond).UnixNano() {
		t.Errorf("timestamp = %d, want receive time %d", ev.TimestampUnixNano, received.Truncate(time.Millisecond).UnixNano())
	}
	if ev.Parser != raw.ID || ev.Input != "files" || ev.Original != "plain line" {
		t.Errorf("parser/input/original = %q/%q/%q", ev.Parser, ev.Input, ev.Original)
	}
	assertFields(t, fieldMap(t, ev), map[string]any{"message": "plain line"})
}

func TestProcessor_StatsAccumulate(t *testing.T) {
	proc := parsers.NewProcessor("in", rfc5424.New(), 60)
	long := "<165>1 2003-10-11T22:14:15Z h a - - - " + strings.Repeat("x", 40)
	inputs := [][]byte{
		[]byte(long), // valid, over 60 bytes: truncated inside MSG
		[]byte("<165>1 2003-10-11T22:14:15Z h a - - - x"), // valid
		[]byte("garbage"), // parse error
		[]byte("<165>1 2003-10-11T22:14:15Z h a - - - \xff"),          // invalid UTF-8
		append([]byte("junk \xff"), bytes.Repeat([]byte("z"), 70)...), // all three
	}
	var tags [][]string
	for _, in := range inputs {
		tags = append(tags, decode(t, proc.Process(in, time.Unix(1, 0))).Tags)
	}
	wantTags := [][]string{
		{"truncated"},
		nil,
		{"parse_error"},
		{"invalid_utf8"},
		{"parse_error", "truncated", "invalid_utf8"},
	}
	for i := range wantTags {
		if !slices.Equal(tags[i], wantTags[i]) {
			t.Errorf("record %d: tags = %q, want %q", i, tags[i], wantTags[i])
		}
	}
	want := parsers.Stats{Records: 5, Truncated: 2, InvalidUTF8: 2, ParseErrors: 2}
	if got := proc.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestProcessor_DefaultMaxLine(t *testing.T) {
	proc := parsers.NewProcessor("in", raw.Parser{}, 0)
	line := bytes.Repeat([]byte("q"), parsers.DefaultMaxLine+10)
	ev := decode(t, proc.Process(line, time.Unix(1, 0)))
	if len(ev.Original) != parsers.DefaultMaxLine {
		t.Errorf("original is %d bytes, want %d", len(ev.Original), parsers.DefaultMaxLine)
	}
	if !slices.Equal(ev.Tags, []string{"truncated"}) {
		t.Errorf("tags = %q, want [truncated]", ev.Tags)
	}
}
