package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/agent/parsers"
)

// Where a file seen for the first time is read from.
const (
	StartBeginning = "beginning"
	StartEnd       = "end"
)

// Config configures one file input. Zero fields take the documented defaults.
type Config struct {
	ID string
	// Paths are globs (filepath.Match syntax), evaluated again every
	// ScanInterval. At least one is required.
	Paths []string
	// Exclude are globs; a match against the full path or the base name
	// excludes a file.
	Exclude []string
	// Parser is the catalog name; default "syslog".
	Parser string
	// Plugin, when set, parses instead of Parser (a parser plugin).
	Plugin parsers.BatchParser
	// MaxLine is the record size limit; default parsers.DefaultMaxLine.
	MaxLine int
	// StartAt is "beginning" (default) or "end": where a file found by the
	// first scan and without a checkpoint is read from.
	StartAt string
	// PollInterval is how often open files are checked for growth; default 250ms.
	PollInterval time.Duration
	// ScanInterval is how often Paths are globbed again; default 1s.
	ScanInterval time.Duration
	// CloseRotatedAfter is how long a file renamed away or deleted is kept
	// open at its end without growth before it is closed; default 5s.
	CloseRotatedAfter time.Duration
	// BatchSize bounds records per buffer append; default 512.
	BatchSize int
	// MaxOpenFiles bounds open descriptors; default 256.
	MaxOpenFiles int
}

func (c *Config) setDefaults() {
	if c.Parser == "" {
		c.Parser = "syslog"
	}
	if c.MaxLine <= 0 {
		c.MaxLine = parsers.DefaultMaxLine
	}
	if c.StartAt == "" {
		c.StartAt = StartBeginning
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.ScanInterval <= 0 {
		c.ScanInterval = time.Second
	}
	if c.CloseRotatedAfter <= 0 {
		c.CloseRotatedAfter = 5 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 512
	}
	if c.MaxOpenFiles <= 0 {
		c.MaxOpenFiles = 256
	}
}

func (c *Config) validate() error {
	if c.ID == "" {
		return errors.New("file input: id is required")
	}
	if len(c.Paths) == 0 {
		return fmt.Errorf("input %s: at least one path is required", c.ID)
	}
	for _, p := range c.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("input %s: path %q: %w", c.ID, p, err)
		}
	}
	for _, p := range c.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("input %s: exclude %q: %w", c.ID, p, err)
		}
	}
	if _, err := parsers.NewProcessorFor(c.ID, c.Parser, c.Plugin, 0); err != nil {
		return fmt.Errorf("input %s: %w", c.ID, err)
	}
	if c.StartAt != StartBeginning && c.StartAt != StartEnd {
		return fmt.Errorf("input %s: start_at must be %q or %q, not %q", c.ID, StartBeginning, StartEnd, c.StartAt)
	}
	return nil
}

// FileCounters are the totals of the file input beside inputs.Counters.
type FileCounters struct {
	FilesOpen     atomic.Int64  // open descriptors
	FilesTracked  atomic.Int64  // files known, open or not
	CopyTruncates atomic.Uint64 // files found shorter than read (copytruncate) and read again from 0
	InodeReuses   atomic.Uint64 // checkpoints ignored because the file's first bytes changed
	Rotations     atomic.Uint64 // files renamed away or deleted, drained and closed
	OpenDeferred  atomic.Uint64 // opens postponed by MaxOpenFiles
	OpenErrors    atomic.Uint64
	ReadErrors    atomic.Uint64
}

// Input is a file-tail input.
type Input struct {
	cfg     Config
	log     *slog.Logger
	sink    inputs.Sink
	ctr     inputs.Counters
	fctr    FileCounters
	running atomic.Bool
}

var _ inputs.Input = (*Input)(nil)

// New validates cfg. Files are opened by Run.
func New(cfg Config, sink inputs.Sink, log *slog.Logger) (*Input, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, fmt.Errorf("input %s: no sink", cfg.ID)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Input{cfg: cfg, log: log.With("input", cfg.ID), sink: sink}, nil
}

// ID implements inputs.Input.
func (in *Input) ID() string { return in.cfg.ID }

// Counters implements inputs.Input.
func (in *Input) Counters() *inputs.Counters { return &in.ctr }

// FileCounters returns the file-specific counters.
func (in *Input) FileCounters() *FileCounters { return &in.fctr }

// Snapshot returns all counters as a map for status output.
func (in *Input) Snapshot() map[string]uint64 {
	m := in.ctr.Snapshot()
	m["files_open"] = uint64(max(in.fctr.FilesOpen.Load(), 0))
	m["files_tracked"] = uint64(max(in.fctr.FilesTracked.Load(), 0))
	m["copytruncates_total"] = in.fctr.CopyTruncates.Load()
	m["inode_reuses_total"] = in.fctr.InodeReuses.Load()
	m["rotations_total"] = in.fctr.Rotations.Load()
	m["open_deferred_total"] = in.fctr.OpenDeferred.Load()
	m["open_errors_total"] = in.fctr.OpenErrors.Load()
	m["read_errors_total"] = in.fctr.ReadErrors.Load()
	return m
}

// Run implements inputs.Input: it tails the files until ctx ends and returns
// nil on a clean stop. It may be called again after it returned.
func (in *Input) Run(ctx context.Context) error {
	if !in.running.CompareAndSwap(false, true) {
		return fmt.Errorf("input %s: already running", in.cfg.ID)
	}
	defer in.running.Store(false)
	r := newRunner(in)
	defer r.closeAll()
	fail := func(err error) error {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("input %s: %w", in.cfg.ID, err)
	}
	if err := r.scan(ctx, true); err != nil {
		return fail(err)
	}
	lastScan := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		busy, err := r.pass(ctx)
		if err != nil {
			return fail(err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if since := time.Since(lastScan); since >= in.cfg.ScanInterval {
			if err := r.scan(ctx, false); err != nil {
				return fail(err)
			}
			lastScan = time.Now()
		}
		if busy {
			continue
		}
		wait := min(in.cfg.PollInterval, in.cfg.ScanInterval-time.Since(lastScan))
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
}
