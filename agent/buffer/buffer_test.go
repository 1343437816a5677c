package buffer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func open(t *testing.T, cfg Config) *Buffer {
	t.Helper()
	b, err := Open(cfg, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func recs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("event-%06d", from+i))
	}
	return out
}

func readAll(t *testing.T, b *Buffer, from uint64) []Record {
	t.Helper()
	got, err := b.Read(from, 1<<30, 1<<30, nil)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBuffer_AppendReadAckReopen(t *testing.T) {
	dir := t.TempDir()
	b := open(t, Config{Dir: dir})
	epoch := b.Epoch()
	first, err := b.Append(context.Background(), recs(1, 10), Checkpoint{Name: "file:/a", Value: []byte("100")})
	if err != nil || first != 1 {
		t.Fatalf("append: first=%d err=%v", first, err)
	}
	first, _ = b.Append(context.Background(), recs(11, 5))
	if first != 11 {
		t.Fatalf("second append first=%d, want 11", first)
	}
	got := readAll(t, b, 1)
	if len(got) != 15 || got[14].Seq != 15 || string(got[14].Data) != "event-000015" {
		t.Fatalf("read %d records, last %+v", len(got), got[len(got)-1])
	}
	if lim, _ := b.Read(3, 4, 1<<20, nil); len(lim) != 4 || lim[0].Seq != 3 {
		t.Fatalf("count-limited read: %v", lim)
	}
	if lim, _ := b.Read(1, 100, 1, nil); len(lim) != 1 {
		t.Fatalf("byte-limited read must still return one record, got %d", len(lim))
	}
	if err := b.Ack(12); err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(99); err == nil {
		t.Fatal("ack beyond last seq accepted")
	}
	st := b.Stats()
	if st.Depth != 3 || st.AckedSeq != 12 || st.LastSeq != 15 {
		t.Fatalf("stats %+v", st)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = open(t, Config{Dir: dir})
	defer b.Close()
	if b.Epoch() != epoch {
		t.Fatalf("epoch changed on reopen: %d -> %d", epoch, b.Epoch())
	}
	got = readAll(t, b, 1)
	if len(got) != 3 || got[0].Seq != 13 {
		t.Fatalf("after reopen: %d records from %v", len(got), got)
	}
	if cp, ok, _ := b.Checkpoint("file:/a"); !ok || string(cp) != "100" {
		t.Fatalf("checkpoint %q %v", cp, ok)
	}
	// Seqs continue; never reused within the epoch, even after everything is acked.
	_ = b.Ack(15)
	first, _ = b.Append(context.Background(), recs(16, 1))
	if first != 16 {
		t.Fatalf("seq after full ack = %d, want 16", first)
	}
	if s := b.Stats(); s.Bytes != int64(len("event-000016"))+recordOverhead {
		t.Fatalf("byte accounting after acks: %d", s.Bytes)
	}
}

func TestBuffer_WhenFull(t *testing.T) {
	per := int64(len("event-000000")) + recordOverhead
	b := open(t, Config{Dir: t.TempDir(), MaxBytes: 10 * per})
	defer b.Close()
	if _, err := b.Append(context.Background(), recs(1, 10)); err != nil {
		t.Fatal(err)
	}
	// UDP-style: refused at once and counted.
	if _, err := b.TryAppend(recs(11, 3)); !errors.Is(err, ErrFull) {
		t.Fatalf("TryAppend on full buffer: %v", err)
	}
	if s := b.Stats(); s.DroppedFull != 3 {
		t.Fatalf("dropped_full = %d, want 3", s.DroppedFull)
	}
	// Blocking append waits, and gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Append(ctx, recs(11, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked append: %v", err)
	}
	// An ack frees space and wakes a blocked appender.
	done := make(chan uint64)
	go func() {
		seq, err := b.Append(context.Background(), recs(11, 2))
		if err != nil {
			t.Error(err)
		}
		done <- seq
	}()
	select {
	case <-done:
		t.Fatal("append did not block on a full buffer")
	case <-time.After(20 * time.Millisecond):
	}
	if err := b.Ack(2); err != nil {
		t.Fatal(err)
	}
	if seq := <-done; seq != 11 {
		t.Fatalf("unblocked append got seq %d", seq)
	}
	if _, err := b.Append(context.Background(), recs(0, 11)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized append: %v", err)
	}
	s := b.Stats()
	if s.Blocked < 2 || s.Depth != 10 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBuffer_NotifyAndConcurrentAppendOrder(t *testing.T) {
	b := open(t, Config{Dir: t.TempDir(), Fsync: FsyncInterval, FsyncInterval: 10 * time.Millisecond})
	defer b.Close()
	n := b.Notify()
	const writers, each = 8, 200
	errc := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if _, err := b.Append(context.Background(), recs(i, 3)); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for w := 0; w < writers; w++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-n:
	default:
		t.Fatal("notify channel not closed after commits")
	}
	// With fsync "interval" nothing is readable before the next sync.
	deadline := time.Now().Add(5 * time.Second)
	for b.DurableSeq() < b.LastSeq() && time.Now().Before(deadline) {
		<-b.Notify()
	}
	got := readAll(t, b, 1)
	if len(got) != writers*each*3 {
		t.Fatalf("read %d", len(got))
	}
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d: gap or reorder", i, r.Seq)
		}
	}
	if s := b.Stats(); s.Commits >= uint64(writers*each) {
		t.Logf("no group commit happened (%d commits)", s.Commits)
	}
}

// TestBuffer_SurvivesKill9 appends in a child process that is killed with
// SIGKILL right after it reported an Append as returned; every reported
// record must be there on reopen.
func TestBuffer_SurvivesKill9(t *testing.T) {
	if dir := os.Getenv("VIGIL_BUFFER_CHILD"); dir != "" {
		b, err := Open(Config{Dir: dir}, nil, time.Now)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		start := 0
		if cp, ok, _ := b.Checkpoint("pos"); ok {
			n, _ := strconv.Atoi(string(cp))
			start = n + 1
		}
		for i := start; ; i++ {
			seq, err := b.Append(context.Background(), recs(i*50, 50), Checkpoint{Name: "pos", Value: []byte(strconv.Itoa(i))})
			if err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Printf("acked %d\n", seq+49)
		}
	}
	dir := t.TempDir()
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBuffer_SurvivesKill9$")
		cmd.Env = append(os.Environ(), "VIGIL_BUFFER_CHILD="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var acked uint64
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatal(line)
			}
			if v, ok := strings.CutPrefix(line, "acked "); ok {
				acked, _ = strconv.ParseUint(v, 10, 64)
				if acked >= uint64((round+1)*2000) {
					break
				}
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		b := open(t, Config{Dir: dir})
		got := readAll(t, b, 1)
		if uint64(len(got)) < acked {
			t.Fatalf("round %d: child reported %d records durable, %d survived kill -9", round, acked, len(got))
		}
		for i, r := range got {
			if r.Seq != uint64(i+1) {
				t.Fatalf("round %d: gap at %d (seq %d)", round, i, r.Seq)
			}
		}
		cp, ok, _ := b.Checkpoint("pos")
		n, _ := strconv.Atoi(string(cp))
		if !ok || uint64(n+1)*50 != uint64(len(got)) {
			t.Fatalf("round %d: checkpoint %q does not cover exactly the %d records present", round, cp, len(got))
		}
		b.Close()
	}
}

func TestBuffer_SetEpochKeepsRecordsAndSeqs(t *testing.T) {
	dir := t.TempDir()
	b := open(t, Config{Dir: dir})
	e := b.Epoch()
	if _, err := b.Append(context.Background(), recs(1, 5)); err != nil {
		t.Fatal(err)
	}
	if err := b.SetEpoch(e); err == nil {
		t.Fatal("SetEpoch to the same epoch accepted")
	}
	if err := b.SetEpoch(e + 10); err != nil {
		t.Fatal(err)
	}
	first, _ := b.Append(context.Background(), recs(6, 1))
	if first != 6 {
		t.Fatalf("seq after SetEpoch = %d, want 6 (numbering continues)", first)
	}
	// Nothing was acknowledged: the new epoch begins at seq 1.
	if b.EpochStart() != 1 {
		t.Fatalf("epoch start %d, want 1", b.EpochStart())
	}
	_ = b.Ack(6)
	if err := b.SetEpoch(e + 20); err != nil || b.EpochStart() != 7 {
		t.Fatalf("epoch start after ack 6: %d (%v), want 7", b.EpochStart(), err)
	}
	b.Close()
	b = open(t, Config{Dir: dir})
	defer b.Close()
	if b.Epoch() != e+20 || b.EpochStart() != 7 || b.LastSeq() != 6 {
		t.Fatalf("after reopen: epoch %d (want %d), start %d, last %d", b.Epoch(), e+20, b.EpochStart(), b.LastSeq())
	}
}

// TestBuffer_IntervalReadsOnlyDurable checks that with fsync "interval" a
// record is not handed to the shipper before it is synced, so the hub can
// never acknowledge a seq a crash could take back.
func TestBuffer_IntervalReadsOnlyDurable(t *testing.T) {
	b := open(t, Config{Dir: t.TempDir(), Fsync: FsyncInterval, FsyncInterval: time.Hour})
	defer b.Close()
	if _, err := b.Append(context.Background(), recs(1, 10)); err != nil {
		t.Fatal(err)
	}
	if b.LastSeq() != 10 || b.DurableSeq() != 0 {
		t.Fatalf("last %d durable %d, want 10 and 0 before any sync", b.LastSeq(), b.DurableSeq())
	}
	if got := readAll(t, b, 1); len(got) != 0 {
		t.Fatalf("read %d unsynced records", len(got))
	}
	// fsync "always": durable at once.
	a := open(t, Config{Dir: t.TempDir()})
	defer a.Close()
	if _, err := a.Append(context.Background(), recs(1, 3)); err != nil {
		t.Fatal(err)
	}
	if a.DurableSeq() != 3 || len(readAll(t, a, 1)) != 3 {
		t.Fatalf("always: durable %d", a.DurableSeq())
	}
}

func TestBuffer_IntervalSyncMakesDurable(t *testing.T) {
	b := open(t, Config{Dir: t.TempDir(), Fsync: FsyncInterval, FsyncInterval: 5 * time.Millisecond})
	defer b.Close()
	if _, err := b.Append(context.Background(), recs(1, 4)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.DurableSeq() < 4 {
		if time.Now().After(deadline) {
			t.Fatal("sync never made the records durable")
		}
		<-b.Notify()
	}
	if got := readAll(t, b, 1); len(got) != 4 {
		t.Fatalf("read %d after sync", len(got))
	}
}

func TestBuffer_DeadLetters(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(DefaultConfig(dir), nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		id, err := b.PutDeadLetter(DeadLetter{Input: "fw", Parser: "parser.acme", Error: "plugin crashed", Attempts: 3, Record: []byte(fmt.Sprintf("rec-%d", i))})
		if err != nil || id != uint64(i+1) {
			t.Fatalf("put %d: id %d, %v", i, id, err)
		}
	}
	if ok, err := b.DeleteDeadLetter(2); !ok || err != nil {
		t.Fatalf("delete 2: %v %v", ok, err)
	}
	if ok, _ := b.DeleteDeadLetter(2); ok {
		t.Fatal("deleted 2 twice")
	}
	b.Close()
	// Ids keep growing across a restart, never reusing a dropped one.
	b, err = Open(DefaultConfig(dir), nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id, err := b.PutDeadLetter(DeadLetter{Input: "fw", Record: []byte("rec-3")})
	if err != nil || id != 4 {
		t.Fatalf("put after restart: id %d, %v", id, err)
	}
	list, total, err := b.DeadLetters(0, 10)
	if err != nil || total != 3 || len(list) != 3 {
		t.Fatalf("list: %d of %d, %v", len(list), total, err)
	}
	var got []string
	for _, dl := range list {
		got = append(got, fmt.Sprintf("%d:%s", dl.ID, dl.Record))
	}
	if want := "1:rec-0 3:rec-2 4:rec-3"; strings.Join(got, " ") != want {
		t.Errorf("dead letters %v, want %s", got, want)
	}
	if page, total, _ := b.DeadLetters(1, 1); len(page) != 1 || page[0].ID != 3 || total != 3 {
		t.Errorf("page after 1: %+v (total %d)", page, total)
	}
	dl, ok, err := b.DeadLetter(1)
	if err != nil || !ok || dl.Error != "plugin crashed" || dl.Attempts != 3 || dl.Parser != "parser.acme" {
		t.Errorf("get 1: %+v %v %v", dl, ok, err)
	}
	// Dead letters are not queue records: nothing is shipped.
	if st := b.Stats(); st.LastSeq != 0 {
		t.Errorf("last seq %d after dead letters only", st.LastSeq)
	}
}
