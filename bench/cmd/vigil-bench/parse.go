package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/agent/parsers"
)

// appendBatch is the number of records per buffer.Append, the syslog
// input's default batch size.
const appendBatch = 512

// parseFigures runs the parse benchmarks in a child process (this binary,
// re-executed with -child parse) whose environment sets GOMAXPROCS=1, so the
// figures are for one core, and forwards the figures it prints.
func (b *bench) parseFigures() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, "-child", "parse", "-root", b.cfg.root, "-corpus", b.cfg.corpusDir, "-tmp", b.dir,
		"-parse-lines", strconv.Itoa(b.cfg.parseLines), "-appenders", strconv.Itoa(b.cfg.appenders), "-profile", b.cfg.profile)
	cmd.Env = childEnv("GOMAXPROCS=1")
	cmd.Stderr = b.logw
	var out bytes.Buffer
	cmd.Stdout = &out
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(150 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		err = fmt.Errorf("parse child did not finish within 150s")
	}
	ferr := b.forwardFigures(&out)
	if err != nil {
		return fmt.Errorf("parse child: %w", err)
	}
	return ferr
}

type parseChildArgs struct {
	corpusDir, root, tmp string
	lines, appenders     int
	profile              string // directory for CPU profiles, or ""
}

// parseRuns is how many times each parse benchmark runs; the median is
// reported, because fsync latency on shared or virtual disks varies a lot
// from second to second.
const parseRuns = 5

// runParseChild measures, on the GOMAXPROCS it was started with (1):
//
//	agent_parse_only_lines_per_sec     corpus lines through parsers.Processor
//	                                   ("syslog") and inputs.Batch, 512 at a
//	                                   time, one goroutine, nothing stored
//	agent_parse_durable_lines_per_sec  the same plus buffer.Append of every
//	                                   512-record batch into a real buffer
//	                                   (Pebble, fsync "always": Append returns
//	                                   after the commit is synced), with
//	                                   several appenders in parallel so the
//	                                   buffer's group commit can share fsyncs,
//	                                   as concurrent input connections do
//
// Lines are the corpus cycled to the requested count, held in memory; every
// record gets time.Now() as its receive time like a real input. Each durable
// run uses a fresh buffer directory under tmp. Each figure is the median of
// parseRuns runs.
func runParseChild(a parseChildArgs, out io.Writer) error {
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "vigil-bench: parse: "+format+"\n", args...)
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		return fmt.Errorf("GOMAXPROCS is %d, want 1 (set by the parent)", n)
	}
	if a.root == "" {
		r, err := findRoot()
		if err != nil {
			return err
		}
		a.root = r
	}
	c, err := loadCorpus(a.corpusDir, a.root)
	if err != nil {
		return err
	}
	lines := max(a.lines, len(c.lines))
	a.appenders = max(a.appenders, 1)

	// One untimed pass warms up the parser and the allocator.
	if _, err := parseOnly(c, len(c.lines)); err != nil {
		return err
	}
	stop, err := startProfile(a.profile, "parse-only.pprof")
	if err != nil {
		return err
	}
	var only []float64
	for i := 0; i < parseRuns; i++ {
		el, err := parseOnly(c, lines)
		if err != nil {
			return err
		}
		only = append(only, float64(lines)/el.Seconds())
		logf("parse only, run %d: %d lines in %s (GOMAXPROCS=1)", i+1, lines, el.Round(time.Millisecond))
	}
	stop()
	fmt.Fprintf(out, "agent_parse_only_lines_per_sec %s lines/s\n", formatValue(median(only)))

	stop, err = startProfile(a.profile, "parse-durable.pprof")
	if err != nil {
		return err
	}
	var durable []float64
	for i := 0; i < parseRuns; i++ {
		el, err := parseDurable(c, lines, a.appenders, a.tmp, func(format string, args ...any) {
			logf(fmt.Sprintf("parse + durable, run %d: ", i+1)+format, args...)
		})
		if err != nil {
			return err
		}
		durable = append(durable, float64(lines)/el.Seconds())
	}
	stop()
	fmt.Fprintf(out, "agent_parse_durable_lines_per_sec %s lines/s\n", formatValue(median(durable)))
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// startProfile starts a CPU profile into dir/name when dir is set.
func startProfile(dir, name string) (stop func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func newParseBatch(ctr *inputs.Counters) (*inputs.Batch, error) {
	p, err := parsers.New("syslog")
	if err != nil {
		return nil, err
	}
	return inputs.NewBatch(parsers.NewProcessor("tcp", p, 0), ctr), nil
}

// parseOnly parses lines corpus lines in batches of appendBatch.
func parseOnly(c *corpus, lines int) (time.Duration, error) {
	var ctr inputs.Counters
	b, err := newParseBatch(&ctr)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < lines; i++ {
		b.Add(c.line(i), time.Now())
		if b.Len() == appendBatch || i == lines-1 {
			b.Committed()
		}
	}
	el := time.Since(start)
	if got := ctr.Records.Load(); got != uint64(lines) {
		return 0, fmt.Errorf("parsed %d records, want %d", got, lines)
	}
	return el, nil
}

// parseDurable parses lines corpus lines with several appenders, each
// appending its batches of appendBatch records to one new buffer.
func parseDurable(c *corpus, lines, appenders int, tmp string, logf func(string, ...any)) (time.Duration, error) {
	dir, err := os.MkdirTemp(tmp, "parse-buffer-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	buf, err := buffer.Open(buffer.Config{Dir: filepath.Join(dir, "buffer"), Fsync: buffer.FsyncAlways},
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), time.Now)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	chunks := (lines + appendBatch - 1) / appendBatch
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, appenders)
	var ctr inputs.Counters
	batches := make([]*inputs.Batch, appenders)
	for w := range batches {
		if batches[w], err = newParseBatch(&ctr); err != nil {
			buf.Close()
			return 0, err
		}
	}
	start := time.Now()
	for _, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= chunks {
					return
				}
				for i := k * appendBatch; i < min((k+1)*appendBatch, lines); i++ {
					b.Add(c.line(i), time.Now())
				}
				if _, err := buf.Append(ctx, b.Records()); err != nil {
					errs <- err
					return
				}
				b.Committed()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	st := buf.Stats()
	if err := buf.Close(); err != nil {
		return 0, err
	}
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	if st.Appended != uint64(lines) || ctr.Records.Load() != uint64(lines) {
		return 0, fmt.Errorf("appended %d records (counted %d), want %d", st.Appended, ctr.Records.Load(), lines)
	}
	logf("%d lines in %s, %d appenders, %d synced commits (%.0f records each), %d MiB queued, %d parse errors",
		lines, el.Round(time.Millisecond), appenders, st.Commits, float64(st.Appended)/float64(max(st.Commits, 1)), st.Bytes>>20, ctr.ParseErrors.Load())
	return el, nil
}
