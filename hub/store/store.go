package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble"
)

// Store is the hub's state. Reads may run concurrently with the state
// machine's writes; Restore excludes both.
type Store struct {
	dir string
	log *slog.Logger

	mu sync.RWMutex // held for writing only while Restore swaps the contents
	db *pebble.DB
}

var (
	keyApplied   = []byte("mapplied")
	keyRestoring = []byte("mrestoring")
)

// Open opens or creates the store in dir.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	db, err := pebble.Open(dir, tunedOptions(log))
	if err != nil {
		return nil, fmt.Errorf("open state store %s: %w", dir, err)
	}
	if err := refuseOldLayout(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state store %s: %w", dir, err)
	}
	return &Store{dir: dir, log: log, db: db}, nil
}

// legacyEventPrefixes are the per-event keys of snapshot format 1 stores,
// which the chunked layout replaced.
var legacyEventPrefixes = [][]byte{[]byte("et"), []byte("eb"), []byte("ea")}

// refuseOldLayout fails on a store that still holds per-event keys: its
// events would be invisible to every query. There is no in-place migration;
// the node must be rebuilt from the cluster or a fresh snapshot.
func refuseOldLayout(db *pebble.DB) error {
	for _, p := range legacyEventPrefixes {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
		if err != nil {
			return err
		}
		found := it.First()
		if err := it.Close(); err != nil {
			return err
		}
		if found {
			return errors.New("it holds events in the per-event layout of an older hub (snapshot format 1); " +
				"move the node's state directory away and let the node catch up from the cluster, or restore a snapshot taken by this version")
		}
	}
	return nil
}

// Close closes the store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	// Without a WAL the memtable is the only copy of recent writes.
	ferr := s.db.Flush()
	err := s.db.Close()
	s.db = nil
	if ferr != nil {
		return fmt.Errorf("flush state store: %w", ferr)
	}
	return err
}

// Applied returns the index of the last Raft entry whose effects are stored.
func (s *Store) Applied() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, err := s.get(keyApplied)
	if err != nil || v == nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

// NeedsRestore reports whether a snapshot restore was interrupted, in which
// case the contents are incomplete and must be restored again before use.
func (s *Store) NeedsRestore() (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, err := s.get(keyRestoring)
	return v != nil, err
}

// Sync makes every write so far durable.
func (s *Store) Sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("sync state store: %w", err)
	}
	return nil
}

// get returns a copy of the value at key, or nil. Requires s.mu held.
func (s *Store) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key[:1], err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// Batch collects the writes of one or more Raft entries; Commit stores them
// atomically together with the applied index.
type Batch struct {
	s *Store
	b *pebble.Batch
}

// NewBatch starts a batch. The caller must Commit or Close it.
func (s *Store) NewBatch() *Batch {
	s.mu.RLock()
	return &Batch{s: s, b: s.db.NewBatch()}
}

// Commit writes the batch and the applied index, without syncing.
func (b *Batch) Commit(applied uint64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], applied)
	_ = b.b.Set(keyApplied, v[:], nil)
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("commit state batch at index %d: %w", applied, err)
	}
	return nil
}

// Close releases the batch; it must be called exactly once.
func (b *Batch) Close() {
	_ = b.b.Close()
	b.s.mu.RUnlock()
}

// get reads committed state; the batch's own writes are not visible (the
// state machine tracks those itself).
func (b *Batch) get(key []byte) ([]byte, error) { return b.s.get(key) }

// tunedOptions sizes Pebble for the hub's write pattern: a steady stream
// of event batches whose keys are spread over event time. Pebble's defaults
// (4 MiB memtables, one compaction at a time) made compaction the hub's
// bottleneck: larger memtables cut write amplification and a second
// compaction keeps L0 from piling up.
func tunedOptions(log *slog.Logger) *pebble.Options {
	return &pebble.Options{
		Logger:                   pebbleLogger{log},
		MemTableSize:             64 << 20,
		L0CompactionThreshold:    4,
		L0StopWritesThreshold:    24,
		LBaseMaxBytes:            256 << 20,
		MaxConcurrentCompactions: func() int { return 2 },
		// The Raft log is the store's write-ahead log: everything the
		// store holds is replayed from it after a crash, from the store's
		// last flushed applied index on (Pebble flushes memtables in
		// order, so what survives is always a prefix of the applied
		// entries). Sync flushes before Raft compacts its log past an
		// index, so the replay never needs an entry that is gone. A second
		// WAL only doubled every write.
		DisableWAL: true,
	}
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}
