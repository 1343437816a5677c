package buffer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
)

// Fsync policies.
const (
	FsyncAlways   = "always"
	FsyncInterval = "interval"
)

// Config configures a Buffer. Zero fields take the documented defaults.
type Config struct {
	// Dir is the Pebble directory. Required.
	Dir string
	// MaxBytes bounds the bytes of queued records. The default is 1 GiB.
	MaxBytes int64
	// Fsync is "always" (default: Append returns after the data is synced) or
	// "interval" (synced every FsyncInterval).
	Fsync string
	// FsyncInterval applies to Fsync "interval". The default is 1s.
	FsyncInterval time.Duration
	// MaxGroupBytes bounds one group commit. The default is 4 MiB.
	MaxGroupBytes int
}

// DefaultConfig returns the defaults for dir.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, MaxBytes: 1 << 30, Fsync: FsyncAlways, FsyncInterval: time.Second, MaxGroupBytes: 4 << 20}
}

func (c *Config) setDefaults() {
	d := DefaultConfig(c.Dir)
	if c.MaxBytes <= 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.Fsync == "" {
		c.Fsync = d.Fsync
	}
	if c.FsyncInterval <= 0 {
		c.FsyncInterval = d.FsyncInterval
	}
	if c.MaxGroupBytes <= 0 {
		c.MaxGroupBytes = d.MaxGroupBytes
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("buffer: dir is required")
	}
	if c.Fsync != "" && c.Fsync != FsyncAlways && c.Fsync != FsyncInterval {
		return fmt.Errorf("buffer: fsync must be %q or %q, not %q", FsyncAlways, FsyncInterval, c.Fsync)
	}
	return nil
}

var (
	// ErrFull is returned by TryAppend when the buffer is at MaxBytes.
	ErrFull = errors.New("buffer full")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("buffer closed")
	// ErrTooLarge is returned for a single append larger than MaxBytes.
	ErrTooLarge = errors.New("append larger than the buffer")
)

// recordOverhead approximates Pebble's per-key cost so that MaxBytes bounds
// the disk use of many tiny records too.
const recordOverhead = 16

// Checkpoint is an input position written atomically with the records it covers.
type Checkpoint struct {
	Name  string
	Value []byte
}

// Record is one queued event.
type Record struct {
	Seq  uint64
	Data []byte
}

// Stats is a snapshot of the buffer's counters.
type Stats struct {
	Epoch       uint64 `json:"epoch"`
	LastSeq     uint64 `json:"last_seq"`
	AckedSeq    uint64 `json:"acked_seq"`
	Depth       uint64 `json:"depth"`
	Bytes       int64  `json:"bytes"`
	MaxBytes    int64  `json:"max_bytes"`
	Appended    uint64 `json:"appended_total"`
	DroppedFull uint64 `json:"dropped_full_total"`
	Commits     uint64 `json:"commits_total"`
	Blocked     uint64 `json:"blocked_total"`
}

type request struct {
	recs  [][]byte
	cps   []Checkpoint
	size  int64
	first uint64
	done  chan error
}

// chunk tracks the bytes of a run of seqs so that acks can release space
// without reading the acknowledged records back.
type chunk struct {
	last  uint64
	count uint64
	bytes int64
}

// Buffer is the durable queue. All methods are safe for concurrent use.
type Buffer struct {
	cfg    Config
	log    *slog.Logger
	db     *pebble.DB
	epoch  atomic.Uint64
	wo     *pebble.WriteOptions
	reqs   chan *request
	stop   chan struct{}
	wdone  chan struct{} // closed when the writer goroutine has exited
	wg     sync.WaitGroup
	closed atomic.Bool

	mu      sync.Mutex
	space   *sync.Cond // signalled when bytes fall or the buffer closes
	bytes   int64      // queued plus reserved
	nextSeq uint64     // next seq to assign (writer goroutine only)
	lastSeq uint64     // highest committed seq
	// durableSeq is the highest seq known to be synced. Read never goes
	// past it, so the hub can never acknowledge a record this buffer could
	// still lose in a crash (with fsync "interval"): after a restart the
	// next seq is always one the hub has not seen.
	durableSeq uint64
	// epochStart is the first seq of the current epoch (1 for a new
	// buffer); batches carry it so the hub knows where the epoch begins.
	epochStart uint64
	ackedSeq   uint64
	chunks     []chunk // committed, unacked runs in seq order
	notify     chan struct{}

	dlMu   sync.Mutex // orders dead-letter ids
	dlNext uint64     // next dead-letter id; 0 until the first is stored

	appended    atomic.Uint64
	droppedFull atomic.Uint64
	commits     atomic.Uint64
	blocked     atomic.Uint64
}

var (
	keyEpoch      = []byte("mepoch")
	keyEpochStart = []byte("mepochstart")
	keyAcked      = []byte("macked")
)

func queueKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = 'q'
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func checkpointKey(name string) []byte { return append([]byte{'c'}, name...) }

// Open opens or creates the buffer in cfg.Dir. now supplies the epoch of a
// new buffer (its creation time in nanoseconds, so later epochs are larger).
func Open(cfg Config, log *slog.Logger, now func() time.Time) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	// Records are read back soon after they are written, mostly from the
	// memtable: a small block cache is enough and keeps the agent small
	// (Pebble's default is 8 MiB).
	cache := pebble.NewCache(2 << 20)
	defer cache.Unref()
	db, err := pebble.Open(cfg.Dir, &pebble.Options{
		Logger: quietLogger{log},
		Cache:  cache,
		// Records live briefly and are shipped compressed anyway: spending
		// CPU on snappy in every flush buys nothing.
		Levels: []pebble.LevelOptions{{Compression: pebble.NoCompression}},
	})
	if err != nil {
		return nil, fmt.Errorf("open buffer %s: %w", cfg.Dir, err)
	}
	b := &Buffer{
		cfg:    cfg,
		log:    log,
		db:     db,
		reqs:   make(chan *request, 256),
		stop:   make(chan struct{}),
		wdone:  make(chan struct{}),
		notify: make(chan struct{}),
		wo:     pebble.Sync,
	}
	if cfg.Fsync == FsyncInterval {
		b.wo = pebble.NoSync
	}
	b.space = sync.NewCond(&b.mu)
	if err := b.load(now); err != nil {
		db.Close()
		return nil, err
	}
	b.wg.Add(1)
	go b.writer()
	if cfg.Fsync == FsyncInterval {
		b.wg.Add(1)
		go b.syncer()
	}
	return b, nil
}

func (b *Buffer) load(now func() time.Time) error {
	v, closer, err := b.db.Get(keyEpoch)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		b.epoch.Store(uint64(now().UnixNano()))
		var e [8]byte
		binary.BigEndian.PutUint64(e[:], b.epoch.Load())
		if err := b.db.Set(keyEpoch, e[:], pebble.Sync); err != nil {
			return fmt.Errorf("write epoch: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read epoch: %w", err)
	default:
		b.epoch.Store(binary.BigEndian.Uint64(v))
		closer.Close()
	}
	if v, closer, err := b.db.Get(keyAcked); err == nil {
		b.ackedSeq = binary.BigEndian.Uint64(v)
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read acked seq: %w", err)
	}
	// Rebuild the byte accounting from what is queued, in chunks of 1024.
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'q'}, UpperBound: []byte{'r'}})
	if err != nil {
		return fmt.Errorf("scan buffer: %w", err)
	}
	defer it.Close()
	var c chunk
	for it.First(); it.Valid(); it.Next() {
		seq := binary.BigEndian.Uint64(it.Key()[1:])
		if seq <= b.ackedSeq {
			continue // deleted by a range tombstone that was lost; resent and deduped
		}
		c.last = seq
		c.count++
		c.bytes += int64(len(it.Value())) + recordOverhead
		b.lastSeq = seq
		if c.count == 1024 {
			b.chunks = append(b.chunks, c)
			b.bytes += c.bytes
			c = chunk{}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan buffer: %w", err)
	}
	if c.count > 0 {
		b.chunks = append(b.chunks, c)
		b.bytes += c.bytes
	}
	if b.lastSeq < b.ackedSeq {
		b.lastSeq = b.ackedSeq
	}
	b.nextSeq = b.lastSeq + 1
	b.durableSeq = b.lastSeq // what survived the restart is on disk
	b.epochStart = 1
	if v, closer, err := b.db.Get(keyEpochStart); err == nil {
		b.epochStart = binary.BigEndian.Uint64(v)
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read epoch start: %w", err)
	}
	return nil
}

// MaxBytes is the configured size limit.
func (b *Buffer) MaxBytes() int64 { return b.cfg.MaxBytes }

// Epoch returns the buffer's epoch.
func (b *Buffer) Epoch() uint64 { return b.epoch.Load() }

// SetEpoch moves the buffer to a newer epoch, keeping its records and its
// seq numbering. The shipper does this when the hub is ahead of the agent:
// it holds a newer epoch (the agent's clock went back when the buffer was
// created) or a higher acked seq than the buffer ever wrote (records the hub
// has were lost from an unsynced buffer). Sequence numbers stay unique
// within the new epoch because they keep increasing.
func (b *Buffer) SetEpoch(epoch uint64) error {
	if epoch <= b.epoch.Load() {
		return fmt.Errorf("set epoch %d: not newer than %d", epoch, b.epoch.Load())
	}
	// The new epoch begins at the lowest record the hub has not
	// acknowledged: everything below it is delivered, everything from it
	// on is sent in the new epoch.
	start := b.AckedSeq() + 1
	batch := b.db.NewBatch()
	defer batch.Close()
	var e, st [8]byte
	binary.BigEndian.PutUint64(e[:], epoch)
	binary.BigEndian.PutUint64(st[:], start)
	_ = batch.Set(keyEpoch, e[:], nil)
	_ = batch.Set(keyEpochStart, st[:], nil)
	if err := b.db.Apply(batch, pebble.Sync); err != nil {
		return fmt.Errorf("set epoch: %w", err)
	}
	b.mu.Lock()
	b.epochStart = start
	b.mu.Unlock()
	b.epoch.Store(epoch)
	return nil
}

func sizeOf(recs [][]byte) int64 {
	var n int64
	for _, r := range recs {
		n += int64(len(r)) + recordOverhead
	}
	return n
}

// Append durably queues recs and writes cps in the same batch, blocking while
// the buffer is full. It returns the first assigned seq. The caller may reuse
// recs' memory once Append returns.
func (b *Buffer) Append(ctx context.Context, recs [][]byte, cps ...Checkpoint) (uint64, error) {
	size := sizeOf(recs)
	if err := b.reserve(ctx, size, true); err != nil {
		return 0, err
	}
	return b.submit(recs, cps, size)
}

// TryAppend is Append for inputs that cannot wait: when the records do not fit
// it returns ErrFull at once and counts them as dropped.
func (b *Buffer) TryAppend(recs [][]byte, cps ...Checkpoint) (uint64, error) {
	size := sizeOf(recs)
	if err := b.reserve(context.Background(), size, false); err != nil {
		if errors.Is(err, ErrFull) {
			b.droppedFull.Add(uint64(len(recs)))
		}
		return 0, err
	}
	return b.submit(recs, cps, size)
}

func (b *Buffer) reserve(ctx context.Context, size int64, wait bool) error {
	if size > b.cfg.MaxBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, b.cfg.MaxBytes)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bytes+size <= b.cfg.MaxBytes || b.closed.Load() {
		if b.closed.Load() {
			return ErrClosed
		}
		b.bytes += size
		return nil
	}
	if !wait {
		return ErrFull
	}
	b.blocked.Add(1)
	// Wake the waiter when ctx ends; sync.Cond has no context support.
	stopWake := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.space.Broadcast()
		b.mu.Unlock()
	})
	defer stopWake()
	for b.bytes+size > b.cfg.MaxBytes {
		if b.closed.Load() {
			return ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("wait for buffer space: %w", err)
		}
		b.space.Wait()
	}
	b.bytes += size
	return nil
}

func (b *Buffer) unreserve(size int64) {
	b.mu.Lock()
	b.bytes -= size
	b.space.Broadcast()
	b.mu.Unlock()
}

func (b *Buffer) submit(recs [][]byte, cps []Checkpoint, size int64) (uint64, error) {
	r := &request{recs: recs, cps: cps, size: size, done: make(chan error, 1)}
	select {
	case b.reqs <- r:
	case <-b.stop:
		b.unreserve(size)
		return 0, ErrClosed
	}
	var err error
	select {
	case err = <-r.done:
	case <-b.wdone:
		// The writer may have committed r in its last group before exiting.
		select {
		case err = <-r.done:
		default:
			err = ErrClosed
		}
	}
	if err != nil {
		return 0, err
	}
	return r.first, nil
}

// writer commits queued appends in groups, one sync per group.
func (b *Buffer) writer() {
	defer b.wg.Done()
	defer close(b.wdone)
	group := make([]*request, 0, 64)
	batch := b.db.NewBatch()
	key := make([]byte, 9)
	key[0] = 'q'
	for {
		var first *request
		select {
		case first = <-b.reqs:
		case <-b.stop:
			return
		}
		group = append(group[:0], first)
		groupBytes := first.size
	drain:
		for groupBytes < int64(b.cfg.MaxGroupBytes) && len(group) < cap(group) {
			select {
			case r := <-b.reqs:
				group = append(group, r)
				groupBytes += r.size
			default:
				break drain
			}
		}
		batch.Reset()
		seq := b.nextSeq
		var n uint64
		for _, r := range group {
			r.first = seq
			for _, rec := range r.recs {
				binary.BigEndian.PutUint64(key[1:], seq)
				_ = batch.Set(key, rec, nil) // Set on an in-memory batch cannot fail
				seq++
				n++
			}
			for _, cp := range r.cps {
				_ = batch.Set(checkpointKey(cp.Name), cp.Value, nil)
			}
		}
		err := b.db.Apply(batch, b.wo)
		if err != nil {
			err = fmt.Errorf("commit %d records: %w", n, err)
			b.log.Error("buffer commit failed", "error", err)
			for _, r := range group {
				b.unreserve(r.size)
				r.done <- err
			}
			continue
		}
		b.commits.Add(1)
		b.appended.Add(n)
		b.mu.Lock()
		b.nextSeq = seq
		if n > 0 {
			b.lastSeq = seq - 1
			if b.wo.Sync {
				b.durableSeq = b.lastSeq
			}
			b.chunks = append(b.chunks, chunk{last: seq - 1, count: n, bytes: groupBytes})
		} else {
			b.bytes -= groupBytes
		}
		ch := b.notify
		b.notify = make(chan struct{})
		b.mu.Unlock()
		close(ch)
		for _, r := range group {
			r.done <- nil
		}
	}
}

func (b *Buffer) syncer() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.FsyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.mu.Lock()
			upTo := b.lastSeq
			b.mu.Unlock()
			if err := b.db.LogData(nil, pebble.Sync); err != nil {
				b.log.Error("buffer sync failed", "error", err)
				continue
			}
			b.mu.Lock()
			if upTo > b.durableSeq {
				b.durableSeq = upTo
				ch := b.notify
				b.notify = make(chan struct{})
				close(ch)
			}
			b.mu.Unlock()
		case <-b.stop:
			return
		}
	}
}

// Notify returns a channel closed at the next commit.
func (b *Buffer) Notify() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notify
}

// LastSeq returns the highest committed seq.
func (b *Buffer) LastSeq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastSeq
}

// DurableSeq returns the highest seq known to be synced to disk; Read
// returns nothing beyond it.
func (b *Buffer) DurableSeq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.durableSeq
}

// EpochStart returns the first seq of the current epoch.
func (b *Buffer) EpochStart() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.epochStart
}

// AckedSeq returns the highest acknowledged seq.
func (b *Buffer) AckedSeq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ackedSeq
}

// Read appends to dst up to maxCount committed records with seq >= from whose
// data totals at most maxBytes (at least one record is returned if any
// exists). The records' data is copied into one new slab.
func (b *Buffer) Read(from uint64, maxCount, maxBytes int, dst []Record) ([]Record, error) {
	dst, _, err := b.ReadInto(from, maxCount, maxBytes, dst, nil)
	return dst, err
}

// ReadInto is Read copying the data into slab (appended to, and returned),
// so that a reader that reuses its slab allocates nothing per batch. The
// records stay valid until the caller reuses the slab.
func (b *Buffer) ReadInto(from uint64, maxCount, maxBytes int, dst []Record, slab []byte) ([]Record, []byte, error) {
	if b.closed.Load() {
		return dst, slab, ErrClosed
	}
	last := b.DurableSeq()
	if from > last {
		return dst, slab, nil
	}
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: queueKey(from), UpperBound: queueKey(last + 1)})
	if err != nil {
		return dst, slab, fmt.Errorf("read buffer: %w", err)
	}
	defer it.Close()
	n, size := 0, 0
	for it.First(); it.Valid() && n < maxCount; it.Next() {
		v := it.Value()
		if n > 0 && size+len(v) > maxBytes {
			break
		}
		// Growing the slab leaves earlier records pointing into the old
		// array, whose bytes appending never changes.
		off := len(slab)
		slab = append(slab, v...)
		dst = append(dst, Record{Seq: binary.BigEndian.Uint64(it.Key()[1:]), Data: slab[off:len(slab):len(slab)]})
		n++
		size += len(v)
	}
	if err := it.Error(); err != nil {
		return dst, slab, fmt.Errorf("read buffer: %w", err)
	}
	return dst, slab, nil
}

// Ack records that the hub committed every seq up to and including seq, and
// frees their space. Acks at or below the current one are no-ops.
func (b *Buffer) Ack(seq uint64) error {
	b.mu.Lock()
	if seq <= b.ackedSeq {
		b.mu.Unlock()
		return nil
	}
	if seq > b.lastSeq {
		b.mu.Unlock()
		return fmt.Errorf("ack %d beyond last seq %d", seq, b.lastSeq)
	}
	b.mu.Unlock()
	batch := b.db.NewBatch()
	defer batch.Close()
	_ = batch.DeleteRange(queueKey(0), queueKey(seq+1), nil)
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], seq)
	_ = batch.Set(keyAcked, v[:], nil)
	if err := b.db.Apply(batch, pebble.NoSync); err != nil {
		return fmt.Errorf("ack %d: %w", seq, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if seq <= b.ackedSeq {
		return nil
	}
	b.ackedSeq = seq
	var freed int64
	i := 0
	for ; i < len(b.chunks); i++ {
		c := &b.chunks[i]
		if c.last <= seq {
			freed += c.bytes
			continue
		}
		// Partly acknowledged: release a proportional share now and the
		// remainder when the chunk's last seq is acknowledged.
		start := c.last - c.count + 1
		if seq >= start {
			done := seq - start + 1
			part := c.bytes * int64(done) / int64(c.count)
			freed += part
			c.bytes -= part
			c.count -= done
		}
		break
	}
	b.chunks = b.chunks[i:]
	b.bytes -= freed
	b.space.Broadcast()
	return nil
}

// Checkpoint returns the value stored for an input checkpoint.
func (b *Buffer) Checkpoint(name string) ([]byte, bool, error) {
	v, closer, err := b.db.Get(checkpointKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read checkpoint %s: %w", name, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// Stats returns the current counters.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	s := Stats{Epoch: b.epoch.Load(), LastSeq: b.lastSeq, AckedSeq: b.ackedSeq, Depth: b.lastSeq - b.ackedSeq, Bytes: b.bytes, MaxBytes: b.cfg.MaxBytes}
	b.mu.Unlock()
	s.Appended = b.appended.Load()
	s.DroppedFull = b.droppedFull.Load()
	s.Commits = b.commits.Load()
	s.Blocked = b.blocked.Load()
	return s
}

// Close stops the writer, wakes blocked appenders and closes Pebble. Appends
// already committed stay durable.
func (b *Buffer) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	close(b.stop)
	b.mu.Lock()
	b.space.Broadcast()
	b.mu.Unlock()
	b.wg.Wait()
	if err := b.db.Flush(); err != nil {
		b.log.Warn("buffer flush on close", "error", err)
	}
	return b.db.Close()
}

// quietLogger routes Pebble's informational chatter to debug level.
type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Infof(format string, args ...any) {
	q.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (q quietLogger) Errorf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (q quietLogger) Fatalf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}
