package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func openAt(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(Options{Path: dir, Logger: testLogger()})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func newStore(t testing.TB) *Store {
	t.Helper()
	s := openAt(t, t.TempDir())
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// mkLog builds a log whose contents are derived from idx, so any read can be
// checked against it.
func mkLog(idx uint64) *raft.Log {
	return &raft.Log{
		Index:      idx,
		Term:       idx/10 + 1,
		Type:       raft.LogCommand,
		Data:       fmt.Appendf(nil, "entry-%d", idx),
		AppendedAt: time.Unix(1700000000+int64(idx), int64(idx)),
	}
}

func mkLogs(lo, hi uint64) []*raft.Log {
	var out []*raft.Log
	for i := lo; i <= hi; i++ {
		out = append(out, mkLog(i))
	}
	return out
}

func assertLogEqual(t testing.TB, want, got *raft.Log) {
	t.Helper()
	if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type ||
		!bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Extensions, want.Extensions) ||
		!got.AppendedAt.Equal(want.AppendedAt) || got.AppendedAt.IsZero() != want.AppendedAt.IsZero() {
		t.Fatalf("log mismatch:\n got  %+v\n want %+v", *got, *want)
	}
}

func assertBounds(t testing.TB, s *Store, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatalf("FirstIndex: %v", err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatalf("LastIndex: %v", err)
	}
	if f != first || l != last {
		t.Fatalf("bounds = [%d, %d], want [%d, %d]", f, l, first, last)
	}
}

func assertPresent(t testing.TB, s *Store, lo, hi uint64) {
	t.Helper()
	for i := lo; i <= hi; i++ {
		var got raft.Log
		if err := s.GetLog(i, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		assertLogEqual(t, mkLog(i), &got)
	}
}

func assertMissing(t testing.TB, s *Store, idxs ...uint64) {
	t.Helper()
	for _, i := range idxs {
		var got raft.Log
		if err := s.GetLog(i, &got); err != raft.ErrLogNotFound {
			t.Fatalf("GetLog(%d) = %v, want raft.ErrLogNotFound (unwrapped)", i, err)
		}
	}
}

func TestStore_OpenRequiresPath(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Fatal("Open with empty path succeeded")
	}
}

func TestStore_EmptyStore(t *testing.T) {
	s := newStore(t)
	assertBounds(t, s, 0, 0)
	assertMissing(t, s, 0, 1, 2, math.MaxUint64)
}

func TestStore_LogRoundTrip(t *testing.T) {
	s := newStore(t)
	big := bytes.Repeat([]byte{0xAB}, 1<<20)
	cases := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("hello"), Extensions: []byte("ext"),
			AppendedAt: time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.UTC)},
		{Index: 2, Term: 1, Type: raft.LogNoop},
		{Index: 3, Term: 2, Type: raft.LogAddPeerDeprecated, Data: []byte{0}},
		{Index: 4, Term: 2, Type: raft.LogRemovePeerDeprecated, Extensions: []byte{1, 2, 3}},
		{Index: 5, Term: 3, Type: raft.LogBarrier, AppendedAt: time.Unix(0, 1)},
		{Index: 6, Term: 3, Type: raft.LogConfiguration, Data: []byte("cfg"),
			AppendedAt: time.Date(1900, 1, 1, 0, 0, 0, 5, time.FixedZone("x", 3600))},
		{Index: 7, Term: math.MaxUint64, Type: raft.LogType(255), Data: big, Extensions: big[:1000],
			AppendedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Index: 8, Term: 4, Type: raft.LogCommand, Data: []byte{}, Extensions: []byte{}, AppendedAt: time.Now()},
		{Index: math.MaxUint64, Term: 5, Data: []byte("last possible index")},
	}
	for _, l := range cases {
		if err := s.StoreLog(l); err != nil {
			t.Fatalf("StoreLog(%d): %v", l.Index, err)
		}
	}
	for _, want := range cases {
		var got raft.Log
		if err := s.GetLog(want.Index, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", want.Index, err)
		}
		assertLogEqual(t, want, &got)
		if len(want.Data) == 0 && got.Data != nil || len(want.Extensions) == 0 && got.Extensions != nil {
			t.Fatalf("index %d: empty byte fields should read back nil: %+v", want.Index, got)
		}
	}
	assertBounds(t, s, 1, math.MaxUint64)

	// The stored bytes belong to the store, not to the caller's slices.
	in := &raft.Log{Index: 100, Term: 9, Data: []byte("abc"), Extensions: []byte("xyz")}
	if err := s.StoreLog(in); err != nil {
		t.Fatal(err)
	}
	in.Data[0], in.Extensions[0] = 'Z', 'Z'
	var out raft.Log
	if err := s.GetLog(100, &out); err != nil {
		t.Fatal(err)
	}
	if string(out.Data) != "abc" || string(out.Extensions) != "xyz" {
		t.Fatalf("stored entry aliased caller memory: %+v", out)
	}
	out.Data = append(out.Data, '!')
	if string(out.Extensions) != "xyz" {
		t.Fatalf("appending to Data clobbered Extensions: %q", out.Extensions)
	}
	var again raft.Log
	if err := s.GetLog(100, &again); err != nil || string(again.Data) != "abc" {
		t.Fatalf("GetLog after caller mutation = %+v, %v", again, err)
	}
}

func TestStore_GetLogOverwritesDestination(t *testing.T) {
	s := newStore(t)
	if err := s.StoreLog(&raft.Log{Index: 1, Term: 1, Data: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	got := raft.Log{Index: 9, Term: 9, Type: raft.LogBarrier, Data: []byte("old"),
		Extensions: []byte("old"), AppendedAt: time.Now()}
	if err := s.GetLog(1, &got); err != nil {
		t.Fatal(err)
	}
	assertLogEqual(t, &raft.Log{Index: 1, Term: 1, Data: []byte("d")}, &got)
}

func TestStore_LogsBatch(t *testing.T) {
	s := newStore(t)
	if err := s.StoreLogs(nil); err != nil {
		t.Fatalf("empty StoreLogs: %v", err)
	}
	assertBounds(t, s, 0, 0)

	if err := s.StoreLogs(mkLogs(1, 100)); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 1, 100)
	assertPresent(t, s, 1, 100)
	assertMissing(t, s, 0, 101)

	// Out-of-order batch.
	batch := mkLogs(101, 164)
	rand.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
	if err := s.StoreLogs(batch); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 1, 164)
	assertPresent(t, s, 101, 164)

	// Rejected batches are rejected whole.
	bad := append(mkLogs(165, 170), nil)
	if err := s.StoreLogs(bad); err == nil {
		t.Fatal("StoreLogs with nil entry succeeded")
	}
	if err := s.StoreLogs([]*raft.Log{mkLog(171), {Index: 0, Term: 1}}); err == nil {
		t.Fatal("StoreLogs with index 0 succeeded")
	}
	assertBounds(t, s, 1, 164)
	assertMissing(t, s, 165, 170, 171)

	// Replacing an existing entry (raft does this only after a suffix
	// delete, but the store must not care).
	repl := mkLog(50)
	repl.Term = 99
	if err := s.StoreLog(repl); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := s.GetLog(50, &got); err != nil || got.Term != 99 {
		t.Fatalf("replaced entry = %+v, %v", got, err)
	}
	assertBounds(t, s, 1, 164)
}

func TestStore_DeleteRange(t *testing.T) {
	cases := []struct {
		name             string
		lo, hi           uint64
		first, last      uint64
		present, missing []uint64
	}{
		{name: "prefix", lo: 1, hi: 30, first: 31, last: 100, missing: []uint64{1, 30}, present: []uint64{31, 100}},
		{name: "prefix from below", lo: 0, hi: 1, first: 2, last: 100, missing: []uint64{1}, present: []uint64{2}},
		{name: "suffix", lo: 71, hi: 100, first: 1, last: 70, missing: []uint64{71, 100}, present: []uint64{1, 70}},
		{name: "suffix past end", lo: 100, hi: math.MaxUint64, first: 1, last: 99, missing: []uint64{100}, present: []uint64{99}},
		{name: "middle", lo: 40, hi: 60, first: 1, last: 100, missing: []uint64{40, 50, 60}, present: []uint64{39, 61}},
		{name: "single", lo: 1, hi: 1, first: 2, last: 100, missing: []uint64{1}, present: []uint64{2}},
		{name: "all", lo: 1, hi: 100, first: 0, last: 0, missing: []uint64{1, 50, 100}},
		{name: "everything", lo: 0, hi: math.MaxUint64, first: 0, last: 0, missing: []uint64{1, 100}},
		{name: "beyond", lo: 200, hi: 300, first: 1, last: 100, present: []uint64{1, 100}},
		{name: "inverted", lo: 50, hi: 10, first: 1, last: 100, present: []uint64{10, 50}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if err := s.StoreLogs(mkLogs(1, 100)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteRange(tc.lo, tc.hi); err != nil {
				t.Fatal(err)
			}
			assertBounds(t, s, tc.first, tc.last)
			assertMissing(t, s, tc.missing...)
			for _, i := range tc.present {
				assertPresent(t, s, i, i)
			}
			// The cache must agree with the database.
			if err := s.loadBounds(); err != nil {
				t.Fatal(err)
			}
			assertBounds(t, s, tc.first, tc.last)
		})
	}
}

// TestStore_ConflictTruncation follows raft's follower path: delete a conflicting
// suffix, then append the leader's entries in its place.
func TestStore_ConflictTruncation(t *testing.T) {
	s := newStore(t)
	if err := s.StoreLogs(mkLogs(1, 20)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(15, 20); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 1, 14)
	newer := mkLogs(15, 17)
	for _, l := range newer {
		l.Term = 7
	}
	if err := s.StoreLogs(newer); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 1, 17)
	assertMissing(t, s, 18, 20)
	var got raft.Log
	if err := s.GetLog(16, &got); err != nil || got.Term != 7 {
		t.Fatalf("GetLog(16) = %+v, %v", got, err)
	}
}

// TestStore_LogGaps covers the gap raft leaves after restoring a snapshot into a
// store that is not a MonotonicLogStore.
func TestStore_LogGaps(t *testing.T) {
	s := newStore(t)
	if err := s.StoreLogs(mkLogs(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(mkLogs(20, 25)); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 1, 25)
	assertMissing(t, s, 11, 15, 19)
	if err := s.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 20, 25)
	if err := s.DeleteRange(22, 30); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 20, 21)
	if err := s.DeleteRange(1, 21); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 0, 0)
	if err := s.StoreLogs(mkLogs(500, 501)); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 500, 501)
	if _, ok := any(s).(raft.MonotonicLogStore); ok {
		t.Fatal("Store tolerates gaps and must not claim to be monotonic")
	}
}

// TestStore_MatchesInmemStore drives the store and raft's reference InmemStore
// through the same raft-shaped history (contiguous appends, compaction of
// a prefix, truncation of a suffix) and requires identical answers.
func TestStore_MatchesInmemStore(t *testing.T) {
	s := newStore(t)
	ref := raft.NewInmemStore()
	rng := rand.New(rand.NewPCG(1, 2))
	var next uint64 = 1
	for step := 0; step < 400; step++ {
		first, _ := ref.FirstIndex()
		last, _ := ref.LastIndex()
		var op string
		switch r := rng.IntN(10); {
		case r < 6 || last == 0:
			n := uint64(1 + rng.IntN(20))
			logs := mkLogs(next, next+n-1)
			next += n
			op = fmt.Sprintf("append %d..%d", logs[0].Index, next-1)
			if err := s.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
			_ = ref.StoreLogs(logs)
		case r < 8:
			hi := first + uint64(rng.IntN(int(last-first+1)))
			op = fmt.Sprintf("compact %d..%d", first, hi)
			if err := s.DeleteRange(first, hi); err != nil {
				t.Fatal(err)
			}
			_ = ref.DeleteRange(first, hi)
		default:
			lo := first + uint64(rng.IntN(int(last-first+1)))
			op = fmt.Sprintf("truncate %d..%d", lo, last)
			if err := s.DeleteRange(lo, last); err != nil {
				t.Fatal(err)
			}
			_ = ref.DeleteRange(lo, last)
			next = lo
		}
		wantFirst, _ := ref.FirstIndex()
		wantLast, _ := ref.LastIndex()
		gotFirst, _ := s.FirstIndex()
		gotLast, _ := s.LastIndex()
		if gotFirst != wantFirst || gotLast != wantLast {
			t.Fatalf("step %d (%s): bounds [%d, %d], InmemStore [%d, %d]", step, op, gotFirst, gotLast, wantFirst, wantLast)
		}
		for i := wantFirst; i <= wantLast && wantLast != 0; i++ {
			var a, b raft.Log
			errA, errB := s.GetLog(i, &a), ref.GetLog(i, &b)
			if errA != errB {
				t.Fatalf("step %d (%s): GetLog(%d) err %v, InmemStore %v", step, op, i, errA, errB)
			}
			if errA == nil {
				assertLogEqual(t, &b, &a)
			}
		}
		assertMissing(t, s, wantFirst-1, wantLast+1)
	}
}

func TestStore_Stable(t *testing.T) {
	s := newStore(t)

	if err := s.Set([]byte("hello"), []byte("world")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("hello")); err != nil || string(v) != "world" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := s.Set([]byte("hello"), []byte("again")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("hello")); err != nil || string(v) != "again" {
		t.Fatalf("Get after overwrite = %q, %v", v, err)
	}

	// The returned slice is the caller's.
	v, _ := s.Get([]byte("hello"))
	v[0] = 'X'
	if v2, _ := s.Get([]byte("hello")); string(v2) != "again" {
		t.Fatalf("Get returned aliased memory: %q", v2)
	}

	// Empty values and binary keys, including ones that look like log keys.
	if err := s.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("empty")); err != nil || len(v) != 0 {
		t.Fatalf("Get(empty) = %q, %v", v, err)
	}
	logish := logKey(1)
	if err := s.Set(logish, []byte("stable")); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 0, 0)
	assertMissing(t, s, 1)
	if err := s.StoreLog(mkLog(1)); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(logish); err != nil || string(v) != "stable" {
		t.Fatalf("Get(log-like key) = %q, %v", v, err)
	}

	// Uint64 values share the keyspace, as in raft-boltdb.
	for _, n := range []uint64{0, 1, 1 << 40, math.MaxUint64} {
		if err := s.SetUint64([]byte("CurrentTerm"), n); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetUint64([]byte("CurrentTerm")); err != nil || got != n {
			t.Fatalf("GetUint64 = %d, %v; want %d", got, err, n)
		}
	}
	if v, err := s.Get([]byte("CurrentTerm")); err != nil || len(v) != 8 {
		t.Fatalf("Get of uint64 key = %x, %v", v, err)
	}
	if _, err := s.GetUint64([]byte("hello")); err == nil {
		t.Fatal("GetUint64 of a 5-byte value succeeded")
	}
}

// TestStore_StableMissingKeys pins the exact contract raft relies on: see
// HasExistingState and NewRaft in api.go and requestVote in raft.go, which
// compare err.Error() with "not found".
func TestStore_StableMissingKeys(t *testing.T) {
	s := newStore(t)
	for _, key := range []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand", ""} {
		v, err := s.Get([]byte(key))
		if err == nil || err.Error() != "not found" || !errors.Is(err, ErrKeyNotFound) || v != nil {
			t.Fatalf("Get(%q) = %q, %v; want nil, \"not found\"", key, v, err)
		}
		n, err := s.GetUint64([]byte(key))
		if err == nil || err.Error() != "not found" || n != 0 {
			t.Fatalf("GetUint64(%q) = %d, %v; want 0, \"not found\"", key, n, err)
		}
	}
}

func TestStore_HasExistingState(t *testing.T) {
	snaps := raft.NewDiscardSnapshotStore()

	s := newStore(t)
	if ok, err := raft.HasExistingState(s, s, snaps); err != nil || ok {
		t.Fatalf("fresh store: HasExistingState = %v, %v", ok, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	if ok, err := raft.HasExistingState(s, s, snaps); err != nil || !ok {
		t.Fatalf("with term: HasExistingState = %v, %v", ok, err)
	}

	s2 := newStore(t)
	if err := s2.StoreLog(mkLog(1)); err != nil {
		t.Fatal(err)
	}
	if ok, err := raft.HasExistingState(s2, s2, snaps); err != nil || !ok {
		t.Fatalf("with logs: HasExistingState = %v, %v", ok, err)
	}
}

func TestStore_Reopen(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	if err := s.StoreLogs(mkLogs(1, 300)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 99); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(251, 300); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 42); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, dir)
	defer s.Close()
	assertBounds(t, s, 100, 250)
	assertPresent(t, s, 100, 250)
	assertMissing(t, s, 99, 251)
	if n, err := s.GetUint64([]byte("CurrentTerm")); err != nil || n != 42 {
		t.Fatalf("CurrentTerm after reopen = %d, %v", n, err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
		t.Fatalf("LastVoteCand after reopen = %q, %v", v, err)
	}
}

func TestStore_SecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	defer s.Close()
	if s2, err := Open(Options{Path: dir, Logger: testLogger()}); err == nil {
		_ = s2.Close()
		t.Fatal("second Open of a locked directory succeeded")
	}
}

func TestStore_Closed(t *testing.T) {
	s := openAt(t, t.TempDir())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var l raft.Log
	_, err1 := s.FirstIndex()
	_, err2 := s.LastIndex()
	_, err3 := s.Get([]byte("k"))
	_, err4 := s.GetUint64([]byte("k"))
	for i, err := range []error{
		err1, err2, s.GetLog(1, &l), s.StoreLog(mkLog(1)), s.StoreLogs(mkLogs(1, 2)),
		s.DeleteRange(1, 2), s.Set([]byte("k"), nil), s.SetUint64([]byte("k"), 1), err3, err4,
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call %d after Close: %v, want ErrClosed", i, err)
		}
	}
}

// TestStore_ConcurrentAccess runs raft's access pattern under the race detector:
// one writer appending and compacting, readers fetching entries between
// the bounds they observe.
func TestStore_ConcurrentAccess(t *testing.T) {
	s, err := Open(Options{Path: t.TempDir(), NoSync: true, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const total = 3000
	done := make(chan struct{})
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for next := uint64(1); next <= total; next += 10 {
			if err := s.StoreLogs(mkLogs(next, next+9)); err != nil {
				errc <- err
				return
			}
			if next > 200 && next%100 == 1 {
				if err := s.DeleteRange(s.first.Load(), next-150); err != nil {
					errc <- err
					return
				}
			}
		}
	}()
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, seed))
			var prevLast uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				if last < prevLast {
					errc <- fmt.Errorf("LastIndex went backwards: %d after %d", last, prevLast)
					return
				}
				prevLast = last
				if last == 0 {
					continue
				}
				idx := first + uint64(rng.IntN(int(last-first+1)))
				var got raft.Log
				switch err := s.GetLog(idx, &got); {
				case err == nil:
					if got.Index != idx || !bytes.Equal(got.Data, mkLog(idx).Data) {
						errc <- fmt.Errorf("GetLog(%d) returned %+v", idx, got)
						return
					}
				case err == raft.ErrLogNotFound:
					// Only compaction may remove an entry seen within the
					// bounds. FirstIndex moves just after the delete
					// commits, so allow it a moment to catch up.
					deadline := time.Now().Add(time.Second)
					for idx >= s.first.Load() && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
					if idx >= s.first.Load() {
						errc <- fmt.Errorf("GetLog(%d) not found but first is %d", idx, s.first.Load())
						return
					}
				default:
					errc <- err
					return
				}
			}
		}(uint64(r))
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	assertBounds(t, s, 2752, total)
}
