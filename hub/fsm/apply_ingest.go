package fsm

import (
	"fmt"

	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/event"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

func init() { registerCommand(IngestBatchType, applyIngestBatch) }

// IngestStatus says what happened to a batch.
type IngestStatus uint8

const (
	IngestStored    IngestStatus = iota // new events stored
	IngestDuplicate                     // every seq was already applied
	IngestRejected                      // nothing stored; Reason says why
)

// IngestResult is the result of an IngestBatch entry.
type IngestResult struct {
	Status   IngestStatus
	AckedSeq uint64 // highest applied seq of the agent's epoch afterwards
	Stored   int
	Reason   string
}

type agentState struct{ rec *raftpb.AgentRecord }

// pendingEvent is one record of the batch being applied, with its event
// time.
type pendingEvent = store.ChunkRecord

// agent returns the record as changed so far in this batch.
func (c *applyCtx) agent(id string) (*agentState, error) {
	if a, ok := c.agents[id]; ok {
		return a, nil
	}
	rec, err := c.batch.Agent(id)
	if err != nil || rec == nil {
		return nil, err
	}
	a := &agentState{rec: rec}
	c.agents[id] = a
	c.order = append(c.order, a)
	return a, nil
}

// putAgent records a new or replaced agent record.
func (c *applyCtx) putAgent(rec *raftpb.AgentRecord) {
	if a, ok := c.agents[rec.Id]; ok {
		a.rec = rec
		return
	}
	a := &agentState{rec: rec}
	c.agents[rec.Id] = a
	c.order = append(c.order, a)
}

// applyIngestBatch stores the events of one agent batch exactly once
// (invariant 2): seqs at or below the agent's applied seq are dropped, a batch
// that would leave a gap is refused, and a newer epoch restarts the seqs.
func applyIngestBatch(c *applyCtx, payload []byte) (any, error) {
	var m raftpb.IngestBatch
	if err := proto.Unmarshal(payload, &m); err != nil {
		panic(fmt.Sprintf("fsm: decode ingest batch at index %d: %v", c.index, err))
	}
	a, err := c.agent(m.AgentId)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return &IngestResult{Status: IngestRejected, Reason: "unknown agent " + m.AgentId}, nil
	}
	rec := proto.Clone(a.rec).(*raftpb.AgentRecord)
	switch {
	case m.Epoch < rec.Epoch:
		return &IngestResult{Status: IngestRejected, AckedSeq: rec.AckedSeq,
			Reason: fmt.Sprintf("stale epoch %d, agent is at epoch %d", m.Epoch, rec.Epoch)}, nil
	case m.Epoch > rec.Epoch:
		// A new epoch starts where the agent says it does (epoch_start):
		// the agent keeps counting seqs when it moves to a new epoch (its
		// clock went back, or its buffer was restored from an old copy).
		// Within the epoch, duplicates and gaps are judged as before.
		if m.FirstSeq == 0 {
			return &IngestResult{Status: IngestRejected, AckedSeq: 0, Reason: "invalid seq range"}, nil
		}
		base := m.FirstSeq - 1
		if m.EpochStart > 0 {
			// The agent says where the epoch begins: a batch that starts
			// later is a gap (its predecessor was refused or lost).
			base = m.EpochStart - 1
		}
		rec.Epoch, rec.AckedSeq = m.Epoch, base
	}
	if m.LastSeq < m.FirstSeq || m.FirstSeq == 0 {
		return &IngestResult{Status: IngestRejected, AckedSeq: rec.AckedSeq, Reason: "invalid seq range"}, nil
	}
	rec.LastSeen = m.Now
	if m.Hostname != "" {
		rec.Hostname = m.Hostname
	}
	if m.AgentVersion != "" {
		rec.Version = m.AgentVersion
	}
	if m.LastSeq <= rec.AckedSeq {
		rec.DuplicateBatches++
		c.putAgent(rec)
		return &IngestResult{Status: IngestDuplicate, AckedSeq: rec.AckedSeq}, nil
	}
	if m.FirstSeq > rec.AckedSeq+1 {
		return &IngestResult{Status: IngestRejected, AckedSeq: rec.AckedSeq,
			Reason: fmt.Sprintf("gap: batch starts at seq %d, next expected %d", m.FirstSeq, rec.AckedSeq+1)}, nil
	}
	raw := m.Payload
	switch m.Compression {
	case uint32(agentpb.Compression_COMPRESSION_NONE):
	case uint32(agentpb.Compression_COMPRESSION_ZSTD):
		raw, err = c.f.dec.DecodeAll(m.Payload, c.f.scratch[:0])
		if err != nil {
			return &IngestResult{Status: IngestRejected, AckedSeq: rec.AckedSeq, Reason: "decompress: " + err.Error()}, nil
		}
		c.f.scratch = raw[:0]
	default:
		return &IngestResult{Status: IngestRejected, AckedSeq: rec.AckedSeq,
			Reason: fmt.Sprintf("unknown compression %d", m.Compression)}, nil
	}
	// The ingest listener bounds the declared size; holding the payload to
	// it makes that bound real.
	if uint64(len(raw)) != uint64(m.RawBytes) {
		return &IngestResult{Status: IngestRejected, AckedSeq: rec.AckedSeq,
			Reason: fmt.Sprintf("payload is %d bytes uncompressed, batch declares %d", len(raw), m.RawBytes)}, nil
	}
	// Validate the whole payload before writing any of it, so a rejected
	// batch leaves nothing behind.
	want := m.LastSeq - m.FirstSeq + 1
	recs := c.f.recs[:0]
	err = event.SplitRecords(raw, func(i int, data []byte) error {
		if uint64(i) >= want {
			return fmt.Errorf("batch holds more than %d records", want)
		}
		ts, err := store.RecordTime(data, m.Now)
		if err != nil {
			return err
		}
		recs = append(recs, pendingEvent{Ts: ts, Data: data})
		return nil
	})
	c.f.recs = recs[:0]
	if err == nil && uint64(len(recs)) != want {
		err = fmt.Errorf("batch holds %d records for %d seqs", len(recs), want)
	}
	if err != nil {
		return &IngestResult{Status: IngestRejected, AckedSeq: rec.AckedSeq, Reason: err.Error()}, nil
	}
	// The new seqs are stored as chunks (runs of consecutive seqs whose
	// events span at most store.MaxChunkSpan). A batch that is new as a
	// whole and fits one chunk is kept as the agent sent it, compressed or
	// not; otherwise each chunk holds its records' framing uncompressed
	// (never re-compressed: another zstd version could compress differently
	// and the replicas' states would differ).
	skip := 0
	if rec.AckedSeq >= m.FirstSeq {
		skip = int(rec.AckedSeq - m.FirstSeq + 1)
	}
	fresh := recs[skip:]
	err = store.SplitChunks(fresh, func(first, end int, minTs, maxTs int64, rawLen int) error {
		ch := &store.Chunk{Agent: m.AgentId, Branch: rec.Branch, Epoch: m.Epoch,
			FirstSeq: m.FirstSeq + uint64(skip+first), Count: end - first, MinTs: minTs, MaxTs: maxTs, Now: m.Now}
		switch {
		case skip == 0 && first == 0 && end == len(fresh) && m.Compression == uint32(agentpb.Compression_COMPRESSION_ZSTD):
			ch.Encoding, ch.RawLen, ch.Records = store.ChunkZstd, len(raw), m.Payload
		case skip == 0 && first == 0 && end == len(fresh):
			ch.Encoding, ch.RawLen, ch.Records = store.ChunkRaw, len(raw), raw
		default:
			ch.Encoding, ch.Recs = store.ChunkRaw, fresh[first:end]
		}
		return c.batch.PutChunk(ch)
	})
	if err != nil {
		return nil, err
	}
	stored := len(fresh)
	rec.AckedSeq = m.LastSeq
	rec.Events += uint64(stored)
	rec.Batches++
	c.putAgent(rec)
	return &IngestResult{Status: IngestStored, AckedSeq: rec.AckedSeq, Stored: stored}, nil
}
