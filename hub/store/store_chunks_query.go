package store

import (
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"google.golang.org/protobuf/proto"
)

// maxQueryBytes bounds the decoded chunk data one query holds at once
// (invariant 4). Only chunks whose time spans overlap are held together, so
// it is reached only when very many chunks overlap one instant; the query
// then returns what it has with a cursor, or fails if it has nothing.
var maxQueryBytes = 64 << 20

// evKey is an event's place in query order: time, agent, epoch, seq.
type evKey struct {
	ts    int64
	agent string
	epoch uint64
	seq   uint64
}

func (a evKey) compare(b evKey) int {
	return cmp.Or(cmp.Compare(a.ts, b.ts), strings.Compare(a.agent, b.agent),
		cmp.Compare(a.epoch, b.epoch), cmp.Compare(a.seq, b.seq))
}

// first is the smallest place any event of the chunk can have.
func (id chunkID) first() evKey { return evKey{id.minTs, id.agent, id.epoch, id.firstSeq} }

// openChunk is a chunk being merged: its selected, not yet examined records
// in (time, seq) order.
type openChunk struct {
	id     chunkID
	suffix []byte
	recs   []chunkRecord
	size   int
}

func (c *openChunk) head() evKey {
	r := &c.recs[0]
	return evKey{r.ts, c.id.agent, c.id.epoch, r.seq}
}

type chunkHeap []*openChunk

func (h chunkHeap) Len() int           { return len(h) }
func (h chunkHeap) Less(i, j int) bool { return h[i].head().compare(h[j].head()) < 0 }
func (h chunkHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *chunkHeap) Push(x any)        { *h = append(*h, x.(*openChunk)) }
func (h *chunkHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return c
}

// splitCursor reads an event place encoded by eventSuffix from the front
// of b and returns the rest.
func splitCursor(b []byte) (evKey, []byte, bool) {
	if len(b) < 8+1+16 {
		return evKey{}, nil, false
	}
	i := bytes.IndexByte(b[8:], 0)
	if i < 0 || len(b) < 8+i+1+16 {
		return evKey{}, nil, false
	}
	k := evKey{
		ts:    int64(binary.BigEndian.Uint64(b) ^ (1 << 63)),
		agent: string(b[8 : 8+i]),
		epoch: binary.BigEndian.Uint64(b[8+i+1:]),
		seq:   binary.BigEndian.Uint64(b[8+i+9:]),
	}
	return k, b[8+i+1+16:], true
}

// encodeCursor makes a query cursor: the last event examined, then the
// chunk suffix from which the next page's index scan starts (the smallest
// chunk that may still hold an event after it), if any.
func encodeCursor(last evKey, resume []byte) string {
	b := eventSuffix(nil, last.ts, last.agent, last.epoch, last.seq)
	return hex.EncodeToString(append(b, resume...))
}

// Events runs a query. Results come in event-time order, ties broken by
// agent, epoch and seq.
//
// The chosen index (agent, branch, or time) lists chunks by their first
// event time; chunks are opened in that order from From-MaxChunkSpan (or
// the cursor's resume point), skipping those that end before the range,
// and their records are merged: a record is examined once it precedes
// every chunk not yet opened.
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
	var after *evKey // the last event examined by the previous page
	var resume []byte
	if q.Cursor != "" {
		c, err := hex.DecodeString(q.Cursor)
		if err != nil {
			return EventResult{}, errors.New("invalid cursor")
		}
		k, rest, ok := splitCursor(c)
		if !ok {
			return EventResult{}, errors.New("invalid cursor")
		}
		if len(rest) > 0 {
			if _, ok := parseChunkID(rest); !ok {
				return EventResult{}, errors.New("invalid cursor")
			}
			resume = rest
		}
		after = &k
	}
	if q.From != 0 && q.To != 0 && q.From >= q.To {
		return EventResult{}, nil
	}
	var prefix []byte
	switch {
	case q.Agent != "":
		prefix = nameKey(nil, chunkAgentPrefix, q.Agent, nil)
	case q.Branch != "":
		prefix = nameKey(nil, chunkBranchPrefix, q.Branch, nil)
	default:
		prefix = slices.Clone(chunkTimePrefix)
	}
	lowTs := int64(math.MinInt64) // no event before this time is wanted
	if q.From != 0 {
		lowTs = q.From
	}
	if after != nil && after.ts > lowTs {
		lowTs = after.ts
	}
	lower := slices.Clone(prefix)
	switch {
	case resume != nil:
		lower = append(lower, resume...)
	case lowTs != math.MinInt64:
		lower = tsBytes(lower, subSpan(lowTs))
	}
	upper := slices.Clone(prefix)
	if q.To != 0 {
		upper = tsBytes(upper, q.To)
	} else {
		upper = prefixEnd(upper)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if q.Branch != "" && q.Agent != "" {
		rec, err := decodeAgent(s.get(agentKey(q.Agent)))
		if err != nil {
			return EventResult{}, err
		}
		if rec == nil || rec.Branch != q.Branch {
			return EventResult{}, nil // the agent belongs to another branch: nothing to see
		}
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return EventResult{}, fmt.Errorf("query events: %w", err)
	}
	defer it.Close()
	// The chunks are read in key order whatever the index: one forward
	// iterator over them costs far less than a Get per chunk.
	chunkUpper := prefixEnd(chunkPrefix)
	if q.To != 0 {
		chunkUpper = tsBytes(slices.Clone(chunkPrefix), q.To)
	}
	chunks, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: append(slices.Clone(chunkPrefix), lower[len(prefix):]...),
		UpperBound: chunkUpper,
	})
	if err != nil {
		return EventResult{}, fmt.Errorf("query events: %w", err)
	}
	defer chunks.Close()
	var chunkKeyBuf []byte

	// keep selects the records of a chunk of (agent, epoch) that the query
	// wants and has not examined yet.
	keep := func(agent string, epoch uint64) func(ts int64, seq uint64) bool {
		ae := 1
		if after != nil {
			ae = cmp.Or(strings.Compare(agent, after.agent), cmp.Compare(epoch, after.epoch))
		}
		return func(ts int64, seq uint64) bool {
			if ts < lowTs || (q.To != 0 && ts >= q.To) {
				return false
			}
			if after != nil && ts == after.ts {
				return ae > 0 || (ae == 0 && seq > after.seq)
			}
			return true
		}
	}

	filters := sortedFilters(q.Fields)
	var res EventResult
	var h chunkHeap
	var last evKey
	held := 0
	// stop ends the page after last, resuming at the smallest chunk that
	// may still hold unexamined events.
	stop := func(next []byte) {
		resume := next
		for _, c := range h {
			if resume == nil || bytes.Compare(c.suffix, resume) < 0 {
				resume = c.suffix
			}
		}
		res.Next = encodeCursor(last, resume)
	}
	valid := it.First()
	for {
		var next chunkID
		var nextSuffix []byte
		if valid {
			nextSuffix = it.Key()[len(prefix):]
			var ok bool
			if next, ok = parseChunkID(nextSuffix); !ok {
				return res, fmt.Errorf("query events: malformed index key")
			}
		}
		// Examine every record that precedes the chunks not opened yet.
		for len(h) > 0 && (!valid || h[0].head().compare(next.first()) < 0) {
			c := h[0]
			r := c.recs[0]
			last = c.head()
			if len(c.recs) == 1 {
				heap.Pop(&h)
				held -= c.size
			} else {
				c.recs = c.recs[1:]
				heap.Fix(&h, 0)
			}
			res.Scanned++
			ev := &agentpb.Event{}
			if err := proto.Unmarshal(r.rec, ev); err != nil {
				// One undecodable event (for example a string that is not
				// UTF-8 from a foreign agent) must not make every query
				// over it fail: it is returned as a marked placeholder.
				res.Undecodable++
				ev = &agentpb.Event{Tags: []string{"undecodable"}, OriginalBytes: r.rec, Fields: []*agentpb.Field{
					{Key: "event.parse_error", Value: &agentpb.Field_Str{Str: "stored event does not decode: " + err.Error()}},
				}}
			}
			if matches(ev, filters) {
				res.Events = append(res.Events, StoredEvent{Timestamp: last.ts, AgentID: last.agent, Epoch: last.epoch, Seq: last.seq, Event: ev})
			}
			if len(res.Events) == q.Limit || res.Scanned == q.MaxScan {
				stop(slices.Clone(nextSuffix))
				return res, nil
			}
		}
		if !valid {
			break
		}
		if held > maxQueryBytes {
			if res.Scanned == 0 {
				return res, fmt.Errorf("query events: more than %d MiB of events overlap in time at %d; narrow the query by agent, branch or time",
					maxQueryBytes>>20, h[0].head().ts)
			}
			stop(slices.Clone(nextSuffix))
			return res, nil
		}
		meta, err := parseChunkMeta(it.Value())
		if err != nil {
			return res, fmt.Errorf("query events: %w", err)
		}
		if meta.maxTs >= lowTs {
			chunkKeyBuf = append(append(chunkKeyBuf[:0], chunkPrefix...), nextSuffix...)
			var value []byte
			if chunks.SeekGE(chunkKeyBuf) && bytes.Equal(chunks.Key(), chunkKeyBuf) {
				value = chunks.Value()
			} else if err := chunks.Error(); err != nil {
				return res, fmt.Errorf("query events: %w", err)
			}
			if value != nil { // else an index entry without its chunk: a concurrent restore
				if len(value) < 2 || value[1] == byte(ChunkRaw) {
					// The records of a raw chunk alias the value, which the
					// iterator reuses.
					value = slices.Clone(value)
				}
				_, recs, size, err := decodeChunk(value, next.firstSeq, keep(next.agent, next.epoch), nil)
				if err != nil {
					return res, fmt.Errorf("query events: chunk %s/%d/%d: %w", next.agent, next.epoch, next.firstSeq, err)
				}
				if kept := keptBytes(recs); kept < size/2 {
					// Most of the chunk is outside the range or already
					// examined: hold only what is wanted.
					buf := make([]byte, 0, kept)
					for i := range recs {
						buf = append(buf, recs[i].rec...)
						recs[i].rec = buf[len(buf)-len(recs[i].rec):]
					}
					size = kept
				}
				if len(recs) > 0 {
					slices.SortStableFunc(recs, func(a, b chunkRecord) int { return cmp.Compare(a.ts, b.ts) })
					heap.Push(&h, &openChunk{id: next, suffix: slices.Clone(nextSuffix), recs: recs, size: size})
					held += size
				}
			}
		}
		valid = it.Next()
	}
	if err := it.Error(); err != nil {
		return res, fmt.Errorf("query events: %w", err)
	}
	return res, nil
}

func keptBytes(recs []chunkRecord) int {
	n := 0
	for _, r := range recs {
		n += len(r.rec)
	}
	return n
}

// CountEvents counts stored events, per agent.
func (s *Store) CountEvents() (map[string]uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: chunkTimePrefix, UpperBound: prefixEnd(chunkTimePrefix)})
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	defer it.Close()
	out := map[string]uint64{}
	for it.First(); it.Valid(); it.Next() {
		id, ok := parseChunkID(it.Key()[len(chunkTimePrefix):])
		if !ok {
			return nil, fmt.Errorf("count events: malformed key")
		}
		meta, err := parseChunkMeta(it.Value())
		if err != nil {
			return nil, fmt.Errorf("count events: %w", err)
		}
		out[id.agent] += meta.count
	}
	return out, it.Error()
}
