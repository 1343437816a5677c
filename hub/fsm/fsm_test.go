package fsm_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// replayLogs is a history touching every command type.
func replayLogs(h *harness) []*raft.Log {
	return []*raft.Log{
		h.entry(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "t1", SecretHash: "s", Branch: "b", ExpiresAt: 100, Now: 1}),
		h.entry(fsm.TokenConsumeType, &raftpb.TokenConsume{TokenId: "t1", SecretHash: "s", AgentId: "ag", Now: 2}),
		h.entry(fsm.IngestBatchType, seqBatch("ag", 1, 1, 20, 3)),
		h.entry(fsm.IngestBatchType, seqBatch("ag", 1, 21, 30, 4)),
		h.entry(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "t2", SecretHash: "s", Branch: "c", ExpiresAt: 100, Now: 5}),
		h.entry(fsm.IngestBatchType, seqBatch("ag", 2, 1, 5, 6)),
	}
}

// After a restart with a persistent store, Raft replays entries the store
// already holds; they must change nothing.
func TestFSM_ReplayAfterRestart(t *testing.T) {
	h := newHarness(t)
	logs := replayLogs(h)
	h.batch(logs[:3]...)
	for _, l := range logs[3:] {
		h.f.Apply(l)
	}
	count, hash := h.count("ag"), h.hash()
	if count != 35 || h.applied() != 6 || h.agent("ag").AckedSeq != 5 {
		t.Fatalf("before restart: count %d applied %d agent %v", count, h.applied(), h.agent("ag"))
	}
	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}

	h2 := openHarness(t, h.dir)
	if h2.applied() != 6 {
		t.Fatalf("applied after reopen %d", h2.applied())
	}
	// The whole log again, as one batch and entry by entry.
	for i, r := range h2.f.ApplyBatch(logs) {
		if r != nil {
			t.Fatalf("replayed entry %d produced %v", i, describe(r))
		}
	}
	for _, l := range logs {
		if r := h2.f.Apply(l); r != nil {
			t.Fatalf("replayed entry %d produced %v", l.Index, describe(r))
		}
	}
	if h2.count("ag") != count || h2.hash() != hash || h2.applied() != 6 {
		t.Fatalf("replay changed the store: count %d applied %d", h2.count("ag"), h2.applied())
	}
	if a := h2.agent("ag"); a.AckedSeq != 5 || a.Epoch != 2 || a.Events != 35 || a.DuplicateBatches != 0 {
		t.Fatalf("replay changed the agent: %v", a)
	}

	// A batch straddling the applied index applies only the new part.
	h2.next = 5
	straddle := []*raft.Log{
		h2.entry(fsm.IngestBatchType, seqBatch("ag", 2, 1, 5, 7)), // index 5: old
		h2.entry(fsm.IngestBatchType, seqBatch("ag", 2, 1, 5, 7)), // index 6: old
		h2.entry(fsm.IngestBatchType, seqBatch("ag", 2, 6, 8, 8)), // index 7: new
	}
	out := h2.f.ApplyBatch(straddle)
	if out[0] != nil || out[1] != nil {
		t.Fatalf("old entries produced %v, %v", describe(out[0]), describe(out[1]))
	}
	if r := ingestResult(t, out[2]); r.Status != fsm.IngestStored || r.Stored != 3 || r.AckedSeq != 8 {
		t.Fatalf("new entry: %+v", r)
	}
	if h2.applied() != 7 || h2.count("ag") != 38 {
		t.Fatalf("applied %d count %d", h2.applied(), h2.count("ag"))
	}
}

func TestFSM_NonCommandEntries(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	before, applied := h.hash(), h.applied()
	out := h.f.ApplyBatch([]*raft.Log{
		{Index: applied + 1, Type: raft.LogNoop},
		{Index: applied + 2, Type: raft.LogConfiguration, Data: []byte{0xff}},
		{Index: applied + 3, Type: raft.LogBarrier},
	})
	for i, r := range out {
		if r != nil {
			t.Fatalf("entry %d produced %v", i, describe(r))
		}
	}
	if h.hash() != before {
		t.Fatal("non-command entries changed the store")
	}
	// Commands after them still apply.
	r := ingestResult(t, h.f.Apply(&raft.Log{Index: applied + 4, Type: raft.LogCommand, Data: cmd(t, fsm.IngestBatchType, seqBatch("ag", 1, 1, 2, 1))}))
	if r.Status != fsm.IngestStored || h.applied() != applied+4 {
		t.Fatalf("%+v applied %d", r, h.applied())
	}
}

func TestFSM_UnknownMessageType(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	before, applied := h.hash(), h.applied()

	// An unknown type without the ignore flag crashes the node; entries
	// before it in the same batch are not committed either.
	logs := []*raft.Log{
		{Index: applied + 1, Type: raft.LogCommand, Data: cmd(t, fsm.IngestBatchType, seqBatch("ag", 1, 1, 5, 1))},
		{Index: applied + 2, Type: raft.LogCommand, Data: []byte{99, 1, 2, 3}},
	}
	msg := mustPanic(t, func() { h.f.ApplyBatch(logs) })
	if !strings.Contains(msg, "unknown message type 99") || !strings.Contains(msg, "index "+strconv.FormatUint(applied+2, 10)) {
		t.Fatalf("panic %q", msg)
	}
	if h.applied() != applied || h.hash() != before || h.count("ag") != 0 {
		t.Fatal("a crashed batch was committed")
	}
	if msg := mustPanic(t, func() { h.f.Apply(&raft.Log{Index: applied + 1, Type: raft.LogCommand}) }); !strings.Contains(msg, "empty command") {
		t.Fatalf("empty command: panic %q", msg)
	}
	// Type 127 is just as unknown; only bit 128 makes a type ignorable.
	if msg := mustPanic(t, func() { h.f.Apply(&raft.Log{Index: applied + 1, Type: raft.LogCommand, Data: []byte{127}}) }); !strings.Contains(msg, "unknown message type 127") {
		t.Fatalf("type 127: panic %q", msg)
	}

	// The store's lock was released by the crashed batches: a restore,
	// which needs it exclusively, still runs.
	var buf bytes.Buffer
	sn, err := h.st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := sn.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	if _, err := h.st.Restore(&buf); err != nil {
		t.Fatal(err)
	}

	// With the flag the entry is skipped, but counts as applied.
	out := h.f.ApplyBatch([]*raft.Log{
		{Index: applied + 1, Type: raft.LogCommand, Data: []byte{byte(fsm.IgnoreUnknownTypeFlag | 99), 1, 2, 3}},
		{Index: applied + 2, Type: raft.LogCommand, Data: cmd(t, fsm.IngestBatchType, seqBatch("ag", 1, 1, 5, 1))},
		{Index: applied + 3, Type: raft.LogCommand, Data: []byte{byte(fsm.IgnoreUnknownTypeFlag | 127)}},
	})
	if out[0] != nil || out[2] != nil {
		t.Fatalf("ignorable entries produced %v, %v", describe(out[0]), describe(out[2]))
	}
	if r := ingestResult(t, out[1]); r.Status != fsm.IngestStored || r.Stored != 5 {
		t.Fatalf("entry after an ignorable one: %+v", r)
	}
	if h.applied() != applied+3 || h.count("ag") != 5 {
		t.Fatalf("applied %d count %d", h.applied(), h.count("ag"))
	}
	// The flag on a known type still applies it.
	r := tokenResult(t, h.f.Apply(&raft.Log{Index: applied + 4, Type: raft.LogCommand,
		Data: cmd(t, fsm.IgnoreUnknownTypeFlag|fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "flagged", ExpiresAt: 1})}))
	if r.Err != nil || h.token("flagged") == nil {
		t.Fatalf("flagged known type: %+v", r)
	}
}

func TestFSM_MessageTypeNumbers(t *testing.T) {
	// Numbers are part of the log format: never renumbered.
	for typ, want := range map[fsm.MessageType]string{
		1: "ingest_batch", 2: "token_create", 3: "token_consume", 4: "retention", 5: "member_upsert", 6: "server_join", 7: "member_remove", 128 | 2: "token_create", 8: "unknown", 0: "unknown",
	} {
		if typ.String() != want {
			t.Errorf("type %d is %q, want %q", uint8(typ), typ.String(), want)
		}
	}
	if fsm.IngestBatchType != 1 || fsm.TokenCreateType != 2 || fsm.TokenConsumeType != 3 || fsm.RetentionType != 4 || fsm.MemberUpsertType != 5 || fsm.ServerJoinType != 6 || fsm.IgnoreUnknownTypeFlag != 128 {
		t.Fatal("a message type was renumbered")
	}
	b := cmd(t, fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "x"})
	if b[0] != 2 {
		t.Fatalf("Encode puts type %d first", b[0])
	}
}

// testSnapshotRestore fills one FSM, persists its snapshot into a raft sink,
// restores it into a fresh FSM over a fresh store and checks that both hold
// the same state and go on identically.
func testSnapshotRestore(t *testing.T, fill func(h *harness), check func(t *testing.T, src, dst *harness)) {
	t.Helper()
	src := newHarness(t)
	fill(src)
	if src.applied() == 0 {
		t.Fatal("fill applied nothing")
	}
	snap, err := src.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the snapshot are not part of it.
	srcHash, srcApplied := src.hash(), src.applied()
	later := src.entry(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "after-snapshot", Branch: "z", ExpiresAt: 9, Now: 1})
	src.batch(later)

	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if sink.closed != 1 || sink.cancelled != 0 {
		t.Fatalf("sink closed %d times, cancelled %d", sink.closed, sink.cancelled)
	}

	dst := newHarness(t)
	// Something to be replaced.
	dst.enroll("stale", "stale")
	rc := &readCloser{Reader: bytes.NewReader(sink.Bytes())}
	if err := dst.f.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if rc.closed != 1 {
		t.Fatalf("Restore closed the reader %d times", rc.closed)
	}
	if dst.hash() != srcHash || dst.applied() != srcApplied {
		t.Fatalf("restored applied %d (want %d), hash equal %v", dst.applied(), srcApplied, dst.hash() == srcHash)
	}
	if dst.agent("stale") != nil || dst.token("after-snapshot") != nil {
		t.Fatal("restored store holds what the snapshot does not")
	}

	// The restored FSM skips entries the snapshot covers, applies the next
	// ones, and catches up with the source.
	for _, r := range dst.f.ApplyBatch([]*raft.Log{{Index: srcApplied, Type: raft.LogCommand, Data: []byte{99}}}) {
		if r != nil {
			t.Fatal("an entry covered by the snapshot was applied")
		}
	}
	dst.f.Apply(later)
	if dst.hash() != src.hash() || dst.applied() != src.applied() {
		t.Fatal("restored FSM diverged from the source after the next entry")
	}
	dst.next = dst.applied() + 1
	check(t, src, dst)
}

func TestFSM_SnapshotRestore_Agents(t *testing.T) {
	testSnapshotRestore(t, func(h *harness) {
		for _, a := range []string{"a1", "a2", "a3", "a4"} {
			h.enroll(a, "branch-"+a[1:])
		}
		h.ingest(seqBatch("a2", 3, 1, 1, 77)) // epoch, acked seq, counters
	}, func(t *testing.T, src, dst *harness) {
		want, _ := src.st.Agents("")
		got, err := dst.st.Agents("")
		if err != nil || len(got) != 4 || len(want) != 4 {
			t.Fatalf("agents %d/%d %v", len(got), len(want), err)
		}
		for i := range want {
			if describe(&fsm.TokenResult{Agent: got[i]}) != describe(&fsm.TokenResult{Agent: want[i]}) {
				t.Fatalf("agent %d: %v want %v", i, got[i], want[i])
			}
		}
		if a := dst.agent("a2"); a.Epoch != 3 || a.AckedSeq != 1 || a.LastSeen != 77 || a.Branch != "branch-2" {
			t.Fatalf("a2 %v", a)
		}
		// The restored agent goes on from its acknowledged seq.
		if r := dst.ingest(seqBatch("a2", 3, 1, 1, 78)); r.Status != fsm.IngestDuplicate {
			t.Fatalf("after restore: %+v", r)
		}
	})
}

func TestFSM_SnapshotRestore_Tokens(t *testing.T) {
	testSnapshotRestore(t, func(h *harness) {
		for i, id := range []string{"t1", "t2", "t3"} {
			h.createToken(id, "s-"+id, "b", int64(100+i), 1)
		}
		h.consumeToken("t2", "s-t2", "ag", 50)
	}, func(t *testing.T, src, dst *harness) {
		// Three from the snapshot, one applied after the restore.
		got, err := dst.st.Tokens()
		want, _ := src.st.Tokens()
		if err != nil || len(got) != 4 || len(want) != 4 {
			t.Fatalf("tokens %d/%d %v", len(got), len(want), err)
		}
		for i := range want {
			if describe(&fsm.TokenResult{Token: got[i]}) != describe(&fsm.TokenResult{Token: want[i]}) {
				t.Fatalf("token %d: %v want %v", i, got[i], want[i])
			}
		}
		if tk := dst.token("t2"); tk.UsedBy != "ag" || tk.UsedAt != 50 {
			t.Fatalf("t2 %v", tk)
		}
		// Single use survives the restore; unused tokens stay usable.
		if r := dst.consumeToken("t2", "s-t2", "other", 60); r.Err == nil || r.Err.Code != fsm.TokenErrUsed {
			t.Fatalf("t2 after restore: %+v", r)
		}
		if r := dst.consumeToken("t3", "s-t3", "new", 60); r.Err != nil || r.Agent.Branch != "b" {
			t.Fatalf("t3 after restore: %+v", r)
		}
	})
}

func TestFSM_SnapshotRestore_Events(t *testing.T) {
	testSnapshotRestore(t, func(h *harness) {
		h.enroll("e1", "x")
		h.enroll("e2", "y")
		h.ingest(seqBatch("e1", 1, 1, 50, 1))
		h.ingest(seqBatch("e2", 1, 1, 30, 1))
		h.ingest(batchOf("e2", 2, 1, 2, 5, []evSpec{{0, "zero"}, {-9, "neg"}}))
	}, func(t *testing.T, src, dst *harness) {
		for _, q := range []store.EventQuery{{}, {Branch: "x"}, {Branch: "y"}, {Agent: "e1"}, {Agent: "e2", From: -10, To: 6}, {Branch: "y", Agent: "e1"}} {
			q.Limit = 1000
			w, err1 := src.st.Events(q)
			g, err2 := dst.st.Events(q)
			if err1 != nil || err2 != nil || len(g.Events) != len(w.Events) {
				t.Fatalf("%+v: %d vs %d events (%v %v)", q, len(g.Events), len(w.Events), err1, err2)
			}
			for i := range w.Events {
				we, ge := w.Events[i], g.Events[i]
				if ge.Timestamp != we.Timestamp || ge.AgentID != we.AgentID || ge.Seq != we.Seq || ge.Epoch != we.Epoch ||
					ge.Event.GetOriginal() != we.Event.GetOriginal() {
					t.Fatalf("%+v: event %d differs", q, i)
				}
			}
		}
		if dst.count("e1") != 50 || dst.count("e2") != 32 {
			t.Fatalf("counts %d %d", dst.count("e1"), dst.count("e2"))
		}
		if r := dst.ingest(seqBatch("e1", 1, 40, 51, 9)); r.Status != fsm.IngestStored || r.Stored != 1 {
			t.Fatalf("after restore: %+v", r)
		}
	})
}

func TestFSM_Snapshot_PersistFailureCancels(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	snap, err := h.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &memSink{failWrites: true}
	if err := snap.Persist(sink); err == nil || !strings.Contains(err.Error(), "sink write refused") {
		t.Fatalf("Persist: %v", err)
	}
	if sink.cancelled != 1 || sink.closed != 0 {
		t.Fatalf("sink cancelled %d closed %d", sink.cancelled, sink.closed)
	}
}

func TestFSM_Restore_Garbage(t *testing.T) {
	h := newHarness(t)
	h.enroll("ag", "b")
	before, applied := h.hash(), h.applied()
	rc := &readCloser{Reader: strings.NewReader("garbage")}
	if err := h.f.Restore(rc); err == nil || !strings.Contains(err.Error(), "not a vigil state snapshot") {
		t.Fatalf("Restore: %v", err)
	}
	if rc.closed != 1 || h.hash() != before || h.applied() != applied {
		t.Fatal("a refused restore changed the state or leaked the reader")
	}
	// The FSM still applies from where it was.
	if r := h.ingest(seqBatch("ag", 1, 1, 1, 1)); r.Status != fsm.IngestStored {
		t.Fatalf("%+v", r)
	}
}
