package fsm_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/event"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestFSM_Ingest_UnknownAgent(t *testing.T) {
	h := newHarness(t)
	h.enroll("known", "b")
	before := h.hash()
	r := h.ingest(seqBatch("stranger", 1, 1, 5, 10))
	if r.Status != fsm.IngestRejected || !contains(r.Reason, "unknown agent stranger") || r.Stored != 0 {
		t.Fatalf("%+v", r)
	}
	if h.totalEvents() != 0 || h.agent("stranger") != nil || h.hash() != before {
		t.Fatal("an unknown agent's batch changed the store")
	}
}

// TestFSM_Ingest_ExactlyOnce walks one agent through the dedup rules of
// invariant 2.
func TestFSM_Ingest_ExactlyOnce(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b1")

	r := h.ingest(seqBatch("ag", 1, 1, 100, 1_000))
	if r.Status != fsm.IngestStored || r.Stored != 100 || r.AckedSeq != 100 {
		t.Fatalf("1-100: %+v", r)
	}
	if n := h.count("ag"); n != 100 {
		t.Fatalf("%d events after 1-100", n)
	}
	evs := h.events("ag")
	for i, e := range evs {
		seq := uint64(i + 1)
		if e.Seq != seq || e.Epoch != 1 || e.Timestamp != int64(seq*1000+1) || e.Event.GetOriginal() != fmt.Sprintf("ag/1/%d", seq) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}

	// The same batch again: a duplicate, nothing new.
	r = h.ingest(seqBatch("ag", 1, 1, 100, 2_000))
	if r.Status != fsm.IngestDuplicate || r.Stored != 0 || r.AckedSeq != 100 {
		t.Fatalf("replayed 1-100: %+v", r)
	}
	if n := h.count("ag"); n != 100 {
		t.Fatalf("%d events after duplicate", n)
	}
	// A sub-range already stored is a duplicate too.
	if r = h.ingest(seqBatch("ag", 1, 40, 60, 2_001)); r.Status != fsm.IngestDuplicate || r.AckedSeq != 100 {
		t.Fatalf("40-60: %+v", r)
	}

	// Overlap 51-150: exactly 50 new; the stored 51-100 are not replaced.
	r = h.ingest(batchOf("ag", 1, 51, 150, 3_000, eventsFor("ag", 1, 51, 150, "-second")))
	if r.Status != fsm.IngestStored || r.Stored != 50 || r.AckedSeq != 150 {
		t.Fatalf("51-150: %+v", r)
	}
	if n := h.count("ag"); n != 150 {
		t.Fatalf("%d events after overlap", n)
	}
	evs = h.events("ag")
	for i, e := range evs {
		want := fmt.Sprintf("ag/1/%d", i+1)
		if i >= 100 {
			want += "-second"
		}
		if e.Event.GetOriginal() != want {
			t.Fatalf("event %d: %q, want %q", i, e.Event.GetOriginal(), want)
		}
	}

	// A gap is refused and stores nothing.
	before := h.hash()
	r = h.ingest(seqBatch("ag", 1, 200, 210, 4_000))
	if r.Status != fsm.IngestRejected || !contains(r.Reason, "gap") || r.AckedSeq != 150 || r.Stored != 0 {
		t.Fatalf("200-210: %+v", r)
	}
	if h.count("ag") != 150 || h.hash() != before {
		t.Fatal("a gap batch changed the store")
	}
	// 152 onwards is still a gap; 151 is not.
	if r = h.ingest(seqBatch("ag", 1, 152, 152, 4_001)); r.Status != fsm.IngestRejected || !contains(r.Reason, "next expected 151") {
		t.Fatalf("152: %+v", r)
	}

	rec := h.agent("ag")
	if rec.Epoch != 1 || rec.AckedSeq != 150 || rec.Events != 150 || rec.Batches != 2 || rec.DuplicateBatches != 2 || rec.LastSeen != 3_000 {
		t.Fatalf("agent record %v", rec)
	}

	// A newer epoch restarts at seq 1.
	r = h.ingest(seqBatch("ag", 2, 1, 10, 5_000))
	if r.Status != fsm.IngestStored || r.Stored != 10 || r.AckedSeq != 10 {
		t.Fatalf("epoch 2, 1-10: %+v", r)
	}
	if h.count("ag") != 160 {
		t.Fatalf("%d events after epoch 2", h.count("ag"))
	}
	n2 := 0
	for _, e := range h.events("ag") {
		if e.Epoch == 2 {
			n2++
			if e.Event.GetOriginal() != fmt.Sprintf("ag/2/%d", e.Seq) {
				t.Fatalf("epoch 2 event %+v", e)
			}
		}
	}
	if n2 != 10 {
		t.Fatalf("%d events of epoch 2", n2)
	}
	// A newer epoch starts where its first batch starts (the agent keeps
	// counting seqs across epochs); a gap inside it is still refused.
	if r = h.ingest(seqBatch("ag", 3, 5, 9, 6_000)); r.Status != fsm.IngestStored || r.Stored != 5 || r.AckedSeq != 9 {
		t.Fatalf("epoch 3 from 5: %+v", r)
	}
	if r = h.ingest(seqBatch("ag", 3, 12, 13, 6_500)); r.Status != fsm.IngestRejected || !contains(r.Reason, "gap") || r.AckedSeq != 9 {
		t.Fatalf("epoch 3 gap: %+v", r)
	}
	if r = h.ingest(seqBatch("ag", 3, 5, 9, 6_600)); r.Status != fsm.IngestDuplicate {
		t.Fatalf("epoch 3 resend: %+v", r)
	}
	if rec := h.agent("ag"); rec.Epoch != 3 || rec.AckedSeq != 9 || h.count("ag") != 165 {
		t.Fatalf("after epoch 3: %v, %d events", rec, h.count("ag"))
	}
	before = h.hash()
	// An older epoch is refused.
	r = h.ingest(seqBatch("ag", 1, 151, 160, 7_000))
	if r.Status != fsm.IngestRejected || !contains(r.Reason, "stale epoch 1") || r.AckedSeq != 9 {
		t.Fatalf("epoch 1 after 2: %+v", r)
	}
	if h.count("ag") != 165 || h.hash() != before {
		t.Fatal("a stale-epoch batch changed the store")
	}
	rec = h.agent("ag")
	if rec.Epoch != 3 || rec.AckedSeq != 9 || rec.Events != 165 || rec.Batches != 4 || rec.DuplicateBatches != 3 {
		t.Fatalf("agent record %v", rec)
	}
}

func TestFSM_Ingest_InvalidRange(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	before := h.hash()
	for _, m := range []*raftpb.IngestBatch{
		batchOf("ag", 1, 0, 0, 1, nil),
		batchOf("ag", 1, 0, 2, 1, eventsFor("ag", 1, 0, 2, "")),
		batchOf("ag", 1, 5, 4, 1, nil),
	} {
		if r := h.ingest(m); r.Status != fsm.IngestRejected || r.Reason != "invalid seq range" {
			t.Fatalf("%d-%d: %+v", m.FirstSeq, m.LastSeq, r)
		}
	}
	if h.hash() != before {
		t.Fatal("invalid ranges changed the store")
	}
}

// A corrupt payload is refused as a whole: nothing of it is stored and the
// agent's acknowledged seq does not move.
func TestFSM_Ingest_CorruptPayload(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	h.ingest(seqBatch("ag", 1, 1, 10, 1))

	good := seqBatch("ag", 1, 11, 20, 2)
	raw := rawPayload(eventsFor("ag", 1, 11, 20, ""))
	withPayload := func(p []byte, compression agentpb.Compression) *raftpb.IngestBatch {
		m := seqBatch("ag", 1, 11, 20, 2)
		m.Payload, m.Compression = p, uint32(compression)
		// Declare the true uncompressed size so each case reaches the
		// check it is about.
		m.RawBytes = uint32(len(p))
		if compression == agentpb.Compression_COMPRESSION_ZSTD {
			if d, err := zdec.DecodeAll(p, nil); err == nil {
				m.RawBytes = uint32(len(d))
			}
		}
		return m
	}
	misdeclared := seqBatch("ag", 1, 11, 20, 2)
	misdeclared.RawBytes = 12
	nine := rawPayload(eventsFor("ag", 1, 11, 19, ""))
	eleven := rawPayload(eventsFor("ag", 1, 11, 21, ""))
	// Nine good records then a length prefix running past the end.
	truncated := append(append([]byte(nil), nine...), 0x7f, 1, 2, 3)
	// Ten records, the last of which has a broken tag.
	badRecord := event.AppendRecord(append([]byte(nil), nine...), []byte{0x80})
	// Ten records, the last of which has a truncated timestamp.
	badTimestamp := event.AppendRecord(append([]byte(nil), nine...), []byte{0x09, 1, 2})

	cases := []struct {
		name   string
		m      *raftpb.IngestBatch
		reason string
	}{
		{"bad zstd", withPayload([]byte("definitely not zstd"), agentpb.Compression_COMPRESSION_ZSTD), "decompress"},
		{"zstd cut short", withPayload(good.Payload[:len(good.Payload)/2], agentpb.Compression_COMPRESSION_ZSTD), "decompress"},
		{"zstd flag on raw payload", withPayload(raw, agentpb.Compression_COMPRESSION_ZSTD), "decompress"},
		{"raw flag on zstd payload", withPayload(good.Payload, agentpb.Compression_COMPRESSION_NONE), ""},
		{"unknown compression", withPayload(raw, agentpb.Compression(7)), "unknown compression 7"},
		{"fewer records", withPayload(zenc.EncodeAll(nine, nil), agentpb.Compression_COMPRESSION_ZSTD), "9 records for 10 seqs"},
		{"more records", withPayload(zenc.EncodeAll(eleven, nil), agentpb.Compression_COMPRESSION_ZSTD), "more than 10 records"},
		{"empty payload", withPayload(nil, agentpb.Compression_COMPRESSION_NONE), "0 records for 10 seqs"},
		{"truncated record", withPayload(zenc.EncodeAll(truncated, nil), agentpb.Compression_COMPRESSION_ZSTD), event.ErrCorrupt.Error()},
		{"bad record tag", withPayload(badRecord, agentpb.Compression_COMPRESSION_NONE), event.ErrCorrupt.Error()},
		{"bad timestamp", withPayload(badTimestamp, agentpb.Compression_COMPRESSION_NONE), event.ErrCorrupt.Error()},
		{"misdeclared size", misdeclared, "batch declares 12"},
	}
	before := h.hash()
	for _, c := range cases {
		r := h.ingest(c.m)
		if r.Status != fsm.IngestRejected || r.Stored != 0 || r.AckedSeq != 10 || !contains(r.Reason, c.reason) {
			t.Errorf("%s: %+v, want rejected with %q", c.name, r, c.reason)
		}
	}
	if h.count("ag") != 10 || h.hash() != before {
		t.Fatalf("corrupt batches changed the store: %d events", h.count("ag"))
	}
	// The good batch still goes in afterwards, uncompressed too.
	if r := h.ingest(withPayload(raw, agentpb.Compression_COMPRESSION_NONE)); r.Status != fsm.IngestStored || r.Stored != 10 {
		t.Fatalf("good uncompressed batch: %+v", r)
	}
	if h.count("ag") != 20 {
		t.Fatalf("%d events", h.count("ag"))
	}
}

func TestFSM_Ingest_ZeroTimestampGetsNow(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	const now = 1_700_000_000_000_000_000
	evs := []evSpec{{0, "zero-1"}, {-5, "negative"}, {0, "zero-2"}, {42, "set"}}
	r := h.ingest(batchOf("ag", 1, 1, 4, now, evs))
	if r.Status != fsm.IngestStored || r.Stored != 4 {
		t.Fatalf("%+v", r)
	}
	got := map[string]int64{}
	for _, e := range h.events("ag") {
		got[e.Event.GetOriginal()] = e.Timestamp
	}
	want := map[string]int64{"zero-1": now, "negative": -5, "zero-2": now, "set": 42}
	for _, k := range sortedKeys(want) {
		if got[k] != want[k] {
			t.Errorf("%s stored at %d, want %d", k, got[k], want[k])
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d events", len(got))
	}
	// Found by a time-range query at Now.
	res, err := h.st.Events(store.EventQuery{From: now, To: now + 1})
	if err != nil || len(res.Events) != 2 {
		t.Fatalf("range at now: %d events, %v", len(res.Events), err)
	}
}

// Events are stored under the branch the agent enrolled in, whatever branch
// the batch claims (invariant 7).
func TestFSM_Ingest_BranchFromAgentRecord(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "mine")
	m := seqBatch("ag", 1, 1, 3, 9)
	m.Branch = "theirs"
	m.Hostname, m.AgentVersion = "new-host", "2.0"
	if r := h.ingest(m); r.Status != fsm.IngestStored {
		t.Fatalf("%+v", r)
	}
	for branch, want := range map[string]int{"mine": 3, "theirs": 0} {
		res, err := h.st.Events(store.EventQuery{Branch: branch})
		if err != nil || len(res.Events) != want {
			t.Fatalf("branch %s: %d events, %v", branch, len(res.Events), err)
		}
	}
	if a := h.agent("ag"); a.Branch != "mine" || a.Hostname != "new-host" || a.Version != "2.0" || a.LastSeen != 9 {
		t.Fatalf("agent %v", a)
	}
}

// Several ingest entries for one agent in one ApplyBatch see each other's
// effects: the acknowledged seq advances within the batch.
func TestFSM_Ingest_ChainInOneBatch(t *testing.T) {
	h := newHarness(t)
	h.enroll("a", "b")
	h.enroll("z", "b")
	logs := []*raft.Log{
		h.entry(fsm.IngestBatchType, seqBatch("a", 1, 1, 10, 1)),
		h.entry(fsm.IngestBatchType, seqBatch("z", 1, 1, 5, 1)),
		h.entry(fsm.IngestBatchType, seqBatch("a", 1, 11, 20, 2)),
		h.entry(fsm.IngestBatchType, seqBatch("a", 1, 11, 20, 3)), // duplicate of the previous
		h.entry(fsm.IngestBatchType, seqBatch("a", 1, 15, 30, 4)), // overlaps: 10 new
		h.entry(fsm.IngestBatchType, seqBatch("a", 1, 32, 40, 5)), // gap
		h.entry(fsm.IngestBatchType, seqBatch("a", 2, 1, 4, 6)),   // new epoch
		h.entry(fsm.IngestBatchType, seqBatch("a", 1, 31, 35, 7)), // now stale
		h.entry(fsm.IngestBatchType, seqBatch("a", 2, 5, 6, 8)),
		h.entry(fsm.IngestBatchType, seqBatch("z", 1, 6, 6, 9)),
	}
	out := h.batch(logs...)
	var got []string
	for _, r := range out {
		ir := ingestResult(t, r)
		got = append(got, fmt.Sprintf("%d/%d/%d", ir.Status, ir.Stored, ir.AckedSeq))
	}
	want := []string{"0/10/10", "0/5/5", "0/10/20", "1/0/20", "0/10/30", "2/0/30", "0/4/4", "2/0/4", "0/2/6", "0/1/6"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("results (status/stored/acked)\n got  %v\n want %v", got, want)
	}
	if h.count("a") != 36 || h.count("z") != 6 {
		t.Fatalf("counts a=%d z=%d", h.count("a"), h.count("z"))
	}
	a := h.agent("a")
	if a.Epoch != 2 || a.AckedSeq != 6 || a.Events != 36 || a.Batches != 5 || a.DuplicateBatches != 1 || a.LastSeen != 8 {
		t.Fatalf("agent a %v", a)
	}
	if z := h.agent("z"); z.AckedSeq != 6 || z.Events != 6 || z.Batches != 2 {
		t.Fatalf("agent z %v", z)
	}
	if h.applied() != logs[len(logs)-1].Index {
		t.Fatalf("applied %d", h.applied())
	}

	// The same sequence applied one entry at a time gives the same state.
	h2 := newHarness(t)
	h2.enroll("a", "b")
	h2.enroll("z", "b")
	for _, l := range logs {
		h2.f.Apply(l)
	}
	if h2.hash() != h.hash() {
		t.Fatal("one-by-one apply differs from one batch")
	}
}

// TestFSM_Ingest_EpochStartMakesLostFirstBatchAGap checks that when the
// agent declares where a new epoch starts, a batch after a refused (or lost)
// first batch of that epoch is a gap, not a new beginning.
func TestFSM_Ingest_EpochStartMakesLostFirstBatchAGap(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	h.ingest(seqBatch("ag", 1, 1, 10, 1))
	later := seqBatch("ag", 2, 21, 30, 2)
	later.EpochStart = 11
	if r := h.ingest(later); r.Status != fsm.IngestRejected || !contains(r.Reason, "gap") {
		t.Fatalf("batch after the epoch's missing first batch: %+v", r)
	}
	first := seqBatch("ag", 2, 11, 20, 3)
	first.EpochStart = 11
	if r := h.ingest(first); r.Status != fsm.IngestStored || r.AckedSeq != 20 {
		t.Fatalf("first batch of epoch 2: %+v", r)
	}
	if r := h.ingest(later); r.Status != fsm.IngestStored || r.AckedSeq != 30 {
		t.Fatalf("second batch of epoch 2: %+v", r)
	}
}

// chunkValues returns the values of the event chunk records of a snapshot
// of h's store, in key order.
func (h *harness) chunkValues() [][]byte {
	h.t.Helper()
	sn, err := h.st.Snapshot()
	if err != nil {
		h.t.Fatal(err)
	}
	defer sn.Release()
	var buf bytes.Buffer
	if err := sn.Persist(&buf); err != nil {
		h.t.Fatal(err)
	}
	b := buf.Bytes()[len("VIGILSN1"):]
	hl, n := binary.Uvarint(b)
	b = b[n+int(hl):]
	var out [][]byte
	for len(b) > 0 {
		typ := store.RecordType(b[0])
		b = b[1:]
		kl, n := binary.Uvarint(b)
		b = b[n+int(kl):]
		vl, n := binary.Uvarint(b)
		v := b[n : n+int(vl)]
		b = b[n+int(vl):]
		if typ == store.EventChunkRecord {
			out = append(out, v)
		}
	}
	return out
}

// A batch new as a whole is one chunk holding the agent's payload as it
// was sent; a partly new one is re-framed without compression.
func TestFSM_Ingest_ChunkKeepsPayloadAsSent(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	first := seqBatch("ag", 1, 1, 100, 1_000)
	h.ingest(first)
	vals := h.chunkValues()
	if len(vals) != 1 || !bytes.HasSuffix(vals[0], first.Payload) {
		t.Fatalf("%d chunks; the payload as sent is not the chunk's records", len(vals))
	}
	if n, ok := store.ChunkEvents(vals[0]); !ok || n != 100 {
		t.Fatalf("chunk holds %d events (%v)", n, ok)
	}
	// 51-150: only 101-150 are new; they are stored uncompressed.
	second := batchOf("ag", 1, 51, 150, 2_000, eventsFor("ag", 1, 51, 150, "-second"))
	if r := h.ingest(second); r.Stored != 50 {
		t.Fatalf("%+v", r)
	}
	vals = h.chunkValues()
	if len(vals) != 2 {
		t.Fatalf("%d chunks", len(vals))
	}
	raw := rawPayload(eventsFor("ag", 1, 101, 150, "-second"))
	if !bytes.HasSuffix(vals[1], raw) {
		t.Fatal("the new part of an overlapping batch is not stored as its raw framing")
	}
	// An uncompressed batch is kept as sent too.
	plain := seqBatch("ag", 1, 151, 160, 3_000)
	plain.Payload, plain.Compression = rawPayload(eventsFor("ag", 1, 151, 160, "")), uint32(agentpb.Compression_COMPRESSION_NONE)
	if r := h.ingest(plain); r.Stored != 10 {
		t.Fatalf("%+v", r)
	}
	if vals = h.chunkValues(); len(vals) != 3 || !bytes.HasSuffix(vals[2], plain.Payload) {
		t.Fatalf("%d chunks; the uncompressed payload is not kept as sent", len(vals))
	}
	if evs := h.events("ag"); len(evs) != 160 || evs[159].Seq != 160 || evs[120].Event.GetOriginal() != "ag/1/121-second" {
		t.Fatalf("%d events", len(evs))
	}
}

// A batch whose events span more than a chunk may is cut into chunks of
// consecutive seqs; zero timestamps take the batch time in every chunk.
func TestFSM_Ingest_SplitsWideBatch(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	const hour = int64(3600 * 1e9)
	const now = 100 * hour
	evs := []evSpec{{0, "z1"}, {1, "one"}, {0, "z2"}, {now + hour, "later"}, {now - 5*hour, "old"}, {0, "z3"}, {now + 1, "near"}}
	m := batchOf("ag", 1, 1, uint64(len(evs)), now, evs)
	if r := h.ingest(m); r.Status != fsm.IngestStored || r.Stored != len(evs) {
		t.Fatalf("%+v", r)
	}
	// {z1}, {one}, {z2, later}, {old}, {z3, near}
	if vals := h.chunkValues(); len(vals) != 5 {
		t.Fatalf("%d chunks, want 5", len(vals))
	}
	var got []string
	for _, e := range h.events("ag") {
		got = append(got, fmt.Sprintf("%s@%d", e.Event.GetOriginal(), e.Timestamp))
	}
	want := []string{"one@1", fmt.Sprintf("old@%d", now-5*hour), fmt.Sprintf("z1@%d", now), fmt.Sprintf("z2@%d", now),
		fmt.Sprintf("z3@%d", now), fmt.Sprintf("near@%d", now+1), fmt.Sprintf("later@%d", now+hour)}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events\n got  %v\n want %v", got, want)
	}
	res, err := h.st.Events(store.EventQuery{From: now, To: now + 2})
	if err != nil || len(res.Events) != 4 {
		t.Fatalf("at now: %d events, %v", len(res.Events), err)
	}
	// Retention in the middle of a chunk keeps exactly the later events.
	h.apply(fsm.RetentionType, &raftpb.Retention{Cutoff: now + 1, Now: 1})
	got = got[:0]
	for _, e := range h.events("ag") {
		got = append(got, e.Event.GetOriginal())
	}
	if strings.Join(got, " ") != "near later" || h.count("ag") != 2 {
		t.Fatalf("after retention: %v, count %d", got, h.count("ag"))
	}
}

// BenchmarkFSM_Ingest applies batches of 1000 events: "whole" batches fit
// one chunk (kept as sent), "split" ones alternate between two eras and are
// cut into many uncompressed chunks.
func BenchmarkFSM_Ingest(b *testing.B) {
	for _, mode := range []string{"whole", "split"} {
		b.Run(mode, func(b *testing.B) {
			st, err := store.Open(b.TempDir(), quiet)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			f, err := fsm.New(st, quiet)
			if err != nil {
				b.Fatal(err)
			}
			index := uint64(1)
			apply := func(typ fsm.MessageType, m proto.Message) any {
				l := &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: cmd(b, typ, m)}
				index++
				return f.ApplyBatch([]*raft.Log{l})[0]
			}
			apply(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "t", SecretHash: "h", Branch: "b", ExpiresAt: 1 << 60, Now: 1})
			apply(fsm.TokenConsumeType, &raftpb.TokenConsume{TokenId: "t", SecretHash: "h", AgentId: "ag", Now: 2})
			const n = 1000
			var batches []*raftpb.IngestBatch
			for i := 0; i < 64; i++ {
				var evs []evSpec
				for k := 0; k < n; k++ {
					seq := uint64(i*n + k + 1)
					ts := int64(seq) * 1e6
					if mode == "split" && (k/25)%2 == 1 {
						ts -= 10 * 3600 * 1e9
					}
					evs = append(evs, evSpec{ts: ts, original: fmt.Sprintf("<38>Dec  2 08:14:03 bastion-01 sshd[21877]: Failed password for invalid user oracle from 198.51.100.%d port 51122 ssh2", k%256)})
				}
				batches = append(batches, batchOf("ag", 1, uint64(i*n+1), uint64(i*n+n), 1, evs))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := batches[i%len(batches)]
				if i >= len(batches) {
					// Later rounds are new epochs, so that every batch stores.
					m = proto.Clone(m).(*raftpb.IngestBatch)
					m.Epoch = uint64(2 + i/len(batches))
				}
				if r, ok := apply(fsm.IngestBatchType, m).(*fsm.IngestResult); !ok || r.Stored != n {
					b.Fatalf("%+v", r)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
