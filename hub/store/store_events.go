package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/vigil-sec/vigil/protocol/agentpb"
)

// tsBytes encodes a signed time so that byte order is numeric order.
func tsBytes(dst []byte, ts int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ts)^(1<<63))
}

// eventSuffix encodes (ts, agent, epoch, seq) so that byte order is the
// order of events: the suffix of chunk keys (with the chunk's first event
// time and seq) and the form of query cursors.
func eventSuffix(dst []byte, ts int64, agent string, epoch, seq uint64) []byte {
	dst = tsBytes(dst, ts)
	dst = append(dst, agent...)
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint64(dst, epoch)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// EventQuery selects events. Zero fields do not restrict.
type EventQuery struct {
	From, To int64 // event time range [From, To) in Unix nanoseconds; 0 = open
	Branch   string
	Agent    string
	// Fields are equality filters on event fields (ECS names), plus "input",
	// "parser" and "event.original".
	Fields map[string]string
	Limit  int    // at most this many events; default 100, maximum 10 000
	Cursor string // from a previous result's Next
	// MaxScan bounds the events examined by one query (default 200 000):
	// events in the time range, of the agent or branch asked for, whether
	// the field filters keep them or not. When reached, the result is
	// partial and Next resumes the scan.
	MaxScan int
}

// StoredEvent is one event as kept by the hub.
type StoredEvent struct {
	Timestamp int64
	AgentID   string
	Epoch     uint64
	Seq       uint64
	Event     *agentpb.Event
}

// EventResult is one page of a query.
type EventResult struct {
	Events []StoredEvent
	// Next resumes the query after the last examined event; empty at the
	// end. It is opaque (hex).
	Next    string
	Scanned int
	// Undecodable counts stored events that did not decode; they are
	// returned as placeholders tagged "undecodable".
	Undecodable int
}

func parseSuffix(b []byte) (ts int64, agent string, epoch, seq uint64, ok bool) {
	if len(b) < 8+1+16 {
		return 0, "", 0, 0, false
	}
	ts = int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	rest := b[8:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 || len(rest)-i-1 != 16 {
		return 0, "", 0, 0, false
	}
	agent = string(rest[:i])
	epoch = binary.BigEndian.Uint64(rest[i+1:])
	seq = binary.BigEndian.Uint64(rest[i+9:])
	return ts, agent, epoch, seq, true
}

// sortedFilters turns the field filters into a list in key order, so that no
// code of this package ranges over a map (see hub/fsm's determinism lint).
func sortedFilters(want map[string]string) [][2]string {
	keys := slices.Sorted(maps.Keys(want))
	out := make([][2]string, len(keys))
	for i, k := range keys {
		out[i] = [2]string{k, want[k]}
	}
	return out
}

func matches(ev *agentpb.Event, want [][2]string) bool {
	for _, kv := range want {
		if !fieldEquals(ev, kv[0], kv[1]) {
			return false
		}
	}
	return true
}

func fieldEquals(ev *agentpb.Event, key, want string) bool {
	switch key {
	case "input", "input.type":
		return ev.Input == want
	case "parser":
		return ev.Parser == want
	case "event.original":
		return ev.Original == want
	case "tags":
		for _, t := range ev.Tags {
			if t == want {
				return true
			}
		}
		return false
	}
	for _, f := range ev.Fields {
		if f.Key != key {
			continue
		}
		switch v := f.Value.(type) {
		case *agentpb.Field_Str:
			return v.Str == want
		case *agentpb.Field_Int:
			return fmt.Sprint(v.Int) == want
		case *agentpb.Field_Float:
			return fmt.Sprint(v.Float) == want
		case *agentpb.Field_Bool:
			return fmt.Sprint(v.Bool) == want
		}
	}
	return false
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
