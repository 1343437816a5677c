package fsm

import (
	"fmt"

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

type pendingEvent struct {
	ts   int64
	data []byte
}

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
		ts, err := event.Timestamp(data)
		if err != nil {
			return err
		}
		if ts == 0 {
			ts = m.Now
		}
		recs = append(recs, pendingEvent{ts: ts, data: data})
		return nil
	})
	c.f.recs = recs[:0]
	if err == nil && uint64(len(recs)) != want {
		err = fmt.Errorf("batch holds %d records for %d seqs", len(recs), want)
	}
	if err != nil {
		return &IngestResult{Status: IngestRejected, AckedSeq: rec.AckedSeq, Reason: err.Error()}, nil
	}
	stored := 0
	for i, r := range recs {
		seq := m.FirstSeq + uint64(i)
		if seq <= rec.AckedSeq {
			continue
		}
		if err := c.batch.PutEvent(r.ts, m.AgentId, rec.Branch, m.Epoch, seq, r.data); err != nil {
			return nil, err
		}
		stored++
	}
	rec.AckedSeq = m.LastSeq
	rec.Events += uint64(stored)
	rec.Batches++
	c.putAgent(rec)
	return &IngestResult{Status: IngestStored, AckedSeq: rec.AckedSeq, Stored: stored}, nil
}
