package fsm_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/klauspost/compress/zstd"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/event"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// harness is one state machine over one store, with the next log index.
type harness struct {
	t    *testing.T
	dir  string
	st   *store.Store
	f    *fsm.FSM
	next uint64
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return openHarness(t, t.TempDir())
}

// openHarness opens (or reopens) the store in dir and a new FSM over it.
func openHarness(t *testing.T, dir string) *harness {
	t.Helper()
	st, err := store.Open(dir, quiet)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f, err := fsm.New(st, quiet)
	if err != nil {
		t.Fatalf("new fsm: %v", err)
	}
	applied, err := st.Applied()
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, dir: dir, st: st, f: f, next: applied + 1}
}

// cmd frames a command as fsm.Encode does for raft.Apply.
func cmd(t testing.TB, typ fsm.MessageType, m proto.Message) []byte {
	t.Helper()
	b, err := fsm.Encode(typ, m)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

// entry builds the next log entry of h.
func (h *harness) entry(typ fsm.MessageType, m proto.Message) *raft.Log {
	h.t.Helper()
	l := &raft.Log{Index: h.next, Term: 1, Type: raft.LogCommand, Data: cmd(h.t, typ, m)}
	h.next++
	return l
}

// batch applies several commands in one ApplyBatch.
func (h *harness) batch(logs ...*raft.Log) []any {
	h.t.Helper()
	out := h.f.ApplyBatch(logs)
	if len(out) != len(logs) {
		h.t.Fatalf("ApplyBatch returned %d results for %d entries", len(out), len(logs))
	}
	for i, r := range out {
		if se, ok := r.(*fsm.StoreError); ok {
			h.t.Fatalf("entry %d: %v", i, se)
		}
	}
	return out
}

func (h *harness) apply(typ fsm.MessageType, m proto.Message) any {
	h.t.Helper()
	return h.batch(h.entry(typ, m))[0]
}

func (h *harness) createToken(id, hash, branch string, expires, now int64) *fsm.TokenResult {
	h.t.Helper()
	return tokenResult(h.t, h.apply(fsm.TokenCreateType, &raftpb.TokenCreate{
		TokenId: id, SecretHash: hash, Branch: branch, ExpiresAt: expires, Now: now, Description: "test"}))
}

func (h *harness) consumeToken(id, hash, agent string, now int64) *fsm.TokenResult {
	h.t.Helper()
	return tokenResult(h.t, h.apply(fsm.TokenConsumeType, &raftpb.TokenConsume{
		TokenId: id, SecretHash: hash, AgentId: agent, Hostname: "host-" + agent, AgentVersion: "0.1", Now: now}))
}

// enroll registers agent in branch through a token.
func (h *harness) enroll(agent, branch string) {
	h.t.Helper()
	if r := h.createToken("tok-"+agent, "hash-"+agent, branch, 1<<60, 1); r.Err != nil {
		h.t.Fatalf("create token: %v", r.Err)
	}
	if r := h.consumeToken("tok-"+agent, "hash-"+agent, agent, 2); r.Err != nil || r.Agent == nil {
		h.t.Fatalf("consume token: %+v", r)
	}
}

func (h *harness) ingest(m *raftpb.IngestBatch) *fsm.IngestResult {
	h.t.Helper()
	return ingestResult(h.t, h.apply(fsm.IngestBatchType, m))
}

func tokenResult(t testing.TB, r any) *fsm.TokenResult {
	t.Helper()
	tr, ok := r.(*fsm.TokenResult)
	if !ok {
		t.Fatalf("result %T %v, want *fsm.TokenResult", r, r)
	}
	return tr
}

func ingestResult(t testing.TB, r any) *fsm.IngestResult {
	t.Helper()
	ir, ok := r.(*fsm.IngestResult)
	if !ok {
		t.Fatalf("result %T %v, want *fsm.IngestResult", r, r)
	}
	return ir
}

func (h *harness) agent(id string) *raftpb.AgentRecord {
	h.t.Helper()
	a, err := h.st.Agent(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

func (h *harness) token(id string) *raftpb.TokenRecord {
	h.t.Helper()
	tk, err := h.st.Token(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return tk
}

func (h *harness) count(agent string) uint64 {
	h.t.Helper()
	c, err := h.st.CountEvents()
	if err != nil {
		h.t.Fatal(err)
	}
	return c[agent]
}

func (h *harness) totalEvents() uint64 {
	h.t.Helper()
	c, err := h.st.CountEvents()
	if err != nil {
		h.t.Fatal(err)
	}
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

func (h *harness) applied() uint64 {
	h.t.Helper()
	a, err := h.st.Applied()
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// hash is the store's content hash.
func (h *harness) hash() string { return storeHash(h.t, h.st) }

func storeHash(t testing.TB, st *store.Store) string {
	t.Helper()
	sn, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	s, err := sn.Hash()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// events returns every stored event of agent in time order.
func (h *harness) events(agent string) []store.StoredEvent {
	h.t.Helper()
	res, err := h.st.Events(store.EventQuery{Agent: agent, Limit: 10000})
	if err != nil {
		h.t.Fatal(err)
	}
	if res.Next != "" {
		h.t.Fatal("more than 10000 events")
	}
	return res.Events
}

// evSpec describes one event of a batch payload.
type evSpec struct {
	ts       int64
	original string
}

// eventsFor returns the events of seqs first..last with timestamps
// seq*1000+epoch and originals "<agent>/<epoch>/<seq><tag>".
func eventsFor(agent string, epoch, first, last uint64, tag string) []evSpec {
	var out []evSpec
	for s := first; s <= last; s++ {
		out = append(out, evSpec{ts: int64(s*1000 + epoch), original: fmt.Sprintf("%s/%d/%d%s", agent, epoch, s, tag)})
	}
	return out
}

// rawPayload encodes events as a batch payload with the protocol encoder.
func rawPayload(evs []evSpec) []byte {
	var enc event.Encoder
	var p []byte
	for _, e := range evs {
		enc.Begin(e.ts, 5, "syslog", "rfc5424", e.original)
		enc.String("host.name", "h")
		enc.Int("n", e.ts)
		p = event.AppendRecord(p, enc.Bytes())
	}
	return p
}

var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
)

// uvarint decodes a record length of a batch payload.
func uvarint(b []byte) (uint64, int) { return binary.Uvarint(b) }

// batchOf builds an IngestBatch of evs as the agent ships it: zstd-compressed.
func batchOf(agent string, epoch, first, last uint64, now int64, evs []evSpec) *raftpb.IngestBatch {
	raw := rawPayload(evs)
	return &raftpb.IngestBatch{
		AgentId: agent, Epoch: epoch, FirstSeq: first, LastSeq: last,
		Compression: uint32(agentpb.Compression_COMPRESSION_ZSTD), RawBytes: uint32(len(raw)),
		Payload: zenc.EncodeAll(raw, nil), Now: now,
	}
}

// seqBatch is a well-formed batch of seqs first..last.
func seqBatch(agent string, epoch, first, last uint64, now int64) *raftpb.IngestBatch {
	return batchOf(agent, epoch, first, last, now, eventsFor(agent, epoch, first, last, ""))
}

// mustPanic runs fn and returns the panic value rendered as a string.
func mustPanic(t *testing.T, fn func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("no panic")
		}
		msg = fmt.Sprint(r)
	}()
	fn()
	return ""
}

// describe renders an apply result canonically, for comparing results of
// two state machines.
func describe(r any) string {
	marshal := func(m proto.Message) string {
		if m == nil || !m.ProtoReflect().IsValid() {
			return "nil"
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			return "error " + err.Error()
		}
		return hex.EncodeToString(b)
	}
	switch v := r.(type) {
	case nil:
		return "nil"
	case *fsm.IngestResult:
		return fmt.Sprintf("ingest %+v", *v)
	case *fsm.TokenResult:
		var e string
		if v.Err != nil {
			e = v.Err.Code + ":" + v.Err.Message
		}
		return fmt.Sprintf("token %s agent %s err %s", marshal(v.Token), marshal(v.Agent), e)
	case *fsm.StoreError:
		return "store error " + v.Error()
	}
	return fmt.Sprintf("unexpected %T", r)
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled int
	failWrites        bool
}

func (s *memSink) ID() string { return "mem" }

func (s *memSink) Write(p []byte) (int, error) {
	if s.failWrites {
		return 0, fmt.Errorf("sink write refused")
	}
	return s.Buffer.Write(p)
}

func (s *memSink) Close() error  { s.closed++; return nil }
func (s *memSink) Cancel() error { s.cancelled++; return nil }

var _ raft.SnapshotSink = (*memSink)(nil)

// readCloser records whether Restore closed it.
type readCloser struct {
	io.Reader
	closed int
}

func (r *readCloser) Close() error { r.closed++; return nil }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
