package fsm_test

import (
	"testing"

	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// TestFSM_Retention_DeletesBeforeCutoff deletes events older than the
// leader's cutoff from the primary table and both indexes, and only those.
func TestFSM_Retention_DeletesBeforeCutoff(t *testing.T) {
	h := newHarness(t)
	h.enroll("a1", "north")
	h.enroll("a2", "south")
	// Timestamps are seq*1000+epoch: seqs 1..100 → 1001..100001.
	if r := h.ingest(seqBatch("a1", 1, 1, 100, 7)); r.Status != fsm.IngestStored {
		t.Fatalf("ingest a1: %+v", r)
	}
	if r := h.ingest(seqBatch("a2", 1, 1, 100, 7)); r.Status != fsm.IngestStored {
		t.Fatalf("ingest a2: %+v", r)
	}
	res, ok := h.apply(fsm.RetentionType, &raftpb.Retention{Cutoff: 40001, Now: 9}).(*fsm.RetentionResult)
	if !ok || res.Cutoff != 40001 {
		t.Fatalf("retention result %#v", res)
	}
	// Seq 40 (ts 40001) stays: the cutoff is exclusive.
	for _, agent := range []string{"a1", "a2"} {
		evs := h.events(agent)
		if len(evs) != 61 || evs[0].Seq != 40 || evs[len(evs)-1].Seq != 100 {
			t.Fatalf("%s after retention: %d events from seq %d", agent, len(evs), evs[0].Seq)
		}
	}
	for _, branch := range []string{"north", "south"} {
		r, err := h.st.Events(store.EventQuery{Branch: branch, Limit: 1000})
		if err != nil || len(r.Events) != 61 {
			t.Fatalf("branch %s index: %d events, %v", branch, len(r.Events), err)
		}
	}
	all, err := h.st.Events(store.EventQuery{Limit: 1000})
	if err != nil || len(all.Events) != 122 || all.Scanned != 122 {
		t.Fatalf("primary: %d events, %d scanned, %v", len(all.Events), all.Scanned, err)
	}
	// Acked seqs are untouched: a resend of deleted seqs is still a duplicate.
	if r := h.ingest(seqBatch("a1", 1, 1, 10, 8)); r.Status != fsm.IngestDuplicate {
		t.Fatalf("resend after retention: %+v", r)
	}
}

// TestFSM_Retention_SameResultAcrossBatching applies enroll, ingest and
// retention in one ApplyBatch on one node and one by one on another; the
// states must be identical.
func TestFSM_Retention_SameResultAcrossBatching(t *testing.T) {
	a, b := newHarness(t), newHarness(t)
	for _, h := range []*harness{a, b} {
		h.enroll("seed", "west")
	}
	tokA := a.entry(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "t1", SecretHash: "h", Branch: "east", ExpiresAt: 1 << 62, Now: 1})
	conA := a.entry(fsm.TokenConsumeType, &raftpb.TokenConsume{TokenId: "t1", SecretHash: "h", AgentId: "new", Now: 2})
	ingA := a.entry(fsm.IngestBatchType, seqBatch("new", 1, 1, 50, 3))
	retA := a.entry(fsm.RetentionType, &raftpb.Retention{Cutoff: 20001, Now: 4})
	a.batch(tokA, conA, ingA, retA)
	b.apply(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "t1", SecretHash: "h", Branch: "east", ExpiresAt: 1 << 62, Now: 1})
	b.apply(fsm.TokenConsumeType, &raftpb.TokenConsume{TokenId: "t1", SecretHash: "h", AgentId: "new", Now: 2})
	b.apply(fsm.IngestBatchType, seqBatch("new", 1, 1, 50, 3))
	b.apply(fsm.RetentionType, &raftpb.Retention{Cutoff: 20001, Now: 4})
	if a.hash() != b.hash() {
		t.Fatal("state differs between batched and one-by-one application")
	}
	r, err := a.st.Events(store.EventQuery{Branch: "east", Limit: 1000})
	if err != nil || len(r.Events) != 31 {
		t.Fatalf("branch index of an agent enrolled in the same batch: %d events, %v", len(r.Events), err)
	}
}
