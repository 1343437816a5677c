package fsm

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/raft"
	"github.com/klauspost/compress/zstd"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

// applyCtx is what a handler sees for one entry.
type applyCtx struct {
	f     *FSM
	batch *store.Batch
	index uint64
	// agents holds records changed earlier in the same batch, which the store
	// does not show yet; order keeps their first-touch order for writing.
	agents map[string]*agentState
	order  []*agentState
	tokens map[string]*raftpb.TokenRecord
}

type handler func(c *applyCtx, payload []byte) (any, error)

var handlers = map[MessageType]handler{}

// registerCommand adds a handler; a duplicate is a programming error.
func registerCommand(t MessageType, h handler) {
	if _, dup := handlers[t]; dup {
		panic(fmt.Sprintf("fsm: duplicate handler for message type %d", t))
	}
	handlers[t] = h
}

// Encode frames a command payload for raft.Apply.
func Encode(t MessageType, m proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend([]byte{byte(t)}, m)
	if err != nil {
		return nil, fmt.Errorf("encode %s command: %w", t, err)
	}
	return b, nil
}

// FSM implements raft.BatchingFSM on top of a store.
type FSM struct {
	st      *store.Store
	log     *slog.Logger
	dec     *zstd.Decoder
	scratch []byte
	recs    []pendingEvent
	applied uint64
}

var _ raft.BatchingFSM = (*FSM)(nil)

// maxBatchRaw bounds a decompressed batch; the ingest side enforces a lower
// limit before proposing, this protects the state machine from any entry.
const maxBatchRaw = 64 << 20

// New returns a state machine over st.
func New(st *store.Store, log *slog.Logger) (*FSM, error) {
	if log == nil {
		log = slog.Default()
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBatchRaw))
	if err != nil {
		return nil, fmt.Errorf("new zstd decoder: %w", err)
	}
	applied, err := st.Applied()
	if err != nil {
		return nil, err
	}
	return &FSM{st: st, log: log, dec: dec, applied: applied}, nil
}

// Store returns the store the state machine writes.
func (f *FSM) Store() *store.Store { return f.st }

// Apply applies one entry.
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries in one store batch.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	b := f.st.NewBatch()
	defer b.Close()
	c := &applyCtx{f: f, batch: b, agents: map[string]*agentState{}}
	last := f.applied
	for i, l := range logs {
		if l.Index <= f.applied || l.Type != raft.LogCommand {
			continue
		}
		last = l.Index
		c.index = l.Index
		out[i] = c.apply(l.Data)
	}
	if last == f.applied {
		return out
	}
	for _, a := range c.order {
		if err := b.PutAgent(a.rec); err != nil {
			return f.failAll(out, err)
		}
	}
	if err := b.Commit(last); err != nil {
		return f.failAll(out, err)
	}
	f.applied = last
	return out
}

func (c *applyCtx) apply(data []byte) any {
	if len(data) == 0 {
		panic(fmt.Sprintf("fsm: empty command at index %d", c.index))
	}
	t := MessageType(data[0])
	h, ok := handlers[t&^IgnoreUnknownTypeFlag]
	if !ok {
		if t&IgnoreUnknownTypeFlag != 0 {
			c.f.log.Warn("skipping unknown ignorable command", "msg_type", uint8(t), "index", c.index)
			return nil
		}
		// Crash rather than let this node's state diverge from its peers'.
		panic(fmt.Sprintf("fsm: unknown message type %d at index %d", t, c.index))
	}
	res, err := h(c, data[1:])
	if err != nil {
		return &StoreError{Err: err}
	}
	return res
}

// StoreError is the result of an entry whose store write failed.
type StoreError struct{ Err error }

func (e *StoreError) Error() string { return "apply: " + e.Err.Error() }

func (f *FSM) failAll(out []any, err error) []any {
	f.log.Error("state store write failed", "error", err)
	for i := range out {
		out[i] = &StoreError{Err: err}
	}
	return out
}

// Snapshot captures the store for Raft; the store is synced first so that
// nothing the snapshot covers can be lost from it.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	sn, err := f.st.Snapshot()
	if err != nil {
		return nil, err
	}
	return &fsmSnapshot{sn: sn}, nil
}

// Restore replaces the state with a snapshot's.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	idx, err := f.st.Restore(rc)
	if err != nil {
		return err
	}
	f.applied = idx
	return nil
}

type fsmSnapshot struct{ sn *store.Snapshot }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.sn.Persist(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.sn.Release() }
