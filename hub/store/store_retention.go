package store

import (
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// DeleteEventsBefore removes every event with an event time before cutoff,
// with its index entries. The index ranges are derived from the committed
// agent records plus pending (records written earlier in this batch, which
// the store cannot see yet), so every node issues the same deletions however
// Raft grouped the entries into batches.
func (b *Batch) DeleteEventsBefore(cutoff int64, pending []*raftpb.AgentRecord) error {
	lo := tsBytes(append([]byte(nil), eventPrimary...), -1<<63)
	hi := tsBytes(append([]byte(nil), eventPrimary...), cutoff)
	if err := b.b.DeleteRange(lo, hi, nil); err != nil {
		return fmt.Errorf("delete events: %w", err)
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
		p := append(append(append([]byte(nil), eventAgent...), a.Id...), 0)
		if err := b.b.DeleteRange(p, tsBytes(append([]byte(nil), p...), cutoff), nil); err != nil {
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
		p := append(append(append([]byte(nil), eventBranch...), br...), 0)
		if err := b.b.DeleteRange(p, tsBytes(append([]byte(nil), p...), cutoff), nil); err != nil {
			return fmt.Errorf("delete branch index: %w", err)
		}
	}
	return nil
}

// EventTimeBounds returns the oldest and newest stored event times.
func (s *Store) EventTimeBounds() (oldest, newest int64, ok bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: eventPrimary, UpperBound: prefixEnd(append([]byte(nil), eventPrimary...))})
	if err != nil {
		return 0, 0, false, err
	}
	defer it.Close()
	if !it.First() {
		return 0, 0, false, it.Error()
	}
	oldest, _, _, _, _ = parseSuffix(it.Key()[len(eventPrimary):])
	it.Last()
	newest, _, _, _, _ = parseSuffix(it.Key()[len(eventPrimary):])
	return oldest, newest, true, it.Error()
}

// CutoffForSize estimates the event time before which events must go so
// that the stored events take at most maxBytes on disk. It returns 0 when
// nothing needs to go. The estimate uses Pebble's on-disk size of key
// ranges, so it is approximate and only used by the leader to propose a
// Retention entry; applying that entry is exact on every node.
func (s *Store) CutoffForSize(maxBytes uint64) (int64, error) {
	oldest, newest, ok, err := s.EventTimeBounds()
	if err != nil || !ok || maxBytes == 0 {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	end := prefixEnd(append([]byte(nil), eventPrimary...))
	usage := func(from int64) (uint64, error) {
		return s.db.EstimateDiskUsage(tsBytes(append([]byte(nil), eventPrimary...), from), end)
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
