package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/vigil-sec/vigil/protocol/event"
	"google.golang.org/protobuf/encoding/protowire"
)

// Events are stored in chunks: one Pebble value holds a run of consecutive
// seqs of one agent epoch, usually a whole agent batch, so that storing a
// batch costs a handful of key writes whatever its size.
//
//	e c <minTs:8> <agent> 0x00 <epoch:8> <firstSeq:8>   chunk: header + records
//	e T <minTs:8> <agent> 0x00 <epoch:8> <firstSeq:8>   time index: chunk meta
//	e A <agent> 0x00 <chunk suffix>                      agent index: chunk meta
//	e B <branch> 0x00 <chunk suffix>                     branch index: chunk meta
//
// The chunk suffix (minTs, agent, epoch, firstSeq) is the same in all four
// keys. minTs and maxTs are the smallest and largest event time of the
// chunk's events; maxTs-minTs never exceeds MaxChunkSpan, so a query for
// events at or after From starts at From-MaxChunkSpan: no chunk keyed
// earlier holds such an event.
//
// A chunk value is a header then the records:
//
//	version      1 byte, 1
//	encoding     1 byte: 0 the record framing as is, 1 zstd of the framing
//	maxTs        8 bytes, big-endian int64
//	now          8 bytes, big-endian int64: the batch time; a record whose
//	             @timestamp is 0 has event time now
//	count        uvarint, number of records (lastSeq = firstSeq+count-1)
//	rawLen       uvarint, length of the uncompressed framing
//	branch       uvarint length, bytes
//	records      to the end: the protocol/event record framing (uvarint
//	             length, agentpb.Event wire form) of seqs firstSeq..lastSeq,
//	             zstd-compressed when encoding is 1
//
// The index values ("chunk meta") are: version (1 byte, 1), maxTs (8 bytes),
// count (uvarint), then the branch to the end. The time index lets a scan
// skip chunks that end before the range it wants without reading them, and
// gives retention and counts what they need without touching the records.
var (
	chunkPrefix       = []byte("ec")
	chunkTimePrefix   = []byte("eT")
	chunkAgentPrefix  = []byte("eA")
	chunkBranchPrefix = []byte("eB")
)

// MaxChunkSpan bounds the time between the oldest and the newest event of
// one chunk, in nanoseconds. It is part of the storage format: queries and
// retention rely on it.
const MaxChunkSpan = int64(3600 * 1e9)

// MaxChunkRawBytes bounds the uncompressed framing of a chunk that the
// state machine assembles itself (one kept as the agent sent it is bounded
// by the batch limits instead).
const MaxChunkRawBytes = 16 << 20

// ChunkEncoding says how a chunk holds its records.
type ChunkEncoding uint8

const (
	ChunkRaw  ChunkEncoding = 0 // the record framing as is
	ChunkZstd ChunkEncoding = 1 // zstd of the record framing, as an agent sent it
)

const (
	chunkVersion  = 1
	maxChunkValue = 64 << 20 // what a snapshot restore accepts for one value
)

// Chunk is one run of consecutive seqs of one agent epoch.
type Chunk struct {
	Agent    string
	Branch   string
	Epoch    uint64
	FirstSeq uint64
	Count    int   // records held
	MinTs    int64 // smallest event time of the records
	MaxTs    int64 // largest event time; MaxTs-MinTs <= MaxChunkSpan
	Now      int64 // batch time: the event time of records whose @timestamp is 0
	Encoding ChunkEncoding
	RawLen   int    // length of the uncompressed record framing
	Records  []byte // the framing, or its zstd compression
	// Recs, when Records is nil, are the records of a raw chunk: PutChunk
	// writes their framing (and sets RawLen) itself.
	Recs []ChunkRecord
}

// RecordTime is the event time of an encoded event of a batch stamped now:
// its @timestamp, or now when that is 0.
func RecordTime(rec []byte, now int64) (int64, error) {
	ts, err := event.Timestamp(rec)
	if err == nil && ts == 0 {
		ts = now
	}
	return ts, err
}

// ChunkRecord is one record to be placed into chunks.
type ChunkRecord struct {
	Ts   int64  // event time (RecordTime)
	Data []byte // encoded event, without its length prefix
}

// SplitChunks cuts records (consecutive seqs) into chunks greedily, in
// order: a chunk grows until the next record would make it span more than
// MaxChunkSpan or hold more than MaxChunkRawBytes of framing. fn gets each
// chunk's records [first, end) with their time bounds and framing size.
func SplitChunks(recs []ChunkRecord, fn func(first, end int, minTs, maxTs int64, rawLen int) error) error {
	first := 0
	var minTs, maxTs int64
	size := 0
	for i, r := range recs {
		n := protowire.SizeBytes(len(r.Data))
		if i > first {
			lo, hi := min(minTs, r.Ts), max(maxTs, r.Ts)
			if withinSpan(lo, hi) && size+n <= MaxChunkRawBytes {
				minTs, maxTs, size = lo, hi, size+n
				continue
			}
			if err := fn(first, i, minTs, maxTs, size); err != nil {
				return err
			}
			first = i
		}
		minTs, maxTs, size = r.Ts, r.Ts, n
	}
	if first < len(recs) {
		return fn(first, len(recs), minTs, maxTs, size)
	}
	return nil
}

// withinSpan reports whether hi-lo <= MaxChunkSpan, without overflow.
func withinSpan(lo, hi int64) bool { return hi >= lo && uint64(hi)-uint64(lo) <= uint64(MaxChunkSpan) }

// subSpan returns ts-MaxChunkSpan, or math.MinInt64 if that underflows.
func subSpan(ts int64) int64 {
	if ts < math.MinInt64+MaxChunkSpan {
		return math.MinInt64
	}
	return ts - MaxChunkSpan
}

// chunkSuffix is the part of a chunk's keys after the table prefix (and,
// for the agent and branch indexes, after the name).
func chunkSuffix(dst []byte, minTs int64, agent string, epoch, firstSeq uint64) []byte {
	return eventSuffix(dst, minTs, agent, epoch, firstSeq)
}

// appendChunkMeta encodes an index value.
func appendChunkMeta(dst []byte, maxTs int64, count int, branch string) []byte {
	dst = append(dst, chunkVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(maxTs))
	dst = binary.AppendUvarint(dst, uint64(count))
	return append(dst, branch...)
}

// chunkMeta is a decoded index value.
type chunkMeta struct {
	maxTs  int64
	count  uint64
	branch string
}

func parseChunkMeta(v []byte) (chunkMeta, error) {
	if len(v) < 9 || v[0] != chunkVersion {
		return chunkMeta{}, errors.New("malformed chunk index entry")
	}
	m := chunkMeta{maxTs: int64(binary.BigEndian.Uint64(v[1:9]))}
	n, k := binary.Uvarint(v[9:])
	if k <= 0 {
		return chunkMeta{}, errors.New("malformed chunk index entry")
	}
	m.count = n
	m.branch = string(v[9+k:])
	return m, nil
}

// chunkHeader is the decoded header of a chunk value.
type chunkHeader struct {
	encoding ChunkEncoding
	maxTs    int64
	now      int64
	count    uint64
	rawLen   uint64
	branch   string
	records  []byte // aliases the value
}

func appendChunkHeader(dst []byte, c *Chunk) []byte {
	dst = append(dst, chunkVersion, byte(c.Encoding))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.MaxTs))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Now))
	dst = binary.AppendUvarint(dst, uint64(c.Count))
	dst = binary.AppendUvarint(dst, uint64(c.RawLen))
	dst = binary.AppendUvarint(dst, uint64(len(c.Branch)))
	return append(dst, c.Branch...)
}

var errBadChunk = errors.New("malformed event chunk")

func parseChunkHeader(v []byte) (chunkHeader, error) {
	if len(v) < 18 || v[0] != chunkVersion || v[1] > byte(ChunkZstd) {
		return chunkHeader{}, errBadChunk
	}
	h := chunkHeader{
		encoding: ChunkEncoding(v[1]),
		maxTs:    int64(binary.BigEndian.Uint64(v[2:10])),
		now:      int64(binary.BigEndian.Uint64(v[10:18])),
	}
	rest := v[18:]
	var fields [3]uint64
	for i := range fields {
		n, k := binary.Uvarint(rest)
		if k <= 0 {
			return chunkHeader{}, errBadChunk
		}
		fields[i], rest = n, rest[k:]
	}
	h.count, h.rawLen = fields[0], fields[1]
	if fields[2] > uint64(len(rest)) || h.rawLen > maxChunkValue {
		return chunkHeader{}, errBadChunk
	}
	h.branch = string(rest[:fields[2]])
	h.records = rest[fields[2]:]
	return h, nil
}

// ChunkEvents returns the number of events a chunk value (a snapshot
// record of type EventChunkRecord) holds, read from its header.
func ChunkEvents(value []byte) (uint64, bool) {
	h, err := parseChunkHeader(value)
	return h.count, err == nil
}

// chunkDecoder decompresses chunks kept in the form the agent sent them.
// DecodeAll is safe for concurrent use; the output is fully determined by
// the input, so the state machine may use it too (retention).
var chunkDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(4), zstd.WithDecoderMaxMemory(maxChunkValue))
})

// framing returns the chunk's uncompressed record framing; for a raw chunk
// it aliases the value.
func (h *chunkHeader) framing() ([]byte, error) {
	switch h.encoding {
	case ChunkRaw:
		if uint64(len(h.records)) != h.rawLen {
			return nil, errBadChunk
		}
		return h.records, nil
	case ChunkZstd:
		dec, err := chunkDecoder()
		if err != nil {
			return nil, err
		}
		raw, err := dec.DecodeAll(h.records, make([]byte, 0, h.rawLen))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadChunk, err)
		}
		if uint64(len(raw)) != h.rawLen {
			return nil, errBadChunk
		}
		return raw, nil
	}
	return nil, errBadChunk
}

// chunkKey returns prefix + suffix in a new slice.
func chunkKey(prefix, suffix []byte) []byte {
	return append(append(make([]byte, 0, len(prefix)+len(suffix)), prefix...), suffix...)
}

// nameKey returns prefix + name + 0 + suffix, an agent or branch index key.
func nameKey(dst, prefix []byte, name string, suffix []byte) []byte {
	dst = append(append(append(dst, prefix...), name...), 0)
	return append(dst, suffix...)
}

// PutChunk stores one chunk with its time, agent and branch index entries.
// It checks the bounds queries rely on, not the records themselves: the
// caller has validated them.
func (b *Batch) PutChunk(c *Chunk) error {
	if c.Count <= 0 || c.MaxTs < c.MinTs || !withinSpan(c.MinTs, c.MaxTs) {
		return fmt.Errorf("put chunk of %s/%d/%d: %d records over [%d, %d] break the chunk bounds",
			c.Agent, c.Epoch, c.FirstSeq, c.Count, c.MinTs, c.MaxTs)
	}
	if c.Encoding != ChunkRaw && c.Encoding != ChunkZstd {
		return fmt.Errorf("put chunk: unknown encoding %d", c.Encoding)
	}
	body := len(c.Records)
	if c.Records == nil && c.Recs != nil {
		if c.Encoding != ChunkRaw || len(c.Recs) != c.Count {
			return fmt.Errorf("put chunk of %s/%d/%d: %d records for a count of %d", c.Agent, c.Epoch, c.FirstSeq, len(c.Recs), c.Count)
		}
		body = 0
		for _, r := range c.Recs {
			body += protowire.SizeBytes(len(r.Data))
		}
		c.RawLen = body
	}
	var kb [192]byte
	suffix := chunkSuffix(kb[:0], c.MinTs, c.Agent, c.Epoch, c.FirstSeq)
	var hb [96]byte
	hdr := appendChunkHeader(hb[:0], c)
	if len(hdr)+body > maxChunkValue {
		return fmt.Errorf("put chunk of %s/%d/%d: %d bytes, over the %d-byte limit", c.Agent, c.Epoch, c.FirstSeq,
			len(hdr)+body, maxChunkValue)
	}
	// Header and records go straight into the batch, without assembling the
	// value first.
	op := b.b.SetDeferred(len(chunkPrefix)+len(suffix), len(hdr)+body)
	copy(op.Key, chunkPrefix)
	copy(op.Key[len(chunkPrefix):], suffix)
	copy(op.Value, hdr)
	if c.Records == nil && c.Recs != nil {
		framing := op.Value[len(hdr):len(hdr)]
		for _, r := range c.Recs {
			framing = event.AppendRecord(framing, r.Data)
		}
	} else {
		copy(op.Value[len(hdr):], c.Records)
	}
	if err := op.Finish(); err != nil {
		return fmt.Errorf("put chunk: %w", err)
	}
	var mb [64]byte
	meta := appendChunkMeta(mb[:0], c.MaxTs, c.Count, c.Branch)
	var ib [256]byte
	key := append(append(ib[:0], chunkTimePrefix...), suffix...)
	if err := b.b.Set(key, meta, nil); err != nil {
		return fmt.Errorf("put chunk time index: %w", err)
	}
	key = nameKey(key[:0], chunkAgentPrefix, c.Agent, suffix)
	if err := b.b.Set(key, meta, nil); err != nil {
		return fmt.Errorf("put chunk agent index: %w", err)
	}
	key = nameKey(key[:0], chunkBranchPrefix, c.Branch, suffix)
	if err := b.b.Set(key, meta, nil); err != nil {
		return fmt.Errorf("put chunk branch index: %w", err)
	}
	return nil
}

// deleteChunk removes a chunk and its index entries.
func (b *Batch) deleteChunk(suffix []byte, agent, branch string) error {
	for _, key := range [][]byte{
		chunkKey(chunkPrefix, suffix),
		chunkKey(chunkTimePrefix, suffix),
		nameKey(nil, chunkAgentPrefix, agent, suffix),
		nameKey(nil, chunkBranchPrefix, branch, suffix),
	} {
		if err := b.b.Delete(key, nil); err != nil {
			return fmt.Errorf("delete chunk: %w", err)
		}
	}
	return nil
}

// chunkRecord is one record of a decoded chunk.
type chunkRecord struct {
	ts  int64
	seq uint64
	rec []byte
}

// decodeChunk returns the records of a chunk value in seq order, with their
// event times. keep, when not nil, selects the records returned. The
// records alias the framing, which aliases the value for a raw chunk.
func decodeChunk(value []byte, firstSeq uint64, keep func(ts int64, seq uint64) bool, out []chunkRecord) (chunkHeader, []chunkRecord, int, error) {
	h, err := parseChunkHeader(value)
	if err != nil {
		return h, out, 0, err
	}
	raw, err := h.framing()
	if err != nil {
		return h, out, 0, err
	}
	n := uint64(0)
	err = event.SplitRecords(raw, func(i int, rec []byte) error {
		if uint64(i) >= h.count {
			return errBadChunk
		}
		ts, err := RecordTime(rec, h.now)
		if err != nil {
			return err
		}
		n++
		seq := firstSeq + uint64(i)
		if keep == nil || keep(ts, seq) {
			out = append(out, chunkRecord{ts: ts, seq: seq, rec: rec})
		}
		return nil
	})
	if err == nil && n != h.count {
		err = errBadChunk
	}
	return h, out, len(raw), err
}

// chunkID identifies a chunk by its key suffix.
type chunkID struct {
	minTs    int64
	agent    string
	epoch    uint64
	firstSeq uint64
}

func parseChunkID(suffix []byte) (chunkID, bool) {
	ts, agent, epoch, seq, ok := parseSuffix(suffix)
	return chunkID{ts, agent, epoch, seq}, ok
}

// inRange reports whether lo <= k < hi.
func inRange(k, lo, hi []byte) bool {
	return bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0
}
