package ship_test

import (
	"context"
	"fmt"
	"github.com/vigil-sec/vigil/hub/hubtest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/ship"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/event"
)

func openBuffer(t *testing.T) *buffer.Buffer {
	t.Helper()
	b, err := buffer.Open(buffer.Config{Dir: t.TempDir()}, hubtest.Logger(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func original(i int) string { return fmt.Sprintf("<13>Oct 11 22:14:15 host app: record %05d", i) }

// appendRecords appends records first..last (1-based, as the seq they get in
// a fresh buffer) in chunks of chunk.
func appendRecords(t *testing.T, b *buffer.Buffer, first, last, chunk int) {
	t.Helper()
	var enc event.Encoder
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := first; i <= last; {
		var recs [][]byte
		for ; i <= last && len(recs) < chunk; i++ {
			ts := base.Add(time.Duration(i) * time.Millisecond).UnixNano()
			enc.Begin(ts, time.Now().UnixNano(), "syslog_udp", "parser.raw", original(i))
			enc.Int("n", int64(i))
			recs = append(recs, append([]byte(nil), enc.Bytes()...))
		}
		if _, err := b.Append(context.Background(), recs); err != nil {
			t.Errorf("append: %v", err)
			return
		}
	}
}

func startShipper(t *testing.T, h *hubtest.Hub, a *hubtest.Agent, b *buffer.Buffer) *ship.Shipper {
	t.Helper()
	sh, err := ship.New(ship.Config{
		Hubs: []string{h.IngestAddr()}, TLS: a.ClientTLS(t), MaxBatchEvents: 500,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		DialTimeout: 2 * time.Second, AckTimeout: 3 * time.Second,
		Hostname: "branch-host", AgentVersion: "test",
	}, b, hubtest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sh.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("shipper did not stop")
		}
	})
	return sh
}

// storedSeqs returns how many times the hub stored each seq of the agent, and
// checks every stored event is the record appended with that seq.
func storedSeqs(t *testing.T, st *store.Store, agentID string) map[uint64]int {
	t.Helper()
	counts := map[uint64]int{}
	q := store.EventQuery{Agent: agentID, Limit: 10000}
	for {
		res, err := st.Events(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Events {
			counts[e.Seq]++
			if want := original(int(e.Seq)); e.Event.Original != want {
				t.Fatalf("seq %d holds %q, want %q", e.Seq, e.Event.Original, want)
			}
			if e.AgentID != agentID {
				t.Fatalf("event of agent %q in agent %q's index", e.AgentID, agentID)
			}
		}
		if res.Next == "" {
			return counts
		}
		q.Cursor = res.Next
	}
}

func assertExactlyOnce(t *testing.T, counts map[uint64]int, n int) {
	t.Helper()
	var missing, dup []string
	for s := 1; s <= n; s++ {
		switch c := counts[uint64(s)]; {
		case c == 0:
			missing = append(missing, fmt.Sprint(s))
		case c > 1:
			dup = append(dup, fmt.Sprintf("%d×%d", s, c))
		}
	}
	if len(counts) > n {
		t.Errorf("hub stored %d distinct seqs, want %d", len(counts), n)
	}
	if len(missing) > 0 || len(dup) > 0 {
		t.Fatalf("not exactly once: %d missing (%s), %d duplicated (%s)",
			len(missing), head(missing), len(dup), head(dup))
	}
}

func head(s []string) string {
	if len(s) > 10 {
		s = s[:10]
	}
	return strings.Join(s, ",")
}

func TestShipper_DeliversAllAndAcks(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("branch-a")
	buf := openBuffer(t)
	const n = 5000
	appendRecords(t, buf, 1, n, 250)
	sh := startShipper(t, h, a, buf)

	hubtest.WaitFor(t, 30*time.Second, "buffer acknowledged to the last seq", func() bool { return buf.AckedSeq() == n })
	assertExactlyOnce(t, storedSeqs(t, h.Srv.Store(), a.ID.AgentID), n)

	rec, err := h.Srv.Store().Agent(a.ID.AgentID)
	if err != nil || rec == nil {
		t.Fatalf("agent record: %v %v", rec, err)
	}
	if rec.AckedSeq != n || rec.Events != n || rec.Epoch != buf.Epoch() || rec.Branch != "branch-a" || rec.Hostname != "branch-host" {
		t.Errorf("agent record = acked %d events %d epoch %d (buffer %d) branch %q host %q",
			rec.AckedSeq, rec.Events, rec.Epoch, buf.Epoch(), rec.Branch, rec.Hostname)
	}
	st := buf.Stats()
	if st.Depth != 0 || st.Bytes != 0 {
		t.Errorf("buffer after full ack: depth %d, bytes %d; want 0, 0", st.Depth, st.Bytes)
	}
	ss := sh.Status()
	if ss.State != "connected" || ss.EventsAcked != n || ss.Inflight != 0 || ss.Duplicates != 0 {
		t.Errorf("shipper status = %+v", ss)
	}
	if ss.BatchesAcked < n/500 || ss.BatchesAcked != ss.BatchesSent {
		t.Errorf("batches sent %d, acked %d; want equal and at least %d", ss.BatchesSent, ss.BatchesAcked, n/500)
	}

	// Records appended while connected are shipped without a reconnect.
	appendRecords(t, buf, n+1, n+10, 10)
	hubtest.WaitFor(t, 10*time.Second, "late records acknowledged", func() bool { return buf.AckedSeq() == n+10 })
	assertExactlyOnce(t, storedSeqs(t, h.Srv.Store(), a.ID.AgentID), n+10)
	if r := sh.Status().Reconnects; r != 0 {
		t.Errorf("reconnects = %d, want 0", r)
	}
}

func TestShipper_HubRestartMidStreamExactlyOnce(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("branch-a")
	buf := openBuffer(t)
	sh := startShipper(t, h, a, buf)

	const n = 5000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// A steady stream, so the hub goes down with batches in flight.
		for i := 1; i <= n; i += 50 {
			appendRecords(t, buf, i, i+49, 50)
			time.Sleep(time.Millisecond)
		}
	}()
	hubtest.WaitFor(t, 30*time.Second, "part of the stream acknowledged", func() bool { return buf.AckedSeq() >= 1000 })
	h.Stop()
	stoppedAt := buf.AckedSeq()
	h.Start()
	wg.Wait()

	hubtest.WaitFor(t, 30*time.Second, "every record acknowledged after the restart", func() bool { return buf.AckedSeq() == n })
	if stoppedAt >= n {
		t.Fatalf("hub stopped only after everything was acknowledged (%d); the test did not interrupt the stream", stoppedAt)
	}
	assertExactlyOnce(t, storedSeqs(t, h.Srv.Store(), a.ID.AgentID), n)
	if r := sh.Status().Reconnects; r < 1 {
		t.Errorf("reconnects = %d, want at least 1", r)
	}
	rec, err := h.Srv.Store().Agent(a.ID.AgentID)
	if err != nil || rec == nil || rec.AckedSeq != n || rec.Events != n {
		t.Fatalf("agent record after restart: %+v, %v", rec, err)
	}
}

func TestShipper_AgentRestartResumesAfterAckedSeq(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("branch-a")
	dir := t.TempDir()
	buf, err := buffer.Open(buffer.Config{Dir: dir}, hubtest.Logger(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	appendRecords(t, buf, 1, 300, 100)
	sh, err := ship.New(ship.Config{Hubs: []string{h.IngestAddr()}, TLS: a.ClientTLS(t), MaxBatchEvents: 100}, buf, hubtest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sh.Run(ctx) }()
	hubtest.WaitFor(t, 20*time.Second, "first records acknowledged", func() bool { return buf.AckedSeq() == 300 })
	cancel()
	<-done
	// Restart the agent: a new buffer handle and a new shipper.
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	buf, err = buffer.Open(buffer.Config{Dir: dir}, hubtest.Logger(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = buf.Close() })
	appendRecords(t, buf, 301, 400, 100)
	startShipper(t, h, a, buf)
	hubtest.WaitFor(t, 20*time.Second, "all acknowledged", func() bool { return buf.AckedSeq() == 400 })
	assertExactlyOnce(t, storedSeqs(t, h.Srv.Store(), a.ID.AgentID), 400)
}

func TestShipper_NewValidatesConfig(t *testing.T) {
	buf := openBuffer(t)
	if _, err := ship.New(ship.Config{}, buf, hubtest.Logger()); err == nil || !strings.Contains(err.Error(), "no hub address") {
		t.Errorf("New without hubs: %v", err)
	}
	if _, err := ship.New(ship.Config{Hubs: []string{"127.0.0.1:1"}}, buf, hubtest.Logger()); err == nil || !strings.Contains(err.Error(), "TLS configuration required") {
		t.Errorf("New without TLS: %v", err)
	}
}
