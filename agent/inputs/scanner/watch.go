package scanner

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners"
)

// Config configures a scanner input: a directory scanners drop reports in.
type Config struct {
	ID string
	// Dir is watched for new files (not its subdirectories).
	Dir string
	// Parser is a report format id ("scanner.nessus"); empty detects each
	// file's format from its content.
	Parser string
	// DoneDir and FailedDir receive the files afterwards; defaults
	// DIR/done and DIR/failed. A report that broke part way goes to
	// FailedDir too, its findings up to the error imported.
	DoneDir, FailedDir string
	// PollInterval is how often Dir is listed; default 2s. A file is taken
	// once its size and time stayed the same for one interval, so a report
	// still being written is not read half-way.
	PollInterval time.Duration
}

// Input is the scanner input.
type Input struct {
	cfg Config
	im  *Importer
	ctr Counters
	log *slog.Logger
}

var _ inputs.Input = (*Input)(nil)

// New validates cfg and creates the done and failed directories.
func New(cfg Config, sink inputs.Sink, log *slog.Logger) (*Input, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("input %s: dir is required", cfg.ID)
	}
	if cfg.Parser != "" {
		if _, ok := scanners.ByID(cfg.Parser); !ok {
			return nil, fmt.Errorf("input %s: unknown report format %q", cfg.ID, cfg.Parser)
		}
	}
	if cfg.DoneDir == "" {
		cfg.DoneDir = filepath.Join(cfg.Dir, "done")
	}
	if cfg.FailedDir == "" {
		cfg.FailedDir = filepath.Join(cfg.Dir, "failed")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	for _, d := range []string{cfg.Dir, cfg.DoneDir, cfg.FailedDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("input %s: %w", cfg.ID, err)
		}
	}
	in := &Input{cfg: cfg, log: log.With("input", cfg.ID)}
	in.im = NewImporter(cfg.ID, sink, &in.ctr, in.log)
	return in, nil
}

// ID implements inputs.Input.
func (in *Input) ID() string { return in.cfg.ID }

// Counters implements inputs.Input.
func (in *Input) Counters() *inputs.Counters { return &in.ctr.Counters }

// Snapshot returns every counter, the import totals included.
func (in *Input) Snapshot() map[string]uint64 { return in.ctr.Snapshot() }

type seen struct {
	size int64
	mod  time.Time
}

// Run implements inputs.Input.
func (in *Input) Run(ctx context.Context) error {
	last := map[string]seen{}
	t := time.NewTicker(in.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := in.scan(ctx, last); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			in.log.Error("scanner input", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// scan imports every file that did not change since the last listing.
func (in *Input) scan(ctx context.Context, last map[string]seen) error {
	entries, err := os.ReadDir(in.cfg.Dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	now := map[string]seen{}
	for _, name := range names {
		path := filepath.Join(in.cfg.Dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		cur := seen{fi.Size(), fi.ModTime()}
		now[name] = cur
		if prev, ok := last[name]; !ok || prev != cur {
			continue // new or still changing: look again next time
		}
		res, err := in.im.Import(ctx, path, in.cfg.Parser, nil)
		if err != nil {
			return err // buffer closed or ctx done: leave the file for later
		}
		dest := in.cfg.DoneDir
		if res.Error != "" {
			dest = in.cfg.FailedDir
		}
		if err := moveAside(path, dest); err != nil {
			in.log.Error("moving an imported report", "file", path, "error", err)
			continue
		}
		delete(now, name)
	}
	clear(last)
	for k, v := range now {
		last[k] = v
	}
	return nil
}

// moveAside renames path into dir, adding a time suffix when a file of that
// name is already there.
func moveAside(path, dir string) error {
	dest := filepath.Join(dir, filepath.Base(path))
	if _, err := os.Lstat(dest); err == nil {
		dest = fmt.Sprintf("%s.%s", dest, time.Now().UTC().Format("20060102T150405.000000000"))
	}
	return os.Rename(path, dest)
}
