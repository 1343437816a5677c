// Package inputs defines what every agent input is: an Input that reads
// records from one source, parses them through a parsers.Processor, and
// appends them to a Sink (the durable buffer), acknowledging its source only
// after the append returned. It also holds the shared counters and the
// batching helper. Inputs never talk to the hub and never drop a record
// without counting it.
package inputs

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/parsers"
)

// Input is one configured source.
type Input interface {
	// ID is the input's name from agent.yaml; it is recorded on every event.
	ID() string
	// Run reads until ctx ends. It returns nil on a clean stop.
	Run(ctx context.Context) error
	// Counters exposes the input's counters.
	Counters() *Counters
}

// Sink is where inputs put events; *buffer.Buffer implements it.
type Sink interface {
	// Append blocks while the buffer is full (inputs that can wait).
	Append(ctx context.Context, recs [][]byte, cps ...buffer.Checkpoint) (uint64, error)
	// TryAppend fails with buffer.ErrFull at once (inputs that cannot wait).
	TryAppend(recs [][]byte, cps ...buffer.Checkpoint) (uint64, error)
	Checkpoint(name string) ([]byte, bool, error)
	// MaxBytes is the buffer's size limit; one append must stay well below it.
	MaxBytes() int64
}

// BatchByteLimit is the most encoded bytes an input should hand to one
// append: at most 1 MiB, and at most a quarter of the buffer so that a batch
// (plus the record that tipped it over) always fits in an empty buffer.
func BatchByteLimit(s Sink) int { return int(min(1<<20, s.MaxBytes()/4)) }

var _ Sink = (*buffer.Buffer)(nil)

// Counters are an input's running totals, safe for concurrent use.
type Counters struct {
	Records        atomic.Uint64 // records appended to the buffer
	Bytes          atomic.Uint64 // raw bytes of those records
	DroppedFull    atomic.Uint64 // records dropped because the buffer was full
	DroppedInvalid atomic.Uint64 // frames that could not be read (bad octet count)
	Truncated      atomic.Uint64
	InvalidUTF8    atomic.Uint64
	ParseErrors    atomic.Uint64
	DeadLetters    atomic.Uint64 // records a parser plugin set aside
	Connections    atomic.Int64  // open connections (stream inputs)
	ConnRefused    atomic.Uint64
}

// Snapshot returns the counters as a map for status output.
func (c *Counters) Snapshot() map[string]uint64 {
	return map[string]uint64{
		"records_total":             c.Records.Load(),
		"bytes_total":               c.Bytes.Load(),
		"dropped_buffer_full":       c.DroppedFull.Load(),
		"dropped_invalid_frame":     c.DroppedInvalid.Load(),
		"truncated_total":           c.Truncated.Load(),
		"invalid_utf8_total":        c.InvalidUTF8.Load(),
		"parse_errors_total":        c.ParseErrors.Load(),
		"dead_letters_total":        c.DeadLetters.Load(),
		"connections":               uint64(max(c.Connections.Load(), 0)),
		"connections_refused_total": c.ConnRefused.Load(),
	}
}

// Batch accumulates encoded events in one arena so that appending many
// records costs few allocations. It is used by one goroutine.
type Batch struct {
	proc  *parsers.Processor
	ctr   *Counters
	arena []byte
	spans []int // end offsets into arena
	recs  [][]byte
	raw   uint64
	last  parsers.Stats

	// With a batch parser, records wait here unparsed until the batch is
	// taken (Records), so the parser sees them in one call.
	pending  []byte
	pendEnds []int
	pendRcv  []time.Time
	pendRaws [][]byte
}

// NewBatch returns a batch that processes records with proc.
func NewBatch(proc *parsers.Processor, ctr *Counters) *Batch {
	return &Batch{proc: proc, ctr: ctr}
}

// Add parses one raw record into the batch (or, with a batch parser, keeps
// it for the batch's one parse call).
func (b *Batch) Add(raw []byte, received time.Time) {
	b.raw += uint64(len(raw))
	if b.proc.Batcher() != nil {
		b.pending = append(b.pending, raw...)
		b.pendEnds = append(b.pendEnds, len(b.pending))
		b.pendRcv = append(b.pendRcv, received)
		return
	}
	b.arena = append(b.arena, b.proc.Process(raw, received)...)
	b.spans = append(b.spans, len(b.arena))
}

// parsePending runs the batch parser over the records waiting for it.
func (b *Batch) parsePending() {
	if len(b.pendEnds) == 0 {
		return
	}
	b.pendRaws = b.pendRaws[:0]
	start := 0
	for _, end := range b.pendEnds {
		b.pendRaws = append(b.pendRaws, b.pending[start:end:end])
		start = end
	}
	b.proc.ProcessBatch(b.proc.Batcher(), b.pendRaws, b.pendRcv, func(enc []byte) {
		b.arena = append(b.arena, enc...)
		b.spans = append(b.spans, len(b.arena))
	})
	b.pending, b.pendEnds, b.pendRcv = b.pending[:0], b.pendEnds[:0], b.pendRcv[:0]
}

// Len is the number of records held (waiting ones included).
func (b *Batch) Len() int { return len(b.spans) + len(b.pendEnds) }

// Size is the encoded bytes held; records waiting for a batch parser count
// with their raw size.
func (b *Batch) Size() int { return len(b.arena) + len(b.pending) }

// Full reports whether the batch should be appended now: it holds
// maxRecords records or byteLimit encoded bytes.
func (b *Batch) Full(maxRecords, byteLimit int) bool {
	return b.Len() >= maxRecords || b.Size() >= byteLimit
}

// Records returns the held records, parsing any that wait for a batch
// parser; valid until Reset. Records a plugin set aside as dead letters are
// not among them (they are counted).
func (b *Batch) Records() [][]byte {
	b.parsePending()
	b.recs = b.recs[:0]
	start := 0
	for _, end := range b.spans {
		b.recs = append(b.recs, b.arena[start:end:end])
		start = end
	}
	return b.recs
}

// Committed counts the held records as appended and resets the batch.
func (b *Batch) Committed() {
	b.ctr.Records.Add(uint64(len(b.spans)))
	b.ctr.Bytes.Add(b.raw)
	b.flushStats()
	b.Reset()
}

// Dropped counts the held records as dropped for a full buffer and resets.
func (b *Batch) Dropped() {
	b.ctr.DroppedFull.Add(uint64(len(b.spans)))
	b.flushStats()
	b.Reset()
}

func (b *Batch) flushStats() {
	s := b.proc.Stats()
	b.ctr.Truncated.Add(s.Truncated - b.last.Truncated)
	b.ctr.InvalidUTF8.Add(s.InvalidUTF8 - b.last.InvalidUTF8)
	b.ctr.ParseErrors.Add(s.ParseErrors - b.last.ParseErrors)
	b.ctr.DeadLetters.Add(s.DeadLetters - b.last.DeadLetters)
	b.last = s
}

// Reset empties the batch, keeping its memory unless it grew large.
func (b *Batch) Reset() {
	if cap(b.arena) > 8<<20 {
		b.arena = nil
	}
	b.arena = b.arena[:0]
	b.spans = b.spans[:0]
	b.pending, b.pendEnds, b.pendRcv = b.pending[:0], b.pendEnds[:0], b.pendRcv[:0]
	b.raw = 0
}
