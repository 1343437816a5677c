package api

import (
	"testing"

	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/agentpb"
)

func TestRenderEvent_ParseErrorShowsOriginalAsMessage(t *testing.T) {
	ev := store.StoredEvent{Timestamp: 1, AgentID: "a", Epoch: 1, Seq: 2, Event: &agentpb.Event{
		Original: "not syslog", Tags: []string{"parse_error"},
		Fields: []*agentpb.Field{{Key: "event.parse_error", Value: &agentpb.Field_Str{Str: "bad"}}},
	}}
	m := RenderEvent(ev, "b")
	if m["message"] != "not syslog" || m["event.original"] != "not syslog" || m["event.parse_error"] != "bad" || m["vigil.branch"] != "b" {
		t.Fatalf("rendered %v", m)
	}
	// A parsed event keeps its own message.
	ev.Event = &agentpb.Event{Original: "<13>x y: z", Fields: []*agentpb.Field{{Key: "message", Value: &agentpb.Field_Str{Str: "z"}}}}
	if m := RenderEvent(ev, "b"); m["message"] != "z" {
		t.Fatalf("message = %v", m["message"])
	}
	// Bytes that are not UTF-8 are shown with replacement characters.
	ev.Event = &agentpb.Event{OriginalBytes: []byte{'a', 0xff, 'b'}, Tags: []string{"invalid_utf8"}}
	if m := RenderEvent(ev, "b"); m["event.original"] != "a\uFFFDb" {
		t.Fatalf("event.original = %q", m["event.original"])
	}
}
