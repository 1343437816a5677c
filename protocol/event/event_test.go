package event

import (
	"testing"

	"github.com/vigil-sec/vigil/protocol/agentpb"
	"google.golang.org/protobuf/proto"
)

func TestEncode_MatchesProto(t *testing.T) {
	var e Encoder
	e.Begin(1700000000123456789, 1700000001000000000, "syslog_udp", "parser.syslog", "<34>Oct 11 22:14:15 mymachine su: 'su root' failed")
	e.String("host.name", "mymachine")
	e.String("empty", "")
	e.Int("process.pid", -42)
	e.Int("log.syslog.severity.code", 2)
	e.Float("x.ratio", 0.25)
	e.Bool("x.flag", true)
	e.Tag("truncated")
	var got agentpb.Event
	if err := proto.Unmarshal(e.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := &agentpb.Event{
		TimestampUnixNano: 1700000000123456789,
		CreatedUnixNano:   1700000001000000000,
		Input:             "syslog_udp",
		Parser:            "parser.syslog",
		Original:          "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
		Fields: []*agentpb.Field{
			{Key: "host.name", Value: &agentpb.Field_Str{Str: "mymachine"}},
			{Key: "empty", Value: &agentpb.Field_Str{Str: ""}},
			{Key: "process.pid", Value: &agentpb.Field_Int{Int: -42}},
			{Key: "log.syslog.severity.code", Value: &agentpb.Field_Int{Int: 2}},
			{Key: "x.ratio", Value: &agentpb.Field_Float{Float: 0.25}},
			{Key: "x.flag", Value: &agentpb.Field_Bool{Bool: true}},
		},
		Tags: []string{"truncated"},
	}
	if !proto.Equal(want, &got) {
		t.Fatalf("decoded %v\nwant %v", &got, want)
	}
	ts, err := Timestamp(e.Bytes())
	if err != nil || ts != 1700000000123456789 {
		t.Fatalf("Timestamp = %d, %v", ts, err)
	}
	// The proto encoder's output must also be readable by the fast path.
	b, _ := proto.Marshal(want)
	if ts, err := Timestamp(b); err != nil || ts != want.TimestampUnixNano {
		t.Fatalf("Timestamp(proto) = %d, %v", ts, err)
	}
}

func TestRecords_RoundTrip(t *testing.T) {
	var p []byte
	recs := []string{"a", "", "hello world", string(make([]byte, 300))}
	for _, r := range recs {
		p = AppendRecord(p, []byte(r))
	}
	var got []string
	err := SplitRecords(p, func(i int, rec []byte) error { got = append(got, string(rec)); return nil })
	if err != nil || len(got) != len(recs) {
		t.Fatalf("split: %v %d", err, len(got))
	}
	for i := range recs {
		if got[i] != recs[i] {
			t.Fatalf("record %d differs", i)
		}
	}
	if err := SplitRecords(p[:len(p)-1], func(int, []byte) error { return nil }); err == nil {
		t.Fatal("truncated payload accepted")
	}
}

func FuzzSplitRecords(f *testing.F) {
	f.Add(AppendRecord(AppendRecord(nil, []byte("abc")), []byte{8, 1}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, p []byte) {
		total := 0
		_ = SplitRecords(p, func(_ int, rec []byte) error {
			total += len(rec)
			_, _ = Timestamp(rec)
			return nil
		})
		if total > len(p) {
			t.Fatalf("records longer than payload")
		}
	})
}
