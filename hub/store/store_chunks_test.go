package store_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

const hour = int64(3600 * 1e9)

var modelAgents = []*raftpb.AgentRecord{
	{Id: "m-a", Branch: "north"}, {Id: "m-b", Branch: "north"}, {Id: "m-c", Branch: "south"}, {Id: "m-cc", Branch: "south"},
}

// modelBatches makes batches of consecutive seqs per agent and epoch whose
// events mostly follow a clock with jitter, with outliers hours away, so
// that chunks overlap in time, split, and straddle any instant.
func modelBatches(rng *rand.Rand, n int) [][]ev {
	type state struct {
		epoch, seq uint64
		clock      int64
	}
	st := map[string]*state{}
	for _, a := range modelAgents {
		st[a.Id] = &state{epoch: 1, clock: 10 * hour}
	}
	var out [][]ev
	for i := 0; i < n; i++ {
		a := modelAgents[rng.IntN(len(modelAgents))]
		s := st[a.Id]
		if rng.IntN(15) == 0 {
			s.epoch++
		}
		var batch []ev
		for k := 1 + rng.IntN(40); k > 0; k-- {
			s.seq++
			s.clock += rng.Int64N(hour / 20)
			ts := s.clock - rng.Int64N(hour/4)
			switch rng.IntN(30) {
			case 0:
				ts -= 3 * hour
			case 1:
				ts += 2 * hour
			case 2:
				ts = s.clock // a tie with the next one, perhaps
			}
			batch = append(batch, ev{ts: ts, agent: a.Id, branch: a.Branch, epoch: s.epoch, seq: s.seq,
				original: fmt.Sprintf("%s/%d/%d", a.Id, s.epoch, s.seq), fields: []field{{"odd", s.seq%2 == 1}}})
		}
		out = append(out, batch)
	}
	return out
}

func modelStore(t *testing.T, rng *rand.Rand, batches int) (*store.Store, []ev) {
	t.Helper()
	s := newStore(t)
	write(t, s, 1, modelAgents, nil, nil)
	var all []ev
	for i, b := range modelBatches(rng, batches) {
		putEvents(t, s, uint64(i+2), b...)
		all = append(all, b...)
	}
	return s, all
}

// want is what q should return, in order, from the model.
func want(all []ev, q store.EventQuery) []id {
	var out []id
	for _, e := range all {
		if (q.From != 0 && e.ts < q.From) || (q.To != 0 && e.ts >= q.To) ||
			(q.Agent != "" && e.agent != q.Agent) || (q.Branch != "" && e.branch != q.Branch) {
			continue
		}
		if v, ok := q.Fields["odd"]; ok && v != fmt.Sprint(e.seq%2 == 1) {
			continue
		}
		out = append(out, e.id())
	}
	return sortIDs(out)
}

// TestStore_Events_MergeMatchesModel pages random queries over chunks that
// overlap in time and compares them with a sorted list of the events.
func TestStore_Events_MergeMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s, all := modelStore(t, rng, 120)
	if got, want := ids(query(t, s, store.EventQuery{Limit: 10000})), want(all, store.EventQuery{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("all events: got %d, want %d", len(got), len(want))
	}
	times := make([]int64, len(all))
	for i, e := range all {
		times[i] = e.ts
	}
	pick := func() int64 {
		if rng.IntN(4) == 0 {
			return 0
		}
		return times[rng.IntN(len(times))] + rng.Int64N(3) - 1
	}
	for i := 0; i < 300; i++ {
		q := store.EventQuery{From: pick(), To: pick(), Limit: 1 + rng.IntN(60)}
		switch rng.IntN(5) {
		case 0:
			q.Agent = modelAgents[rng.IntN(len(modelAgents))].Id
		case 1:
			q.Branch = modelAgents[rng.IntN(len(modelAgents))].Branch
		case 2:
			a := modelAgents[rng.IntN(len(modelAgents))]
			q.Agent, q.Branch = a.Id, a.Branch
		}
		if rng.IntN(3) == 0 {
			q.Fields = map[string]string{"odd": fmt.Sprint(rng.IntN(2) == 0)}
		}
		if rng.IntN(3) == 0 {
			q.MaxScan = 1 + rng.IntN(30)
		}
		w := want(all, q)
		var got []id
		scanned := 0
		for page := 0; ; page++ {
			if page > 5000 {
				t.Fatalf("%+v: paging does not end", q)
			}
			res := query(t, s, q)
			if len(res.Events) > q.Limit || (q.MaxScan > 0 && res.Scanned > q.MaxScan) {
				t.Fatalf("%+v: page of %d events, %d scanned", q, len(res.Events), res.Scanned)
			}
			got = append(got, ids(res)...)
			scanned += res.Scanned
			if res.Next == "" {
				break
			}
			q.Cursor = res.Next
		}
		if !reflect.DeepEqual(got, w) && !(len(got) == 0 && len(w) == 0) {
			t.Fatalf("query %d %+v:\n got  %v\n want %v", i, q, got, w)
		}
		// Every event of the range and selection is examined exactly once.
		q.Fields, q.Cursor = nil, ""
		if n := len(want(all, q)); scanned != n {
			t.Fatalf("query %d %+v: %d examined in all pages, %d in range", i, q, scanned, n)
		}
	}
}

// TestStore_Chunks_SplitBySpan stores one run whose events span far more
// than a chunk may and checks that it is cut into chunks within the span.
func TestStore_Chunks_SplitBySpan(t *testing.T) {
	times := []int64{0, hour, hour + 1, 5, 3 * hour, -hour, math.MaxInt64, math.MinInt64, 7}
	recs := make([]store.ChunkRecord, len(times))
	for i, ts := range times {
		recs[i] = store.ChunkRecord{Ts: ts, Data: []byte{byte(i)}}
	}
	var got [][2]int
	err := store.SplitChunks(recs, func(first, end int, minTs, maxTs int64, rawLen int) error {
		got = append(got, [2]int{first, end})
		lo, hi := slices.Min(times[first:end]), slices.Max(times[first:end])
		if lo != minTs || hi != maxTs || rawLen != 2*(end-first) {
			t.Errorf("chunk %d-%d: bounds %d..%d size %d", first, end, minTs, maxTs, rawLen)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Greedy, in seq order: 0 and hour fit (a span of exactly one hour);
	// hour+1 does not, but 5 fits with it; everything else stands alone.
	if want := [][2]int{{0, 2}, {2, 4}, {4, 5}, {5, 6}, {6, 7}, {7, 8}, {8, 9}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("chunks %v, want %v", got, want)
	}
	if err := store.SplitChunks(nil, func(int, int, int64, int64, int) error { t.Fatal("chunk of nothing"); return nil }); err != nil {
		t.Fatal(err)
	}

	// Through the store: every query over a run with a wide span.
	s := newStore(t)
	var evs []ev
	for i, ts := range []int64{0, hour, hour + 1, 5, 3 * hour, -hour, 1 << 62, -1 << 62, 7} {
		evs = append(evs, ev{ts: ts, agent: "w", branch: "b", epoch: 1, seq: uint64(i + 1)})
	}
	write(t, s, 1, []*raftpb.AgentRecord{{Id: "w", Branch: "b"}}, nil, evs)
	for _, q := range []store.EventQuery{{}, {From: 6}, {From: hour}, {From: 1, To: hour + 1}, {To: -1}, {From: 2 * hour}} {
		for _, sel := range []store.EventQuery{{}, {Agent: "w"}, {Branch: "b"}} {
			qq := q
			qq.Agent, qq.Branch = sel.Agent, sel.Branch
			got, _ := queryAll(t, s, qq)
			if w := want(evs, qq); !reflect.DeepEqual(storedIDs(got), w) {
				t.Errorf("%+v: %v want %v", qq, storedIDs(got), w)
			}
		}
	}
	if c, _ := s.CountEvents(); c["w"] != 9 {
		t.Fatalf("count %v", c)
	}
	oldest, newest, ok, err := s.EventTimeBounds()
	if err != nil || !ok || oldest != -1<<62 || newest != 1<<62 {
		t.Fatalf("bounds %d %d %v %v", oldest, newest, ok, err)
	}
}

func TestStore_PutChunk_RefusesBadBounds(t *testing.T) {
	s := newStore(t)
	b := s.NewBatch()
	defer b.Close()
	for _, c := range []*store.Chunk{
		{Agent: "a", Count: 1, MinTs: 0, MaxTs: hour + 1},
		{Agent: "a", Count: 1, MinTs: 5, MaxTs: 4},
		{Agent: "a", Count: 0},
		{Agent: "a", Count: 1, Encoding: 7},
		{Agent: "a", Count: 1, MinTs: math.MinInt64, MaxTs: math.MaxInt64},
	} {
		if err := b.PutChunk(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// checkIndexes fails unless every chunk has exactly its time, agent and
// branch index entries and no index entry lacks its chunk.
func checkIndexes(t *testing.T, s *store.Store) {
	t.Helper()
	kvs, err := s.RawKVs()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]string{}
	for _, kv := range kvs {
		k := kv.Key
		var kind, suffix string
		switch {
		case bytes.HasPrefix(k, []byte("ec")), bytes.HasPrefix(k, []byte("eT")):
			kind, suffix = string(k[:2]), string(k[2:])
		case bytes.HasPrefix(k, []byte("eA")), bytes.HasPrefix(k, []byte("eB")):
			i := bytes.IndexByte(k, 0)
			kind, suffix = string(k[:2]), string(k[i+1:])
		default:
			continue
		}
		seen[suffix] = append(seen[suffix], kind)
	}
	for _, suffix := range sortedKeys(seen) {
		if kinds := seen[suffix]; !reflect.DeepEqual(kinds, []string{"eA", "eB", "eT", "ec"}) {
			t.Errorf("chunk %q has keys %v", suffix, kinds)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func retain(t *testing.T, s *store.Store, applied uint64, cutoff int64) {
	t.Helper()
	b := s.NewBatch()
	defer b.Close()
	if err := b.DeleteEventsBefore(cutoff, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(applied); err != nil {
		t.Fatal(err)
	}
}

// TestStore_DeleteEventsBefore_Exact deletes at cutoffs that fall inside
// chunks, far behind them and before everything, and checks that exactly
// the events before each cutoff are gone from every index.
func TestStore_DeleteEventsBefore_Exact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s, all := modelStore(t, rng, 80)
	times := make([]int64, len(all))
	for i, e := range all {
		times[i] = e.ts
	}
	slices.Sort(times)
	idx := uint64(1000)
	for _, cutoff := range []int64{math.MinInt64, times[0], times[len(times)/5] + 1, times[len(times)/5] + 1, times[len(times)/3],
		times[len(times)/2] - 1, times[2*len(times)/3] + 7, times[len(times)-1], times[len(times)-1] + 1} {
		idx++
		retain(t, s, idx, cutoff)
		all = filter(all, func(e ev) bool { return e.ts >= cutoff })
		for _, q := range []store.EventQuery{{}, {Agent: "m-a"}, {Agent: "m-cc"}, {Branch: "north"}, {Branch: "south"}} {
			q.Limit = 10000
			if got, w := ids(query(t, s, q)), want(all, q); !reflect.DeepEqual(got, w) && len(got)+len(w) > 0 {
				t.Fatalf("cutoff %d %+v: %d events, want %d", cutoff, q, len(got), len(w))
			}
		}
		checkIndexes(t, s)
		c, err := s.CountEvents()
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, a := range modelAgents {
			n += c[a.Id]
		}
		if n != uint64(len(all)) {
			t.Fatalf("cutoff %d: CountEvents %v, want %d in all", cutoff, c, len(all))
		}
		oldest, newest, ok, err := s.EventTimeBounds()
		if len(all) == 0 {
			if ok || err != nil {
				t.Fatalf("bounds of an empty store: %v %v", ok, err)
			}
			continue
		}
		lo, hi := all[0].ts, all[0].ts
		for _, e := range all {
			lo, hi = min(lo, e.ts), max(hi, e.ts)
		}
		if !ok || err != nil || oldest != lo || newest != hi {
			t.Fatalf("cutoff %d: bounds %d..%d (%v %v), want %d..%d", cutoff, oldest, newest, ok, err, lo, hi)
		}
		if oldest < cutoff {
			t.Fatalf("an event older than the cutoff is left")
		}
	}
}

// Retention sees the chunks written earlier in its own batch: one batch of
// writes and retention gives the same state as separate ones.
func TestStore_DeleteEventsBefore_SameBatch(t *testing.T) {
	batches := modelBatches(rand.New(rand.NewPCG(5, 6)), 40)
	var times []int64
	for _, b := range batches {
		for _, e := range b {
			times = append(times, e.ts)
		}
	}
	slices.Sort(times)
	cut1, cut2 := times[len(times)/4]+1, times[len(times)/2]

	one, sep := newStore(t), newStore(t)
	for _, s := range []*store.Store{one, sep} {
		write(t, s, 1, modelAgents, nil, nil)
	}
	// one: the first half, then in a single batch: the second half,
	// retention at cut1, a rewrite of one more batch, retention at cut2.
	half := len(batches) / 2
	for i, b := range batches[:half] {
		putEvents(t, one, uint64(i+2), b...)
		putEvents(t, sep, uint64(i+2), b...)
	}
	b := one.NewBatch()
	for _, evs := range batches[half : len(batches)-1] {
		putChunks(t, b, evs)
	}
	if err := b.DeleteEventsBefore(cut1, nil); err != nil {
		t.Fatal(err)
	}
	putChunks(t, b, batches[len(batches)-1])
	if err := b.DeleteEventsBefore(cut2, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(500); err != nil {
		t.Fatal(err)
	}
	b.Close()

	for i, evs := range batches[half : len(batches)-1] {
		putEvents(t, sep, uint64(100+i), evs...)
	}
	retain(t, sep, 300, cut1)
	putEvents(t, sep, 301, batches[len(batches)-1]...)
	retain(t, sep, 302, cut2)

	if hashOf(t, one) != hashOf(t, sep) {
		t.Fatal("retention in the writes' own batch gives another state")
	}
	checkIndexes(t, one)
	var all []ev
	for _, b := range batches {
		all = append(all, filter(b, func(e ev) bool { return e.ts >= cut2 })...)
	}
	if got, w := ids(query(t, one, store.EventQuery{Limit: 10000})), want(all, store.EventQuery{}); !reflect.DeepEqual(got, w) {
		t.Fatalf("after retention: %d events, want %d", len(got), len(w))
	}
}

// A cursor resumes after the last examined event even when the page ended
// inside a chunk that later pages must read again.
func TestStore_Events_CursorInsideChunk(t *testing.T) {
	s := newStore(t)
	// Two agents whose single chunks interleave in time.
	var a, b []ev
	for i := 0; i < 50; i++ {
		a = append(a, ev{ts: int64(2 * i), agent: "a", branch: "x", epoch: 1, seq: uint64(i + 1)})
		b = append(b, ev{ts: int64(2*i + 1), agent: "b", branch: "x", epoch: 1, seq: uint64(i + 1)})
	}
	putEvents(t, s, 1, a...)
	putEvents(t, s, 2, b...)
	got, pages := queryAll(t, s, store.EventQuery{Limit: 3})
	if len(got) != 100 || pages != 34 {
		t.Fatalf("%d events in %d pages", len(got), pages)
	}
	for i, e := range got {
		if e.Timestamp != int64(i) {
			t.Fatalf("event %d at %d", i, e.Timestamp)
		}
	}
	// An old-style cursor (the last event only) still resumes.
	res := query(t, s, store.EventQuery{Limit: 5})
	raw := res.Next[:2*(8+len("a")+1+16)]
	if got := ids(query(t, s, store.EventQuery{Limit: 2, Cursor: raw})); !reflect.DeepEqual(got, []id{{5, "b", 1, 3}, {6, "a", 1, 4}}) {
		t.Fatalf("from a cursor without resume point: %v", got)
	}
}

// BenchmarkStore_EventsScan pages through 100 000 events stored in chunks of
// 1000, as the counts endpoint does.
func BenchmarkStore_EventsScan(b *testing.B) {
	s, err := store.Open(b.TempDir(), quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	write(b, s, 1, []*raftpb.AgentRecord{{Id: "a", Branch: "b"}}, nil, nil)
	for c := 0; c < 100; c++ {
		var evs []ev
		for k := 0; k < 1000; k++ {
			seq := uint64(c*1000 + k + 1)
			evs = append(evs, ev{ts: int64(seq) * 1e6, agent: "a", branch: "b", epoch: 1, seq: seq, input: "syslog", parser: "p",
				original: fmt.Sprintf("<38>Dec  2 08:14:03 bastion-01 sshd[21877]: Failed password for invalid user oracle from 198.51.100.%d port 51122 ssh2", k%256),
				fields:   []field{{"host.name", "bastion-01"}, {"process.pid", int64(21877)}}})
		}
		putEvents(b, s, uint64(c+2), evs...)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := store.EventQuery{Limit: 10000, MaxScan: 1 << 30}
		n := 0
		for {
			res, err := s.Events(q)
			if err != nil {
				b.Fatal(err)
			}
			n += len(res.Events)
			if res.Next == "" {
				break
			}
			q.Cursor = res.Next
		}
		if n != 100000 {
			b.Fatalf("%d events", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100000), "ns/event")
}

// A query holds at most a bounded amount of decoded chunks. Past it, a page
// ends early with a cursor; when not even one event can be examined within
// it, the query fails instead of returning events out of order.
func TestStore_Events_MemoryBound(t *testing.T) {
	s := newStore(t)
	// One agent alone at first, then ten agents whose chunks all overlap.
	var early, late []ev
	for i := 0; i < 50; i++ {
		early = append(early, ev{ts: int64(i), agent: "early", branch: "b", epoch: 1, seq: uint64(i + 1), original: "some text"})
	}
	putEvents(t, s, 1, early...)
	for a := 0; a < 10; a++ {
		var evs []ev
		for i := 0; i < 100; i++ {
			evs = append(evs, ev{ts: int64(100 + a + 10*i), agent: fmt.Sprintf("ag%d", a), branch: "b", epoch: 1, seq: uint64(i + 1), original: "some text"})
		}
		putEvents(t, s, uint64(a+2), evs...)
		late = append(late, evs...)
	}
	all := append(append([]ev(nil), early...), late...)
	chunk := 0 // bytes of one late chunk's records
	for _, e := range late[:100] {
		chunk += len(e.encode())
	}

	// Room for the ten overlapping chunks: every event, in order.
	restore := store.SetMaxQueryBytes(11 * chunk)
	got, _ := queryAll(t, s, store.EventQuery{Limit: 1000})
	if w := want(all, store.EventQuery{}); !reflect.DeepEqual(storedIDs(got), w) {
		t.Fatalf("within the bound: %d events, want %d", len(got), len(w))
	}
	restore()

	defer store.SetMaxQueryBytes(5 * chunk)()
	res := query(t, s, store.EventQuery{Limit: 1000})
	// The page holds the early events (and the first late ones examined
	// before the bound was reached), in order, and a cursor.
	w := want(all, store.EventQuery{})
	if got := ids(res); len(got) < len(early) || len(got) >= len(w) || !reflect.DeepEqual(got, w[:len(got)]) || res.Next == "" {
		t.Fatalf("first page: %d events, next %q; want the %d early ones and a cursor", len(got), res.Next, len(early))
	}
	if _, err := s.Events(store.EventQuery{Limit: 1000, Cursor: res.Next}); err == nil || !strings.Contains(err.Error(), "overlap in time") {
		t.Fatalf("second page: err = %v", err)
	}
	// A narrower query fits.
	if got := ids(query(t, s, store.EventQuery{Agent: "ag3", Limit: 1000})); len(got) != 100 {
		t.Fatalf("one agent: %d events", len(got))
	}
}

func TestStore_RefusesPerEventLayout(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("et\x00legacy"), []byte("x"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := store.Open(dir, nil); err == nil || !strings.Contains(err.Error(), "per-event layout of an older hub") {
		t.Fatalf("Open = %v, want the old layout refused", err)
	}
}
