package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/agent/parsers"
)

const (
	readBufSize = 64 << 10
	// maxBatchBytes flushes a batch early when its events grow large.
	maxBatchBytes = 1 << 20
	// batchesPerPass bounds how much one file is read before the others get
	// their turn.
	batchesPerPass = 8
	// maxPooledReaders bounds the read buffers kept for reuse.
	maxPooledReaders = 16
)

// fileKey is a file's identity.
type fileKey struct{ dev, ino uint64 }

// tailer is the read state of one file identity.
type tailer struct {
	key    fileKey
	path   string
	cpName string

	f *os.File
	r *bufio.Reader

	pos       int64 // offset of the next byte ReadSlice returns
	done      int64 // end of the last complete line handled (batched or appended)
	committed int64 // offset in the last appended checkpoint
	needCP    bool  // write a checkpoint even without progress (after a truncation)
	size      int64 // size at the last fstat
	fpLen     int
	fpHash    uint64

	acc  []byte // the unfinished line, at most MaxLine+3 bytes
	long bool   // the current line went over the limit; the rest is skipped

	resolved   bool // the start offset is decided
	initial    bool // found by the first scan of Run
	gone       bool // no longer found under a matching path
	goneAt     time.Time
	grewAt     time.Time // last change of size
	lastActive time.Time // last line read
	scanGen    uint64
	scanSize   int64 // size by path at the last scan
	parkedSize int64 // size when the descriptor was closed for the open limit
	openFailed bool  // an open error was logged
}

// runner is the state of one Run. It is used by one goroutine.
type runner struct {
	in      *Input
	cfg     *Config
	batch   *inputs.Batch
	files   map[fileKey]*tailer
	nopen   int
	gen     uint64
	pool    []*bufio.Reader
	cpBuf   []byte
	preBuf  []byte
	limited bool // the open limit was logged
}

func newRunner(in *Input) *runner {
	p, _ := parsers.NewProcessorFor(in.cfg.ID, in.cfg.Parser, in.cfg.Plugin, in.cfg.MaxLine) // validated in New
	return &runner{
		in:     in,
		cfg:    &in.cfg,
		batch:  inputs.NewBatch(p, &in.ctr),
		files:  map[fileKey]*tailer{},
		preBuf: make([]byte, fingerprintMax),
	}
}

type found struct {
	key  fileKey
	path string
	size int64
}

// glob lists the regular files matching the configured paths, one per
// identity, in pattern then name order.
func (r *runner) glob() []found {
	var out []found
	paths := map[string]bool{}
	keys := map[fileKey]bool{}
	for _, pat := range r.cfg.Paths {
		matches, _ := filepath.Glob(pat) // the only error is a bad pattern, checked in New
		for _, p := range matches {
			if paths[p] || r.excluded(p) {
				continue
			}
			paths[p] = true
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue // vanished, dangling link, directory, fifo
			}
			key, err := identityOf(fi)
			if err != nil || keys[key] {
				continue
			}
			keys[key] = true
			out = append(out, found{key: key, path: p, size: fi.Size()})
		}
	}
	return out
}

func (r *runner) excluded(p string) bool {
	base := filepath.Base(p)
	for _, ex := range r.cfg.Exclude {
		if ok, _ := filepath.Match(ex, p); ok {
			return true
		}
		if ok, _ := filepath.Match(ex, base); ok {
			return true
		}
	}
	return false
}

// scan globs the paths: new identities are tracked and opened, renamed ones
// follow their new path, and open ones no longer found start draining. Its
// error is the sink's.
func (r *runner) scan(ctx context.Context, first bool) error {
	r.gen++
	now := time.Now()
	var want []*tailer
	for _, fd := range r.glob() {
		t := r.files[fd.key]
		if t == nil {
			t = &tailer{
				key:        fd.key,
				path:       fd.path,
				cpName:     "file:" + r.cfg.ID + ":" + strconv.FormatUint(fd.key.dev, 10) + ":" + strconv.FormatUint(fd.key.ino, 10),
				initial:    first,
				parkedSize: -1,
			}
			r.files[fd.key] = t
		} else {
			if t.path != fd.path {
				r.in.log.Info("file renamed; following it", "old_path", t.path, "path", fd.path)
				t.path = fd.path
			}
			if t.gone {
				r.in.log.Info("file found again", "path", t.path)
				t.gone = false
			}
		}
		t.scanGen = r.gen
		t.scanSize = fd.size
		if t.f == nil && (!t.resolved || t.scanSize != t.parkedSize) {
			want = append(want, t)
		}
	}
	for key, t := range r.files {
		if t.scanGen == r.gen {
			continue
		}
		if t.f == nil {
			delete(r.files, key) // nothing open to drain
			continue
		}
		if !t.gone {
			t.gone, t.goneAt = true, now
			r.in.log.Info("file renamed away or deleted; reading it to its end", "path", t.path, "offset", t.pos)
		}
	}
	for _, t := range want {
		if err := r.open(ctx, t); err != nil {
			return err
		}
	}
	r.in.fctr.FilesTracked.Store(int64(len(r.files)))
	return nil
}

// open opens t's file if a descriptor is free and positions it. File errors
// are logged and retried at the next scan; the returned error is the sink's.
func (r *runner) open(ctx context.Context, t *tailer) error {
	if r.nopen >= r.cfg.MaxOpenFiles && !r.evict() {
		r.in.fctr.OpenDeferred.Add(1)
		if !r.limited {
			r.limited = true
			r.in.log.Warn("open file limit reached; new files wait for a free slot", "limit", r.cfg.MaxOpenFiles, "path", t.path)
		}
		return nil
	}
	f, err := os.Open(t.path)
	if err != nil {
		r.in.fctr.OpenErrors.Add(1)
		if !t.openFailed {
			t.openFailed = true
			r.in.log.Warn("cannot open file; retrying at each scan", "path", t.path, "error", err)
		}
		return nil
	}
	fi, err := f.Stat()
	var key fileKey
	if err == nil {
		key, err = identityOf(fi)
	}
	if err != nil || key != t.key {
		f.Close() // replaced since the scan; the next scan sorts it out
		return nil
	}
	t.openFailed = false
	size := fi.Size()
	pre, err := readPrefix(f, r.preBuf)
	if err != nil {
		f.Close()
		r.in.fctr.ReadErrors.Add(1)
		r.in.log.Warn("cannot read file", "path", t.path, "error", err)
		return nil
	}
	t.f = f
	t.size = size
	r.nopen++
	r.in.fctr.FilesOpen.Add(1)
	if !t.resolved {
		off, cpNow, err := r.startOffset(t, size, pre)
		if err != nil {
			r.park(t)
			return err
		}
		t.committed, t.needCP = off, cpNow
	} else if size < t.committed || len(pre) < t.fpLen || fingerprint(pre[:t.fpLen]) != t.fpHash {
		r.truncatedMsg(t, t.committed, size)
		t.committed, t.needCP = 0, true
	}
	t.resolved = true
	t.fpLen, t.fpHash = len(pre), fingerprint(pre)
	if _, err := f.Seek(t.committed, io.SeekStart); err != nil {
		r.park(t)
		r.in.fctr.ReadErrors.Add(1)
		r.in.log.Warn("cannot seek file", "path", t.path, "offset", t.committed, "error", err)
		return nil
	}
	t.r = r.reader(f)
	t.pos, t.done = t.committed, t.committed
	now := time.Now()
	t.grewAt, t.lastActive = now, now
	r.in.log.Debug("file opened", "path", t.path, "dev", t.key.dev, "inode", t.key.ino, "offset", t.committed, "size", size)
	if t.needCP {
		// StartAt "end" or a truncation: record the position now, so that a
		// restart does not take the lines written meanwhile as already read.
		return r.flush(ctx, t)
	}
	return nil
}

// startOffset decides where a file seen for the first time in this Run is
// read from: its checkpoint if that still fits the file, else StartAt for
// files of the first scan, else 0. cpNow says the position must be
// checkpointed at once.
func (r *runner) startOffset(t *tailer, size int64, pre []byte) (off int64, cpNow bool, err error) {
	v, ok, err := r.in.sink.Checkpoint(t.cpName)
	if err != nil {
		return 0, false, fmt.Errorf("read checkpoint %s: %w", t.cpName, err)
	}
	if ok {
		cp, err := decodeCheckpoint(v)
		switch {
		case err != nil:
			r.in.log.Warn("ignoring unreadable checkpoint", "path", t.path, "checkpoint", t.cpName, "error", err)
		case size < cp.Offset:
			r.truncatedMsg(t, cp.Offset, size)
			return 0, true, nil
		case len(pre) < cp.FPLen || fingerprint(pre[:cp.FPLen]) != cp.FPHash:
			r.in.fctr.InodeReuses.Add(1)
			r.in.log.Info("file content differs from its checkpoint (inode reused or file rewritten); reading it from the start",
				"path", t.path, "checkpoint_path", cp.Path, "checkpoint_offset", cp.Offset)
			return 0, true, nil
		default:
			return cp.Offset, false, nil
		}
	}
	if t.initial && r.cfg.StartAt == StartEnd {
		off, err := lastLineEnd(t.f, size)
		if err != nil {
			return 0, false, fmt.Errorf("find end of %s: %w", t.path, err)
		}
		return off, true, nil
	}
	return 0, false, nil
}

// lastLineEnd is the offset after the last '\n' within the final 64 KiB of
// the file: 0 if the whole file is one unfinished line, size if the window
// holds no newline.
func lastLineEnd(f *os.File, size int64) (int64, error) {
	start := max(size-readBufSize, 0)
	buf := make([]byte, size-start)
	if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		return start + int64(i) + 1, nil
	}
	if start == 0 {
		return 0, nil
	}
	return size, nil
}

func (r *runner) truncatedMsg(t *tailer, offset, size int64) {
	r.in.fctr.CopyTruncates.Add(1)
	r.in.log.Warn("file truncated (copytruncate?); reading it again from the start", "path", t.path, "offset", offset, "size", size)
}

func (r *runner) reader(f *os.File) *bufio.Reader {
	if n := len(r.pool); n > 0 {
		br := r.pool[n-1]
		r.pool = r.pool[:n-1]
		br.Reset(f)
		return br
	}
	return bufio.NewReaderSize(f, readBufSize)
}

// park closes t's descriptor, keeping its position so that it can be opened
// again; what was read past the last complete line is read again then.
func (r *runner) park(t *tailer) {
	if t.f == nil {
		return
	}
	t.f.Close()
	t.f = nil
	if t.r != nil {
		t.r.Reset(nil)
		if len(r.pool) < maxPooledReaders {
			r.pool = append(r.pool, t.r)
		}
		t.r = nil
	}
	r.nopen--
	r.in.fctr.FilesOpen.Add(-1)
	t.pos, t.done = t.committed, t.committed
	t.acc, t.long = nil, false
	t.parkedSize = t.size
}

// evict parks the least recently active idle file to free a descriptor.
// Rotated files are never evicted before they are drained.
func (r *runner) evict() bool {
	var victim *tailer
	for _, t := range r.files {
		if t.f == nil || t.gone || t.pos < t.size || t.r.Buffered() > 0 || t.done != t.committed || t.needCP {
			continue
		}
		if victim == nil || t.lastActive.Before(victim.lastActive) {
			victim = t
		}
	}
	if victim == nil {
		return false
	}
	r.in.log.Debug("closing idle file for the open file limit", "path", victim.path, "limit", r.cfg.MaxOpenFiles)
	r.park(victim)
	return true
}

func (r *runner) closeAll() {
	for _, t := range r.files {
		r.park(t)
	}
	r.in.fctr.FilesTracked.Store(0)
}

// pass reads every open file once. busy says some file has more to read.
func (r *runner) pass(ctx context.Context) (busy bool, err error) {
	for key, t := range r.files {
		if ctx.Err() != nil {
			return false, nil
		}
		if t.f == nil {
			continue
		}
		more, err := r.read(ctx, t)
		if err != nil {
			return false, err
		}
		busy = busy || more
		if t.f == nil && t.gone {
			delete(r.files, key) // read error on a rotated file
			continue
		}
		if t.gone && !more && r.drained(t) {
			if err := r.closeRotated(ctx, t); err != nil {
				return false, err
			}
			delete(r.files, key)
		}
	}
	r.in.fctr.FilesTracked.Store(int64(len(r.files)))
	return busy, nil
}

func (r *runner) drained(t *tailer) bool {
	if t.pos < t.size || t.r.Buffered() > 0 {
		return false
	}
	last := t.grewAt
	if t.goneAt.After(last) {
		last = t.goneAt
	}
	return time.Since(last) >= r.cfg.CloseRotatedAfter
}

// closeRotated emits the unfinished last line of a drained rotated file and
// closes it.
func (r *runner) closeRotated(ctx context.Context, t *tailer) error {
	if len(t.acc) > 0 || t.long {
		r.addLine(t, t.acc, t.long, time.Now())
		t.acc, t.long = nil, false
		if err := r.flush(ctx, t); err != nil {
			return err
		}
	}
	r.in.fctr.Rotations.Add(1)
	r.in.log.Info("rotated file read to its end; closed", "path", t.path, "offset", t.committed)
	r.park(t)
	return nil
}

// read reads t's new complete lines and appends them with their checkpoint.
// more says it stopped at its per-pass budget.
func (r *runner) read(ctx context.Context, t *tailer) (more bool, err error) {
	fi, err := t.f.Stat()
	if err != nil {
		r.readFailed(t, err)
		return false, nil
	}
	now := time.Now()
	size := fi.Size()
	if size != t.size || size < t.pos {
		if size < t.pos || !r.samePrefix(t) {
			r.truncatedMsg(t, t.pos, size)
			if err := r.restart(t); err != nil {
				r.readFailed(t, err)
				return false, nil
			}
		}
		t.size, t.grewAt = size, now
	}
	if t.pos >= size && t.r.Buffered() == 0 {
		return false, r.flush(ctx, t)
	}
	keep := r.cfg.MaxLine + 3 // room for "\r\n" after MaxLine+1 bytes
	budget := batchesPerPass * r.cfg.BatchSize
	for lines := 0; ; {
		if lines >= budget {
			more = true
			break
		}
		frag, rerr := t.r.ReadSlice('\n')
		t.pos += int64(len(frag))
		if rerr == nil && len(t.acc) == 0 && !t.long && len(frag) <= keep {
			r.addLine(t, frag, false, now) // the common case: no copy
		} else {
			if room := keep - len(t.acc); len(frag) <= room {
				t.acc = append(t.acc, frag...)
			} else {
				t.acc = append(t.acc, frag[:room]...)
				t.long = true
			}
			if rerr != nil {
				if errors.Is(rerr, bufio.ErrBufferFull) {
					continue
				}
				if errors.Is(rerr, io.EOF) {
					break
				}
				if err := r.flush(ctx, t); err != nil {
					return false, err
				}
				r.readFailed(t, rerr)
				return false, nil
			}
			r.addLine(t, t.acc, t.long, now)
			t.long = false
			if cap(t.acc) > readBufSize {
				t.acc = nil
			} else {
				t.acc = t.acc[:0]
			}
		}
		lines++
		t.lastActive = now
		if r.batch.Full(r.cfg.BatchSize, min(maxBatchBytes, inputs.BatchByteLimit(r.in.sink))) {
			if err := r.flush(ctx, t); err != nil {
				return false, err
			}
		}
	}
	return more, r.flush(ctx, t)
}

// addLine batches one line read up to t.pos. long says raw is the kept
// prefix of an over-long line (its end was dropped).
func (r *runner) addLine(t *tailer, raw []byte, long bool, now time.Time) {
	t.done = t.pos
	if !long {
		raw = bytes.TrimSuffix(raw, []byte{'\n'})
		raw = bytes.TrimRight(raw, "\r")
	}
	if len(raw) > r.cfg.MaxLine+1 {
		raw = raw[:r.cfg.MaxLine+1] // the Processor cuts at MaxLine and tags "truncated"
	}
	if len(raw) == 0 {
		return // empty lines are not events; the checkpoint covers them
	}
	r.batch.Add(raw, now)
}

// samePrefix checks that the file still starts with the bytes fingerprinted
// so far, and extends the fingerprint to up to fingerprintMax bytes.
func (r *runner) samePrefix(t *tailer) bool {
	pre, err := readPrefix(t.f, r.preBuf)
	if err != nil {
		return true // cannot tell; a real read error shows up on the next read
	}
	if len(pre) < t.fpLen || fingerprint(pre[:t.fpLen]) != t.fpHash {
		return false
	}
	t.fpLen, t.fpHash = len(pre), fingerprint(pre)
	return true
}

// restart reads t again from offset 0 (after a truncation).
func (r *runner) restart(t *tailer) error {
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	t.r.Reset(t.f)
	t.pos, t.done, t.committed, t.needCP = 0, 0, 0, true
	t.acc, t.long = nil, false
	pre, err := readPrefix(t.f, r.preBuf)
	if err != nil {
		return err
	}
	t.fpLen, t.fpHash = len(pre), fingerprint(pre)
	return nil
}

func (r *runner) readFailed(t *tailer, err error) {
	r.in.fctr.ReadErrors.Add(1)
	r.in.log.Warn("cannot read file; closing it until the next scan", "path", t.path, "offset", t.committed, "error", err)
	r.park(t)
}

// flush appends the batched lines of t with t's checkpoint in one append.
func (r *runner) flush(ctx context.Context, t *tailer) error {
	if r.batch.Len() == 0 && t.done == t.committed && !t.needCP {
		return nil
	}
	cp := checkpoint{Offset: t.done, Size: max(t.size, t.done), FPLen: t.fpLen, FPHash: t.fpHash, Path: t.path}
	r.cpBuf = cp.encode(r.cpBuf[:0])
	if _, err := r.in.sink.Append(ctx, r.batch.Records(), buffer.Checkpoint{Name: t.cpName, Value: r.cpBuf}); err != nil {
		r.batch.Reset()
		return fmt.Errorf("append %s: %w", t.path, err)
	}
	r.batch.Committed()
	t.committed, t.needCP = t.done, false
	return nil
}
