package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/cockroachdb/pebble"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"google.golang.org/protobuf/proto"
)

var (
	eventPrimary = []byte("et")
	eventBranch  = []byte("eb")
	eventAgent   = []byte("ea")
)

// tsBytes encodes a signed time so that byte order is numeric order.
func tsBytes(dst []byte, ts int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ts)^(1<<63))
}

// eventSuffix is the part shared by the primary key and both indexes.
func eventSuffix(dst []byte, ts int64, agent string, epoch, seq uint64) []byte {
	dst = tsBytes(dst, ts)
	dst = append(dst, agent...)
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint64(dst, epoch)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// PutEvent stores one event with its branch and agent index entries.
func (b *Batch) PutEvent(ts int64, agent, branch string, epoch, seq uint64, data []byte) error {
	var kb [160]byte
	suffix := eventSuffix(kb[:0], ts, agent, epoch, seq)
	var key []byte
	if n := len(suffix); n <= len(kb) { // else suffix did not fit in kb
		key = kb[n:n]
	}
	key = append(append(key, eventPrimary...), suffix...)
	if err := b.b.Set(key, data, nil); err != nil {
		return fmt.Errorf("put event: %w", err)
	}
	key = append(append(append(append(key[:0], eventBranch...), branch...), 0), suffix...)
	if err := b.b.Set(key, nil, nil); err != nil {
		return fmt.Errorf("put event branch index: %w", err)
	}
	key = append(append(append(append(key[:0], eventAgent...), agent...), 0), suffix...)
	if err := b.b.Set(key, nil, nil); err != nil {
		return fmt.Errorf("put event agent index: %w", err)
	}
	return nil
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
	// MaxScan bounds the entries examined by one query (default 200 000);
	// when reached, the result is partial and Next resumes the scan.
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
	// Next resumes the query after the last examined entry; empty at the end.
	Next    string
	Scanned int
	// Undecodable counts stored events that did not decode; they are
	// returned as placeholders tagged "undecodable".
	Undecodable int
}

// Events runs a query. Results come in event-time order.
func (s *Store) Events(q EventQuery) (EventResult, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.Limit > 10000 {
		q.Limit = 10000
	}
	if q.MaxScan <= 0 {
		q.MaxScan = 200000
	}
	var prefix []byte
	switch {
	case q.Agent != "":
		prefix = append(append(append([]byte(nil), eventAgent...), q.Agent...), 0)
	case q.Branch != "":
		prefix = append(append(append([]byte(nil), eventBranch...), q.Branch...), 0)
	default:
		prefix = append([]byte(nil), eventPrimary...)
	}
	primary := bytes.Equal(prefix, eventPrimary)
	lower := append([]byte(nil), prefix...)
	if q.From != 0 {
		lower = tsBytes(lower, q.From)
	}
	if q.Cursor != "" {
		c, err := hex.DecodeString(q.Cursor)
		if err != nil || len(c) < 8+1+16 {
			return EventResult{}, fmt.Errorf("invalid cursor")
		}
		lower = append(append(append([]byte(nil), prefix...), c...), 0)
	}
	upper := append([]byte(nil), prefix...)
	if q.To != 0 {
		upper = tsBytes(upper, q.To)
	} else {
		upper = prefixEnd(upper)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return EventResult{}, fmt.Errorf("query events: %w", err)
	}
	defer it.Close()
	filters := sortedFilters(q.Fields)
	var res EventResult
	var pkey []byte
	var agentBranch = map[string]string{}
	for it.First(); it.Valid(); it.Next() {
		res.Scanned++
		suffix := it.Key()[len(prefix):]
		ts, agent, epoch, seq, ok := parseSuffix(suffix)
		if !ok {
			return res, fmt.Errorf("query events: malformed key")
		}
		if q.Branch != "" && q.Agent != "" {
			br, seen := agentBranch[agent]
			if !seen {
				rec, err := decodeAgent(s.get(agentKey(agent)))
				if err != nil {
					return res, err
				}
				if rec != nil {
					br = rec.Branch
				}
				agentBranch[agent] = br
			}
			if br != q.Branch {
				res.Next = ""
				return res, nil // the agent belongs to another branch: nothing to see
			}
		}
		var data []byte
		if primary {
			data = it.Value()
		} else {
			pkey = append(append(pkey[:0], eventPrimary...), suffix...)
			v, err := s.get(pkey)
			if err != nil {
				return res, err
			}
			if v == nil {
				continue // index without event: a concurrent restore; skip
			}
			data = v
		}
		ev := &agentpb.Event{}
		if err := proto.Unmarshal(data, ev); err != nil {
			// One undecodable event (for example a string that is not UTF-8
			// from a foreign agent) must not make every query over it fail:
			// it is returned as a marked placeholder and counted.
			res.Undecodable++
			ev = &agentpb.Event{Tags: []string{"undecodable"}, OriginalBytes: data, Fields: []*agentpb.Field{
				{Key: "event.parse_error", Value: &agentpb.Field_Str{Str: "stored event does not decode: " + err.Error()}},
			}}
		}
		if matches(ev, filters) {
			res.Events = append(res.Events, StoredEvent{Timestamp: ts, AgentID: agent, Epoch: epoch, Seq: seq, Event: ev})
		}
		if len(res.Events) == q.Limit || res.Scanned == q.MaxScan {
			res.Next = hex.EncodeToString(suffix)
			break
		}
	}
	if err := it.Error(); err != nil {
		return res, fmt.Errorf("query events: %w", err)
	}
	return res, nil
}

// CountEvents counts stored events, per agent.
func (s *Store) CountEvents() (map[string]uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: eventPrimary, UpperBound: prefixEnd(append([]byte(nil), eventPrimary...))})
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	defer it.Close()
	out := map[string]uint64{}
	for it.First(); it.Valid(); it.Next() {
		_, agent, _, _, ok := parseSuffix(it.Key()[len(eventPrimary):])
		if !ok {
			return nil, fmt.Errorf("count events: malformed key")
		}
		out[agent]++
	}
	return out, it.Error()
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
