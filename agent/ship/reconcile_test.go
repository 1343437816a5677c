package ship_test

import (
	"github.com/vigil-sec/vigil/hub/hubtest"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/hub/store"
)

// storedByEpoch counts stored events per epoch and seq.
func storedByEpoch(t *testing.T, st *store.Store, agentID string) map[uint64]map[uint64]int {
	t.Helper()
	out := map[uint64]map[uint64]int{}
	q := store.EventQuery{Agent: agentID, Limit: 10000}
	for {
		res, err := st.Events(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Events {
			if out[e.Epoch] == nil {
				out[e.Epoch] = map[uint64]int{}
			}
			out[e.Epoch][e.Seq]++
		}
		if res.Next == "" {
			return out
		}
		q.Cursor = res.Next
	}
}

func assertRange(t *testing.T, got map[uint64]int, first, last uint64) {
	t.Helper()
	if len(got) != int(last-first+1) {
		t.Fatalf("%d distinct seqs stored, want %d (%d..%d)", len(got), last-first+1, first, last)
	}
	for s := first; s <= last; s++ {
		if got[s] != 1 {
			t.Fatalf("seq %d stored %d times", s, got[s])
		}
	}
}

func openBufferAt(t *testing.T, epochTime time.Time) *buffer.Buffer {
	t.Helper()
	b, err := buffer.Open(buffer.Config{Dir: t.TempDir()}, hubtest.Logger(), func() time.Time { return epochTime })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestShipper_HubAheadOfLostBuffer models an agent whose unsynced buffer
// lost records the hub already committed: same epoch, hub acked seq beyond
// the buffer's last. The agent must release what it holds, move to a new
// epoch, and deliver its new records without reusing those seqs.
func TestShipper_HubAheadOfLostBuffer(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("branch-a")
	t0 := time.Now()
	first := openBufferAt(t, t0)
	appendRecords(t, first, 1, 300, 100)
	startShipper(t, h, a, first)
	hubtest.WaitFor(t, 20*time.Second, "300 acknowledged", func() bool { return first.AckedSeq() == 300 })

	// The "same" buffer after a crash that lost seqs 101..300.
	lost := openBufferAt(t, t0)
	if lost.Epoch() != first.Epoch() {
		t.Fatal("test setup: epochs differ")
	}
	appendRecords(t, lost, 1, 100, 100)
	startShipper(t, h, a, lost)
	hubtest.WaitFor(t, 20*time.Second, "move to a new epoch", func() bool { return lost.Epoch() > first.Epoch() })
	appendRecords(t, lost, 101, 150, 50)
	hubtest.WaitFor(t, 20*time.Second, "new records acknowledged", func() bool { return lost.AckedSeq() == 150 })

	got := storedByEpoch(t, h.Srv.Store(), a.ID.AgentID)
	if len(got) != 2 {
		t.Fatalf("events in %d epochs, want 2", len(got))
	}
	assertRange(t, got[first.Epoch()], 1, 300)
	assertRange(t, got[lost.Epoch()], 101, 150)
}

// TestShipper_HubHoldsNewerEpoch models an agent whose buffer was recreated
// while its clock was behind: its epoch is older than the one the hub holds.
// It must move past the hub's epoch and deliver everything.
func TestShipper_HubHoldsNewerEpoch(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("branch-a")
	now := time.Now()
	first := openBufferAt(t, now)
	appendRecords(t, first, 1, 50, 50)
	startShipper(t, h, a, first)
	hubtest.WaitFor(t, 20*time.Second, "50 acknowledged", func() bool { return first.AckedSeq() == 50 })

	behind := openBufferAt(t, now.Add(-time.Hour))
	appendRecords(t, behind, 1, 20, 20)
	startShipper(t, h, a, behind)
	hubtest.WaitFor(t, 20*time.Second, "recreated buffer delivered", func() bool { return behind.AckedSeq() == 20 })
	if behind.Epoch() <= first.Epoch() {
		t.Fatalf("epoch %d not moved past the hub's %d", behind.Epoch(), first.Epoch())
	}
	got := storedByEpoch(t, h.Srv.Store(), a.ID.AgentID)
	assertRange(t, got[first.Epoch()], 1, 50)
	assertRange(t, got[behind.Epoch()], 1, 20)
}
