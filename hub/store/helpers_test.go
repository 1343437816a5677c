package store_test

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/event"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openStore opens a store in dir and closes it when the test ends.
func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(dir, quiet)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newStore(t *testing.T) *store.Store { return openStore(t, t.TempDir()) }

// field is one event field for testEvent.
type field struct {
	key string
	val any // string, int64, float64 or bool
}

// ev describes one event to store.
type ev struct {
	ts       int64
	agent    string
	branch   string
	epoch    uint64
	seq      uint64
	input    string
	parser   string
	original string
	fields   []field
	tags     []string
}

func (e ev) encode() []byte {
	var enc event.Encoder
	enc.Begin(e.ts, 7, e.input, e.parser, e.original)
	for _, f := range e.fields {
		switch v := f.val.(type) {
		case string:
			enc.String(f.key, v)
		case int64:
			enc.Int(f.key, v)
		case int:
			enc.Int(f.key, int64(v))
		case float64:
			enc.Float(f.key, v)
		case bool:
			enc.Bool(f.key, v)
		default:
			panic(fmt.Sprintf("field %s: unsupported %T", f.key, v))
		}
	}
	for _, tag := range e.tags {
		enc.Tag(tag)
	}
	return slices.Clone(enc.Bytes())
}

// id is what a query result identifies an event by.
type id struct {
	ts    int64
	agent string
	epoch uint64
	seq   uint64
}

func (e ev) id() id { return id{e.ts, e.agent, e.epoch, e.seq} }

// write stores agents, tokens and events in one batch committed at applied.
func write(t testing.TB, s *store.Store, applied uint64, agents []*raftpb.AgentRecord, tokens []*raftpb.TokenRecord, events []ev) {
	t.Helper()
	b := s.NewBatch()
	defer b.Close()
	for _, a := range agents {
		if err := b.PutAgent(a); err != nil {
			t.Fatalf("put agent: %v", err)
		}
	}
	for _, tk := range tokens {
		if err := b.PutToken(tk); err != nil {
			t.Fatalf("put token: %v", err)
		}
	}
	putChunks(t, b, events)
	if err := b.Commit(applied); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

var zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))

// putChunks stores events as the state machine would: each run of
// consecutive events of one agent, epoch and branch with consecutive seqs
// is cut into chunks by store.SplitChunks. Chunks starting at an even seq
// are kept zstd-compressed (as a whole agent batch is), the others as raw
// framing, so that tests cover both.
func putChunks(t testing.TB, b *store.Batch, events []ev) {
	t.Helper()
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].agent == events[i].agent && events[j].epoch == events[i].epoch &&
			events[j].branch == events[i].branch && events[j].seq == events[j-1].seq+1 {
			j++
		}
		run := events[i:j]
		recs := make([]store.ChunkRecord, len(run))
		for k, e := range run {
			recs[k] = store.ChunkRecord{Ts: e.ts, Data: e.encode()}
		}
		err := store.SplitChunks(recs, func(first, end int, minTs, maxTs int64, rawLen int) error {
			var framing []byte
			for _, r := range recs[first:end] {
				framing = event.AppendRecord(framing, r.Data)
			}
			if len(framing) != rawLen {
				t.Fatalf("SplitChunks: raw length %d, framing is %d bytes", rawLen, len(framing))
			}
			c := &store.Chunk{Agent: run[0].agent, Branch: run[0].branch, Epoch: run[0].epoch, FirstSeq: run[first].seq,
				Count: end - first, MinTs: minTs, MaxTs: maxTs, Encoding: store.ChunkRaw, RawLen: len(framing), Records: framing}
			if c.FirstSeq%2 == 0 {
				c.Encoding, c.Records = store.ChunkZstd, zenc.EncodeAll(framing, nil)
			}
			return b.PutChunk(c)
		})
		if err != nil {
			t.Fatalf("put chunk: %v", err)
		}
		i = j
	}
}

func putEvents(t testing.TB, s *store.Store, applied uint64, events ...ev) {
	t.Helper()
	write(t, s, applied, nil, nil, events)
}

// query runs q and fails the test on error.
func query(t *testing.T, s *store.Store, q store.EventQuery) store.EventResult {
	t.Helper()
	res, err := s.Events(q)
	if err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	return res
}

func ids(res store.EventResult) []id {
	out := []id{}
	for _, e := range res.Events {
		out = append(out, id{e.Timestamp, e.AgentID, e.Epoch, e.Seq})
	}
	return out
}

func idsOf(events ...ev) []id {
	out := []id{}
	for _, e := range events {
		out = append(out, e.id())
	}
	return out
}

// queryAll pages through q with its Limit and returns every event, failing
// if a page is larger than the limit or the paging does not end.
func queryAll(t *testing.T, s *store.Store, q store.EventQuery) (all []store.StoredEvent, pages int) {
	t.Helper()
	for pages = 1; ; pages++ {
		if pages > 10000 {
			t.Fatalf("paging does not end")
		}
		res := query(t, s, q)
		if q.Limit > 0 && len(res.Events) > q.Limit {
			t.Fatalf("page %d has %d events, limit %d", pages, len(res.Events), q.Limit)
		}
		all = append(all, res.Events...)
		if res.Next == "" {
			return all, pages
		}
		q.Cursor = res.Next
	}
}

func storedIDs(evs []store.StoredEvent) []id {
	out := []id{}
	for _, e := range evs {
		out = append(out, id{e.Timestamp, e.AgentID, e.Epoch, e.Seq})
	}
	return out
}

// sortIDs orders ids as the store does: time, agent, epoch, seq.
func sortIDs(in []id) []id {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b id) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), strings.Compare(a.agent, b.agent),
			cmp.Compare(a.epoch, b.epoch), cmp.Compare(a.seq, b.seq))
	})
	return out
}
