package store_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

func fillAgents(t *testing.T, s *store.Store, applied uint64) {
	t.Helper()
	var agents []*raftpb.AgentRecord
	for i := 0; i < 25; i++ {
		agents = append(agents, &raftpb.AgentRecord{
			Id: fmt.Sprintf("agent-%02d", i), Branch: fmt.Sprintf("branch-%d", i%4), Hostname: fmt.Sprintf("h%d", i),
			Version: "1.2.3", Epoch: uint64(i), AckedSeq: uint64(i * 100), EnrolledAt: int64(-i), LastSeen: int64(i * 1000),
			Events: uint64(i * 99), Batches: uint64(i), DuplicateBatches: uint64(i % 3),
		})
	}
	agents = append(agents, &raftpb.AgentRecord{Id: ""}, &raftpb.AgentRecord{Id: "bin\x00\x01é"})
	write(t, s, applied, agents, nil, nil)
}

func fillTokens(t *testing.T, s *store.Store, applied uint64) {
	t.Helper()
	var tokens []*raftpb.TokenRecord
	for i := 0; i < 25; i++ {
		tk := &raftpb.TokenRecord{Id: fmt.Sprintf("tok-%02d", i), SecretHash: fmt.Sprintf("hash%d", i),
			Branch: fmt.Sprintf("branch-%d", i%3), CreatedAt: int64(i), ExpiresAt: int64(i + 1000), Description: "d"}
		if i%2 == 0 {
			tk.UsedAt, tk.UsedBy = int64(i+5), fmt.Sprintf("agent-%02d", i)
		}
		tokens = append(tokens, tk)
	}
	write(t, s, applied, nil, tokens, nil)
}

func fillEvents(t *testing.T, s *store.Store, applied uint64) {
	t.Helper()
	agents := []*raftpb.AgentRecord{{Id: "e1", Branch: "x"}, {Id: "e2", Branch: "x"}, {Id: "e3", Branch: "y"}}
	var evs []ev
	for i := 0; i < 300; i++ {
		a := agents[i%3]
		evs = append(evs, ev{ts: int64(i*37%101) - 50, agent: a.Id, branch: a.Branch, epoch: uint64(1 + i%2), seq: uint64(i + 1),
			input: "in", parser: "p", original: strings.Repeat("x", i%17), fields: []field{{"n", int64(i)}}})
	}
	write(t, s, applied, agents, nil, evs)
}

// persist snapshots s and returns the persisted bytes and the snapshot's hash.
func persist(t *testing.T, s *store.Store) ([]byte, string) {
	t.Helper()
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer sn.Release()
	var buf bytes.Buffer
	if err := sn.Persist(&buf); err != nil {
		t.Fatalf("persist: %v", err)
	}
	h, err := sn.Hash()
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	return buf.Bytes(), h
}

func hashOf(t *testing.T, s *store.Store) string {
	t.Helper()
	_, h := persist(t, s)
	return h
}

// dataKVs is the raw contents without the store's meta keys.
func dataKVs(t *testing.T, s *store.Store) []store.KV {
	t.Helper()
	kvs, err := s.RawKVs()
	if err != nil {
		t.Fatal(err)
	}
	out := []store.KV{}
	for _, kv := range kvs {
		if kv.Key[0] != store.MetaPrefix {
			out = append(out, kv)
		}
	}
	return out
}

func applied(t *testing.T, s *store.Store) uint64 {
	t.Helper()
	a, err := s.Applied()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func needsRestore(t *testing.T, s *store.Store) bool {
	t.Helper()
	v, err := s.NeedsRestore()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// staleStore returns a store holding something of every table, none of
// which appears in the fills above, so a restore must remove it.
func staleStore(t *testing.T) *store.Store {
	t.Helper()
	s := newStore(t)
	write(t, s, 999,
		[]*raftpb.AgentRecord{{Id: "stale-agent", Branch: "x"}},
		[]*raftpb.TokenRecord{{Id: "stale-token"}},
		[]ev{{ts: 1, agent: "stale-agent", branch: "x", epoch: 1, seq: 1}})
	return s
}

// testStoreSnapshotRestore fills a store, persists a snapshot of it, restores
// it into a store that held other data, and compares the two.
func testStoreSnapshotRestore(t *testing.T, fill func(*testing.T, *store.Store, uint64), check func(t *testing.T, src, dst *store.Store)) {
	src := newStore(t)
	fill(t, src, 42)
	data, srcHash := persist(t, src)
	if len(dataKVs(t, src)) == 0 {
		t.Fatal("fill wrote nothing")
	}

	dst := staleStore(t)
	if hashOf(t, dst) == srcHash {
		t.Fatal("stale store already has the source's hash")
	}
	idx, err := dst.Restore(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if idx != 42 || applied(t, dst) != 42 {
		t.Fatalf("restore returned index %d, store applied %d, want 42", idx, applied(t, dst))
	}
	if needsRestore(t, dst) {
		t.Fatal("NeedsRestore after a complete restore")
	}
	if got := hashOf(t, dst); got != srcHash {
		t.Fatalf("hash after restore %s, source %s", got, srcHash)
	}
	if got, want := dataKVs(t, dst), dataKVs(t, src); !reflect.DeepEqual(got, want) {
		t.Fatalf("raw contents differ after restore: %d keys, source %d", len(got), len(want))
	}
	check(t, src, dst)

	// The restored store persists to the very same bytes.
	if again, _ := persist(t, dst); !bytes.Equal(again, data) {
		t.Fatal("restored store persists to different bytes")
	}
}

func TestStore_SnapshotRestore_Agents(t *testing.T) {
	testStoreSnapshotRestore(t, fillAgents, func(t *testing.T, src, dst *store.Store) {
		want, err := src.Agents("")
		if err != nil || len(want) != 27 {
			t.Fatalf("source agents: %d, %v", len(want), err)
		}
		got, err := dst.Agents("")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d agents restored, want %d", len(got), len(want))
		}
		for i := range want {
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("agent %d: %v want %v", i, got[i], want[i])
			}
		}
		if a, err := dst.Agent("stale-agent"); err != nil || a != nil {
			t.Fatalf("stale agent survived the restore: %v %v", a, err)
		}
		b1, _ := dst.Agents("branch-1")
		if len(b1) != 6 {
			t.Fatalf("branch-1 has %d agents after restore", len(b1))
		}
		if a, _ := dst.Agent("bin\x00\x01é"); a == nil {
			t.Fatal("binary agent id lost")
		}
	})
}

func TestStore_SnapshotRestore_Tokens(t *testing.T) {
	testStoreSnapshotRestore(t, fillTokens, func(t *testing.T, src, dst *store.Store) {
		want, err := src.Tokens()
		if err != nil || len(want) != 25 {
			t.Fatalf("source tokens: %d, %v", len(want), err)
		}
		got, err := dst.Tokens()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d tokens restored, want %d", len(got), len(want))
		}
		for i := range want {
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("token %d: %v want %v", i, got[i], want[i])
			}
		}
		if tk, err := dst.Token("stale-token"); err != nil || tk != nil {
			t.Fatalf("stale token survived the restore: %v %v", tk, err)
		}
	})
}

func TestStore_SnapshotRestore_Events(t *testing.T) {
	testStoreSnapshotRestore(t, fillEvents, func(t *testing.T, src, dst *store.Store) {
		// Primary, branch index and agent index all answer alike.
		for _, q := range []store.EventQuery{
			{}, {Branch: "x"}, {Branch: "y"}, {Agent: "e1"}, {Agent: "e3"}, {Branch: "x", Agent: "e2"},
			{From: -10, To: 10}, {Branch: "y", From: -10, To: 10}, {Agent: "e2", From: -50, To: -20},
			{Agent: "stale-agent"}, {Branch: "x", Fields: map[string]string{"n": "7"}},
		} {
			q.Limit = 1000
			w := query(t, src, q)
			g := query(t, dst, q)
			if !reflect.DeepEqual(ids(g), ids(w)) {
				t.Fatalf("%+v: restored %v\nsource %v", q, ids(g), ids(w))
			}
			for i := range w.Events {
				if !proto.Equal(g.Events[i].Event, w.Events[i].Event) {
					t.Fatalf("%+v: event %d differs", q, i)
				}
			}
		}
		if n := len(query(t, dst, store.EventQuery{Limit: 1000}).Events); n != 300 {
			t.Fatalf("%d events after restore", n)
		}
		want, _ := src.CountEvents()
		got, err := dst.CountEvents()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("CountEvents %v want %v (%v)", got, want, err)
		}
	})
}

// The snapshot reflects the moment it was taken, whatever is written later.
func TestStore_Snapshot_PointInTime(t *testing.T) {
	s := newStore(t)
	fillAgents(t, s, 5)
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	if sn.Applied() != 5 {
		t.Fatalf("snapshot Applied %d, want 5", sn.Applied())
	}
	h1, err := sn.Hash()
	if err != nil {
		t.Fatal(err)
	}
	fillTokens(t, s, 6)
	fillEvents(t, s, 7)
	var buf bytes.Buffer
	if err := sn.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	if h2, _ := sn.Hash(); h2 != h1 {
		t.Fatal("snapshot hash changed after later writes")
	}
	if hashOf(t, s) == h1 {
		t.Fatal("store hash did not change after writes")
	}
	dst := newStore(t)
	if idx, err := dst.Restore(&buf); err != nil || idx != 5 {
		t.Fatalf("restore: %d %v", idx, err)
	}
	if tk, _ := dst.Tokens(); len(tk) != 0 {
		t.Fatalf("tokens written after the snapshot were restored: %d", len(tk))
	}
	if n, _ := dst.CountEvents(); len(n) != 0 {
		t.Fatalf("events written after the snapshot were restored: %v", n)
	}
	if a, _ := dst.Agents(""); len(a) != 27 {
		t.Fatalf("%d agents restored", len(a))
	}
}

// Hash depends on the contents only: not on the applied index or on history,
// and any change of contents changes it.
func TestStore_Hash(t *testing.T) {
	a, b := newStore(t), newStore(t)
	fillEvents(t, a, 10)
	fillEvents(t, b, 3)
	// b reaches the same contents by another path: an overwrite.
	write(t, b, 11, []*raftpb.AgentRecord{{Id: "e1", Branch: "changed"}}, nil, nil)
	if hashOf(t, a) == hashOf(t, b) {
		t.Fatal("different contents, same hash")
	}
	write(t, b, 12, []*raftpb.AgentRecord{{Id: "e1", Branch: "x"}}, nil, nil)
	if ha, hb := hashOf(t, a), hashOf(t, b); ha != hb {
		t.Fatalf("same contents, hashes %s and %s", ha, hb)
	}
	empty1, empty2 := newStore(t), newStore(t)
	write(t, empty2, 77, nil, nil, nil)
	if hashOf(t, empty1) != hashOf(t, empty2) {
		t.Fatal("applied index changes the hash")
	}
	for _, fill := range []func(*testing.T, *store.Store, uint64){fillAgents, fillTokens, fillEvents} {
		s := newStore(t)
		fill(t, s, 1)
		if hashOf(t, s) == hashOf(t, empty1) {
			t.Fatal("a table is missing from the hash")
		}
	}
}

// snapshotRecords splits a persisted snapshot into its header and records,
// returning the offset at which each record starts and the end offset.
func snapshotRecords(t *testing.T, data []byte) (starts []int) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte(store.SnapshotMagic)) {
		t.Fatal("no magic")
	}
	p := len(store.SnapshotMagic)
	hl, n := binary.Uvarint(data[p:])
	p += n + int(hl)
	for p < len(data) {
		starts = append(starts, p)
		p++ // type
		for i := 0; i < 2; i++ {
			l, n := binary.Uvarint(data[p:])
			if n <= 0 {
				t.Fatalf("bad record at %d", starts[len(starts)-1])
			}
			p += n + int(l)
		}
	}
	if p != len(data) {
		t.Fatalf("records end at %d of %d", p, len(data))
	}
	return starts
}

// snapshotWith returns a valid header for applied followed by records.
func snapshotWith(t *testing.T, version uint32, applied uint64, records ...[]byte) []byte {
	t.Helper()
	hdr, err := proto.Marshal(&raftpb.SnapshotHeader{Version: version, AppliedIndex: applied})
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(store.SnapshotMagic), binary.AppendUvarint(nil, uint64(len(hdr)))...)
	out = append(out, hdr...)
	for _, r := range records {
		out = append(out, r...)
	}
	return out
}

func record(typ byte, key, val string) []byte {
	r := []byte{typ}
	r = binary.AppendUvarint(r, uint64(len(key)))
	r = append(r, key...)
	r = binary.AppendUvarint(r, uint64(len(val)))
	return append(r, val...)
}

func TestStore_Restore_HandMadeSnapshot(t *testing.T) {
	// The format as documented: a snapshot written by hand restores.
	a, _ := proto.Marshal(&raftpb.AgentRecord{Id: "hand", Branch: "made"})
	data := snapshotWith(t, store.SnapshotVersion, 9, record(byte(store.AgentRecord), "hand", string(a)))
	s := newStore(t)
	if idx, err := s.Restore(bytes.NewReader(data)); err != nil || idx != 9 {
		t.Fatalf("restore: %d %v", idx, err)
	}
	if got, _ := s.Agent("hand"); got.GetBranch() != "made" {
		t.Fatalf("agent = %v", got)
	}
	if kinds := store.TableRecordTypes(); !reflect.DeepEqual(kinds, []store.RecordType{
		store.AgentRecord, store.TokenRecord, store.EventChunkRecord, store.EventChunkTimeIndexRecord,
		store.EventChunkAgentIndexRecord, store.EventChunkBranchIndexRecord, store.MemberRecord}) {
		t.Fatalf("record types %v", kinds)
	}
}

func TestStore_Restore_Rejects(t *testing.T) {
	good, _ := func() ([]byte, string) {
		s := newStore(t)
		fillAgents(t, s, 3)
		return persist(t, s)
	}()
	cases := []struct {
		name string
		data []byte
		want string
		// marked is whether the failure happens after the store was
		// cleared, so that NeedsRestore must report it.
		marked bool
	}{
		{"empty", nil, "not a vigil state snapshot", false},
		{"garbage", []byte("this is not a snapshot at all, just text"), "not a vigil state snapshot", false},
		{"short magic", []byte("VIGIL"), "not a vigil state snapshot", false},
		{"wrong magic", append([]byte("VIGILSN2"), good[len(store.SnapshotMagic):]...), "not a vigil state snapshot", false},
		{"no header length", []byte(store.SnapshotMagic), "bad snapshot header", false},
		{"huge header", append([]byte(store.SnapshotMagic), binary.AppendUvarint(nil, 1<<21)...), "bad snapshot header", false},
		{"short header", append(append([]byte(store.SnapshotMagic), 10), 1, 2), "read header", false},
		{"bad header", append(append([]byte(store.SnapshotMagic), 2), 0xff, 0xff), "decode header", false},
		{"newer version", snapshotWith(t, store.SnapshotVersion+1, 5), fmt.Sprintf("snapshot format version %d", store.SnapshotVersion+1), false},
		// Format 1 kept one record per event; this hub does not convert it.
		{"format 1", snapshotWith(t, 1, 5), "snapshot format version 1", false},
		{"unknown record type", snapshotWith(t, store.SnapshotVersion, 5, record(byte(store.AgentRecord), "x", ""), record(99, "k", "v")),
			"record 1 has unknown type 99", true},
		{"record type zero", snapshotWith(t, store.SnapshotVersion, 5, record(0, "k", "v")), "unknown type 0", true},
		{"key too long", snapshotWith(t, store.SnapshotVersion, 5, append([]byte{byte(store.AgentRecord)}, binary.AppendUvarint(nil, 1<<17)...)),
			"record 0 key: length 131072 over limit", true},
		{"value too long", snapshotWith(t, store.SnapshotVersion, 5, append([]byte{byte(store.TokenRecord), 1, 'k'}, binary.AppendUvarint(nil, 1<<40)...)),
			"record 0 value: length", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			fillTokens(t, s, 17)
			before := dataKVs(t, s)
			idx, err := s.Restore(bytes.NewReader(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if idx != 0 {
				t.Fatalf("failed restore returned index %d", idx)
			}
			if got := needsRestore(t, s); got != c.marked {
				t.Fatalf("NeedsRestore = %v, want %v", got, c.marked)
			}
			if !c.marked {
				// Refused before touching anything.
				if !reflect.DeepEqual(dataKVs(t, s), before) || applied(t, s) != 17 {
					t.Fatal("a refused snapshot changed the store")
				}
			}
			// A good snapshot always recovers.
			if idx, err := s.Restore(bytes.NewReader(good)); err != nil || idx != 3 {
				t.Fatalf("good restore: %d %v", idx, err)
			}
			if needsRestore(t, s) {
				t.Fatal("NeedsRestore after a good restore")
			}
			if a, _ := s.Agents(""); len(a) != 27 {
				t.Fatalf("%d agents after good restore", len(a))
			}
			if tk, _ := s.Tokens(); len(tk) != 0 {
				t.Fatalf("%d tokens survived the restore", len(tk))
			}
		})
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestStore_Restore_Interrupted(t *testing.T) {
	src := newStore(t)
	fillEvents(t, src, 50)
	fillTokens(t, src, 51)
	good, goodHash := persist(t, src)
	starts := snapshotRecords(t, good)
	if len(starts) < 100 {
		t.Fatalf("only %d records", len(starts))
	}
	mid := starts[len(starts)/2]
	cuts := map[string]int{
		"after type byte":     mid + 1,
		"inside key":          mid + 3,
		"before last byte":    len(good) - 1,
		"inside first record": starts[0] + 1,
	}
	for name, cut := range cuts {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := store.Open(dir, quiet)
			if err != nil {
				t.Fatal(err)
			}
			fillAgents(t, s, 8)
			_, err = s.Restore(bytes.NewReader(good[:cut]))
			if err == nil || !strings.Contains(err.Error(), "restore: record") {
				t.Fatalf("truncated restore: err = %v", err)
			}
			if !needsRestore(t, s) {
				t.Fatal("NeedsRestore false after an interrupted restore")
			}
			// The marker is durable: it is still there after a restart.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, dir)
			if !needsRestore(t, s) {
				t.Fatal("NeedsRestore false after reopening an interrupted restore")
			}
			if idx, err := s.Restore(bytes.NewReader(good)); err != nil || idx != 51 {
				t.Fatalf("good restore: %d %v", idx, err)
			}
			if needsRestore(t, s) {
				t.Fatal("NeedsRestore still true after a good restore")
			}
			if hashOf(t, s) != goodHash || applied(t, s) != 51 {
				t.Fatal("contents differ after recovering restore")
			}
			if a, _ := s.Agents(""); len(a) != 3 {
				t.Fatalf("%d agents after restore, want the source's 3", len(a))
			}
		})
	}

	// A read error part way has the same effect.
	s := newStore(t)
	_, err := s.Restore(&failingReader{data: good[:mid+5], err: errors.New("connection reset")})
	if err == nil || !strings.Contains(err.Error(), "connection reset") || !needsRestore(t, s) {
		t.Fatalf("reader error: err %v, NeedsRestore %v", err, needsRestore(t, s))
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestStore_Snapshot_PersistWriteError(t *testing.T) {
	s := newStore(t)
	fillEvents(t, s, 1)
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	if err := sn.Persist(&failingWriter{n: 1000}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Persist to a failing writer: %v", err)
	}
}

// Every key the store writes, except its own meta keys, belongs to a table
// that snapshots persist; otherwise a node restored from a snapshot would
// silently lack it.
func TestStore_SnapshotCoversEveryPrefix(t *testing.T) {
	s := newStore(t)
	// One key of every kind, through the public API only.
	write(t, s, 1,
		[]*raftpb.AgentRecord{{Id: "agent", Branch: "branch"}},
		[]*raftpb.TokenRecord{{Id: "token"}},
		[]ev{{ts: -1, agent: "agent", branch: "branch", epoch: 1, seq: 1}})
	// A completed restore writes its bookkeeping too.
	data, _ := persist(t, s)
	if _, err := s.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	write(t, s, 2, nil, nil, []ev{{ts: 1, agent: "agent2", branch: "branch2", epoch: 2, seq: 2}})
	mb := s.NewBatch()
	if err := mb.PutMember(&raftpb.MemberRecord{NodeId: "hub-1", RaftAddr: "127.0.0.1:7444"}); err != nil {
		t.Fatal(err)
	}
	if err := mb.Commit(3); err != nil {
		t.Fatal(err)
	}
	mb.Close()

	prefixes := store.TablePrefixes()
	for _, p := range prefixes {
		if len(p) == 0 || p[0] == store.MetaPrefix {
			t.Fatalf("table prefix %q overlaps the meta keys", p)
		}
	}
	kvs, err := s.RawKVs()
	if err != nil {
		t.Fatal(err)
	}
	used := make([]int, len(prefixes))
	meta := 0
	for _, kv := range kvs {
		if kv.Key[0] == store.MetaPrefix {
			meta++
			continue
		}
		n := 0
		for i, p := range prefixes {
			if bytes.HasPrefix(kv.Key, p) {
				used[i]++
				n++
			}
		}
		if n != 1 {
			t.Errorf("key %q falls under %d snapshot tables, want exactly 1", kv.Key, n)
		}
	}
	if meta == 0 {
		t.Error("no meta key seen: the accessor does not see the whole database")
	}
	// Each kind of write produced keys of its own table: agent, token,
	// event chunk, its time, agent and branch index entries, member.
	if want := []int{1, 1, 2, 2, 2, 2, 1}; !reflect.DeepEqual(used, want) {
		t.Errorf("keys per table %v, want %v", used, want)
	}

	// And a snapshot round trip reproduces every non-meta key.
	data, _ = persist(t, s)
	dst := newStore(t)
	if _, err := dst.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dataKVs(t, dst), dataKVs(t, s)) {
		t.Error("a snapshot round trip lost keys")
	}
}
