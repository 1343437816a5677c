package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/hashicorp/raft"
)

// DefaultCacheSize is the Pebble block cache size used when
// Options.CacheSize is zero.
const DefaultCacheSize = 32 << 20

var (
	// ErrKeyNotFound is returned by Get and GetUint64 for a key that was
	// never set. Its text must stay exactly "not found": raft matches on it.
	ErrKeyNotFound = errors.New("not found")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("raftstore: store is closed")
)

// Options configures Open.
type Options struct {
	// Path is the directory holding the Pebble database. It is created if
	// missing. Required.
	Path string

	// NoSync turns off the fsync of each write. The zero value, false, is
	// the durable setting that raft requires; set NoSync only in tests and
	// benchmarks.
	NoSync bool

	// CacheSize is the Pebble block cache size in bytes. Zero means
	// DefaultCacheSize.
	CacheSize int64

	// Logger receives Pebble's messages and background errors. Nil means
	// slog.Default().
	Logger *slog.Logger

	// fs replaces the real filesystem in tests (e.g. a crash-simulating
	// vfs.MemFS).
	fs vfs.FS
}

// Store is a raft.LogStore and raft.StableStore backed by Pebble. It is safe
// for concurrent use.
type Store struct {
	db     *pebble.DB
	wo     *pebble.WriteOptions
	logger *slog.Logger

	// first and last cache the lowest and highest stored log index, 0 when
	// the log is empty. They are changed only under writeMu, after the
	// write that justifies them has been committed.
	first atomic.Uint64
	last  atomic.Uint64

	// writeMu serialises writes so the cached bounds follow commit order.
	writeMu sync.Mutex

	// closeMu guards db against use after Close: every operation holds it
	// for reading, Close for writing.
	closeMu sync.RWMutex
	closed  bool
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// Open opens or creates the store in opts.Path.
func Open(opts Options) (*Store, error) {
	if opts.Path == "" && opts.fs == nil {
		return nil, errors.New("open raft store: empty path")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "raftstore", "path", opts.Path)
	cacheSize := opts.CacheSize
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	fs := opts.fs
	if fs == nil {
		fs = vfs.Default
	}

	cache := pebble.NewCache(cacheSize)
	defer cache.Unref() // the DB holds its own reference
	db, err := pebble.Open(opts.Path, &pebble.Options{
		FS:     fs,
		Cache:  cache,
		Logger: pebbleLogger{logger},
		EventListener: &pebble.EventListener{
			BackgroundError: func(err error) {
				logger.Error("pebble background error", "err", err)
			},
			DiskSlow: func(info pebble.DiskSlowInfo) {
				logger.Warn("pebble disk slow", "info", info.String())
			},
			WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
				logger.Warn("pebble write stall", "reason", info.Reason)
			},
			WriteStallEnd: func() {
				logger.Info("pebble write stall ended")
			},
		},
		// Pinned rather than FormatNewest so that a Pebble upgrade never
		// ratchets the on-disk format implicitly.
		FormatMajorVersion: pebble.FormatVirtualSSTables,
		// Log entries are deleted soon after they are written (compaction
		// after each snapshot); a large memtable lets many of them die
		// before they are ever flushed.
		MemTableSize:             32 << 20,
		MaxConcurrentCompactions: func() int { return 2 },
	})
	if err != nil {
		return nil, fmt.Errorf("open raft store %q: %w", opts.Path, err)
	}

	s := &Store{db: db, wo: pebble.Sync, logger: logger}
	if opts.NoSync {
		s.wo = pebble.NoSync
		logger.Warn("raft store opened without fsync; acknowledged writes can be lost on crash")
	}
	if err := s.loadBounds(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open raft store %q: %w", opts.Path, err)
	}
	logger.Info("raft store opened", "first_index", s.first.Load(), "last_index", s.last.Load())
	return s, nil
}

// Close waits for in-flight calls, then releases the database. It needs
// no flush: every acknowledged write is already in the synced WAL. Later
// calls return ErrClosed; calling Close again is a no-op.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close raft store: %w", err)
	}
	s.logger.Info("raft store closed")
	return nil
}

// acquire takes the read side of closeMu, failing if the store is closed.
// On success the caller must call s.closeMu.RUnlock.
func (s *Store) acquire() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

// FirstIndex returns the lowest stored log index, or 0 if the log is empty.
func (s *Store) FirstIndex() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, fmt.Errorf("first index: %w", err)
	}
	defer s.closeMu.RUnlock()
	return s.first.Load(), nil
}

// LastIndex returns the highest stored log index, or 0 if the log is empty.
func (s *Store) LastIndex() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, fmt.Errorf("last index: %w", err)
	}
	defer s.closeMu.RUnlock()
	return s.last.Load(), nil
}

// GetLog reads the entry at index into log. It returns raft.ErrLogNotFound,
// unwrapped, if there is none.
func (s *Store) GetLog(index uint64, log *raft.Log) error {
	if err := s.acquire(); err != nil {
		return fmt.Errorf("get log %d: %w", index, err)
	}
	defer s.closeMu.RUnlock()

	val, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("get log %d: %w", index, err)
	}
	defer closer.Close()
	if err := decodeLog(val, log); err != nil {
		return fmt.Errorf("get log %d: %w", index, err)
	}
	if log.Index != index {
		return fmt.Errorf("get log %d: %w: record holds index %d", index, errCorrupt, log.Index)
	}
	return nil
}

// StoreLog stores one entry durably.
func (s *Store) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs stores entries in one atomic batch and returns only once the
// batch is durable (unless NoSync). Entries need not be contiguous with
// those already stored; an existing entry at the same index is replaced.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return fmt.Errorf("store logs: %w", err)
	}
	defer s.closeMu.RUnlock()

	b := s.db.NewBatch()
	defer b.Close()
	var (
		buf    []byte
		lo, hi uint64 = math.MaxUint64, 0
	)
	for _, l := range logs {
		if l == nil {
			return errors.New("store logs: nil entry")
		}
		if l.Index == 0 {
			return errors.New("store logs: index 0 is reserved for an empty log")
		}
		buf = appendLog(buf[:0], l)
		if err := b.Set(logKey(l.Index), buf, nil); err != nil {
			return fmt.Errorf("store logs: batch entry %d: %w", l.Index, err)
		}
		lo = min(lo, l.Index)
		hi = max(hi, l.Index)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := b.Commit(s.wo); err != nil {
		return fmt.Errorf("store logs %d..%d: %w", lo, hi, err)
	}
	if first := s.first.Load(); first == 0 || lo < first {
		s.first.Store(lo)
	}
	if hi > s.last.Load() {
		s.last.Store(hi)
	}
	return nil
}

// DeleteRange deletes the entries with indexes in [lo, hi], durably and
// atomically. Raft calls it with a prefix of the log for compaction and
// with a suffix to drop conflicting entries.
func (s *Store) DeleteRange(lo, hi uint64) error {
	if lo > hi {
		return nil
	}
	if err := s.acquire(); err != nil {
		return fmt.Errorf("delete range %d..%d: %w", lo, hi, err)
	}
	defer s.closeMu.RUnlock()

	end := logUpper
	if hi < math.MaxUint64 {
		end = logKey(hi + 1)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.db.DeleteRange(logKey(lo), end, s.wo); err != nil {
		return fmt.Errorf("delete range %d..%d: %w", lo, hi, err)
	}
	// A range that misses both ends of the log leaves them in place;
	// otherwise reread them, which also copes with gaps in the log.
	first, last := s.first.Load(), s.last.Load()
	if first == 0 || hi < first || lo > last || (lo > first && hi < last) {
		return nil
	}
	if err := s.loadBounds(); err != nil {
		return fmt.Errorf("delete range %d..%d: %w", lo, hi, err)
	}
	return nil
}

// loadBounds reads the first and last log index from the database into the
// cache. Callers hold writeMu, or own the Store exclusively.
func (s *Store) loadBounds() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: logLower, UpperBound: logUpper})
	if err != nil {
		return fmt.Errorf("load log bounds: %w", err)
	}
	var first, last uint64
	if it.First() {
		if first, err = parseLogKey(it.Key()); err == nil && it.Last() {
			last, err = parseLogKey(it.Key())
		}
	}
	if err == nil {
		err = it.Error()
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("load log bounds: %w", err)
	}
	s.first.Store(first)
	s.last.Store(last)
	return nil
}

// Set stores a stable-store value durably.
func (s *Store) Set(key, val []byte) error {
	if err := s.acquire(); err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	defer s.closeMu.RUnlock()
	if err := s.db.Set(stableKey(key), val, s.wo); err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	return nil
}

// Get returns a copy of the value stored under key, or ErrKeyNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	if err := s.acquire(); err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	defer s.closeMu.RUnlock()
	val, closer, err := s.db.Get(stableKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	defer closer.Close()
	return append([]byte{}, val...), nil
}

// SetUint64 stores val under key as 8 big-endian bytes, durably.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the value stored by SetUint64, or 0 and ErrKeyNotFound.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	val, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(val) != 8 {
		return 0, fmt.Errorf("get uint64 %q: value is %d bytes, want 8", key, len(val))
	}
	return binary.BigEndian.Uint64(val), nil
}

// pebbleLogger routes Pebble's own messages to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Info(fmt.Sprintf(format, args...), "source", "pebble")
}

// Fatalf is called by Pebble on unrecoverable conditions such as detected
// corruption. Pebble's default exits the process; a library should not, so
// this logs and panics, which still stops the caller from continuing.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "source", "pebble", "fatal", true)
	panic("pebble: " + msg)
}
