package store

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// DeleteEventsBefore removes every event with an event time before cutoff.
//
// Chunks are removed whole when all their events are older than cutoff. A
// chunk that straddles the cutoff (first event before it, last event at or
// after it) is rewritten without its old events: its remaining records, as
// uncompressed runs of consecutive seqs, become new chunks. So the events
// kept are exactly those at or after cutoff, on every node.
//
// Chunks that start before cutoff-MaxChunkSpan end before cutoff: they go by
// range deletions, whose agent and branch index ranges are derived from the
// committed agent records plus pending (records written earlier in this
// batch, which the store cannot see yet). Chunks that start in the last
// MaxChunkSpan before cutoff are looked at one by one, as the state is after
// the writes earlier in this batch (read from the batch itself). Either way
// every node issues the same writes however Raft grouped the entries.
func (b *Batch) DeleteEventsBefore(cutoff int64, pending []*raftpb.AgentRecord) error {
	if cutoff == math.MinInt64 {
		return nil
	}
	edge := subSpan(cutoff)
	if err := b.trimWindow(edge, cutoff); err != nil {
		return err
	}
	if edge == math.MinInt64 {
		return nil
	}
	for _, p := range [][]byte{chunkPrefix, chunkTimePrefix} {
		if err := b.b.DeleteRange(p, tsBytes(slices.Clone(p), edge), nil); err != nil {
			return fmt.Errorf("delete events: %w", err)
		}
	}
	committed, err := b.s.agentsLocked("")
	if err != nil {
		return err
	}
	byID := map[string]*raftpb.AgentRecord{}
	for _, a := range committed {
		byID[a.Id] = a
	}
	for _, a := range pending {
		byID[a.Id] = a
	}
	ids := make([]string, 0, len(byID))
	//fsm:sorted
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	branches := map[string]bool{}
	for _, id := range ids {
		a := byID[id]
		branches[a.Branch] = true
		p := nameKey(nil, chunkAgentPrefix, a.Id, nil)
		if err := b.b.DeleteRange(p, tsBytes(slices.Clone(p), edge), nil); err != nil {
			return fmt.Errorf("delete agent index: %w", err)
		}
	}
	names := make([]string, 0, len(branches))
	//fsm:sorted
	for br := range branches {
		names = append(names, br)
	}
	sort.Strings(names)
	for _, br := range names {
		p := nameKey(nil, chunkBranchPrefix, br, nil)
		if err := b.b.DeleteRange(p, tsBytes(slices.Clone(p), edge), nil); err != nil {
			return fmt.Errorf("delete branch index: %w", err)
		}
	}
	return nil
}

// trimWindow deletes or rewrites each chunk whose first event time is in
// [lo, cutoff).
func (b *Batch) trimWindow(lo, cutoff int64) error {
	tlo, thi := tsBytes(slices.Clone(chunkTimePrefix), lo), tsBytes(slices.Clone(chunkTimePrefix), cutoff)
	clo, chi := tsBytes(slices.Clone(chunkPrefix), lo), tsBytes(slices.Clone(chunkPrefix), cutoff)
	ov, err := b.overlay([2][]byte{tlo, thi}, [2][]byte{clo, chi})
	if err != nil {
		return err
	}
	// The window's time index entries as of now: committed ones unless this
	// batch changed them, then the ones this batch wrote.
	type entry struct{ key, value []byte }
	var entries []entry
	it, err := b.s.db.NewIter(&pebble.IterOptions{LowerBound: tlo, UpperBound: thi})
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		if _, changed := ov.lookup(it.Key()); !changed {
			entries = append(entries, entry{slices.Clone(it.Key()), slices.Clone(it.Value())})
		}
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	for _, k := range ov.keys {
		if v, _ := ov.lookup([]byte(k)); v != nil && inRange([]byte(k), tlo, thi) {
			entries = append(entries, entry{[]byte(k), v})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.key, b.key) })

	// Decide everything before writing: the overlay aliases the batch.
	type rewrite struct {
		suffix        []byte
		agent, branch string
		chunks        []*Chunk
	}
	var plan []rewrite
	for _, e := range entries {
		suffix := e.key[len(chunkTimePrefix):]
		id, ok := parseChunkID(suffix)
		if !ok {
			return fmt.Errorf("retention: malformed chunk key")
		}
		meta, err := parseChunkMeta(e.value)
		if err != nil {
			return fmt.Errorf("retention: %w", err)
		}
		rw := rewrite{suffix: suffix, agent: id.agent, branch: meta.branch}
		if meta.maxTs >= cutoff {
			ck := chunkKey(chunkPrefix, suffix)
			value, changed := ov.lookup(ck)
			if !changed {
				if value, err = b.s.get(ck); err != nil {
					return err
				}
			}
			if value == nil {
				return fmt.Errorf("retention: chunk %s/%d/%d is missing", id.agent, id.epoch, id.firstSeq)
			}
			if rw.chunks, err = keepFrom(value, id, cutoff); err != nil {
				return fmt.Errorf("retention: chunk %s/%d/%d: %w", id.agent, id.epoch, id.firstSeq, err)
			}
		}
		plan = append(plan, rw)
	}
	for _, rw := range plan {
		if err := b.deleteChunk(rw.suffix, rw.agent, rw.branch); err != nil {
			return err
		}
		for _, c := range rw.chunks {
			if err := b.PutChunk(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// keepFrom returns the chunks that hold the records of a chunk value with
// an event time at or after cutoff: its runs of consecutive seqs, each cut
// by SplitChunks, as uncompressed framing.
func keepFrom(value []byte, id chunkID, cutoff int64) ([]*Chunk, error) {
	h, recs, _, err := decodeChunk(value, id.firstSeq, nil, nil)
	if err != nil {
		return nil, err
	}
	var out []*Chunk
	var run []ChunkRecord
	var runFirst uint64
	flush := func() error {
		err := SplitChunks(run, func(first, end int, minTs, maxTs int64, rawLen int) error {
			out = append(out, &Chunk{Agent: id.agent, Branch: h.branch, Epoch: id.epoch, FirstSeq: runFirst + uint64(first),
				Count: end - first, MinTs: minTs, MaxTs: maxTs, Now: h.now, Encoding: ChunkRaw, Recs: run[first:end]})
			return nil
		})
		run = nil
		return err
	}
	for _, r := range recs {
		if r.ts < cutoff {
			// The run of consecutive seqs ends here.
			if len(run) > 0 {
				if err := flush(); err != nil {
					return nil, err
				}
			}
			continue
		}
		if len(run) == 0 {
			runFirst = r.seq
		}
		run = append(run, ChunkRecord{Ts: r.ts, Data: r.rec})
	}
	if len(run) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// batchOverlay is what a batch did to some key ranges, in order: the keys
// it set or deleted, and the ranges it deleted.
type batchOverlay struct {
	vals   map[string][]byte // nil: deleted
	keys   []string          // keys of vals, first-write order
	ranges [][2][]byte       // range deletions
}

// lookup returns a key's value as the batch left it, and whether the batch
// touched it at all (if not, the committed value stands).
func (o *batchOverlay) lookup(k []byte) ([]byte, bool) {
	if v, ok := o.vals[string(k)]; ok {
		return v, true
	}
	for _, r := range o.ranges {
		if inRange(k, r[0], r[1]) {
			return nil, true
		}
	}
	return nil, false
}

// overlay reads this batch's own writes to keys in the given ranges. The
// values alias the batch and are valid until it is written again.
func (b *Batch) overlay(ranges ...[2][]byte) (*batchOverlay, error) {
	o := &batchOverlay{vals: map[string][]byte{}}
	within := func(k []byte) bool {
		for _, r := range ranges {
			if inRange(k, r[0], r[1]) {
				return true
			}
		}
		return false
	}
	set := func(k string, v []byte) {
		if _, ok := o.vals[k]; !ok {
			o.keys = append(o.keys, k)
		}
		o.vals[k] = v
	}
	r := b.b.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("retention: read batch: %w", err)
		}
		if !ok {
			return o, nil
		}
		switch kind {
		case pebble.InternalKeyKindSet:
			if within(k) {
				set(string(k), v)
			}
		case pebble.InternalKeyKindDelete, pebble.InternalKeyKindSingleDelete:
			if within(k) {
				set(string(k), nil)
			}
		case pebble.InternalKeyKindRangeDelete:
			o.ranges = append(o.ranges, [2][]byte{k, v})
			for _, key := range o.keys {
				if inRange([]byte(key), k, v) {
					o.vals[key] = nil
				}
			}
		case pebble.InternalKeyKindLogData:
		default:
			return nil, fmt.Errorf("retention: unexpected batch operation %v", kind)
		}
	}
}

// EventTimeBounds returns the oldest and newest stored event times.
func (s *Store) EventTimeBounds() (oldest, newest int64, ok bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: chunkTimePrefix, UpperBound: prefixEnd(chunkTimePrefix)})
	if err != nil {
		return 0, 0, false, err
	}
	defer it.Close()
	if !it.First() {
		return 0, 0, false, it.Error()
	}
	id, idOK := parseChunkID(it.Key()[len(chunkTimePrefix):])
	if !idOK {
		return 0, 0, false, fmt.Errorf("event time bounds: malformed key")
	}
	oldest = id.minTs
	// The newest event is in one of the chunks starting in the last
	// MaxChunkSpan before it.
	newest = math.MinInt64
	for valid := it.Last(); valid; valid = it.Prev() {
		id, idOK := parseChunkID(it.Key()[len(chunkTimePrefix):])
		meta, err := parseChunkMeta(it.Value())
		if !idOK || err != nil {
			return 0, 0, false, fmt.Errorf("event time bounds: malformed index entry")
		}
		if newest != math.MinInt64 && id.minTs < subSpan(newest) {
			break
		}
		newest = max(newest, meta.maxTs)
	}
	return oldest, newest, true, it.Error()
}

// CutoffForSize estimates the event time before which events must go so
// that the stored events take at most maxBytes on disk. It returns 0 when
// nothing needs to go. The estimate uses Pebble's on-disk size of chunk key
// ranges (chunks are keyed by their first event time), so it is approximate
// and only used by the leader to propose a Retention entry; applying that
// entry is exact on every node.
func (s *Store) CutoffForSize(maxBytes uint64) (int64, error) {
	oldest, newest, ok, err := s.EventTimeBounds()
	if err != nil || !ok || maxBytes == 0 {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	end := prefixEnd(chunkPrefix)
	usage := func(from int64) (uint64, error) {
		return s.db.EstimateDiskUsage(tsBytes(slices.Clone(chunkPrefix), from), end)
	}
	total, err := usage(oldest)
	if err != nil {
		return 0, fmt.Errorf("estimate event size: %w", err)
	}
	if total <= maxBytes {
		return 0, nil
	}
	// Binary search the earliest time from which the remainder fits.
	lo, hi := oldest, newest+1
	for hi-lo > 1e6 { // millisecond precision is plenty
		mid := lo + (hi-lo)/2
		u, err := usage(mid)
		if err != nil {
			return 0, fmt.Errorf("estimate event size: %w", err)
		}
		if u > maxBytes {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}
