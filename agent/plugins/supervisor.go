// Package plugins supervises the agent's out-of-process parser plugins: it
// keeps each one running (restarting it with backoff), bounds every call
// with a deadline, finds the record that crashes or hangs a plugin by
// retrying a failed batch one record at a time, and sets a record that fails
// MaxAttempts times aside as a dead letter in the agent's buffer. It never
// drops a record: every record comes back parsed, kept as a raw event with a
// parse error, or dead-lettered; and a broken plugin only slows the inputs
// that use it.
package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/plugins/sdk"
	"github.com/vigil-sec/vigil/plugins/sdk/host"
)

// Config is one plugin from agent.yaml.
type Config struct {
	Name   string // what inputs name in parser:
	Path   string
	SHA256 string
	// Timeout bounds one call (a batch, or one record when retrying); a
	// plugin that misses it is killed. Default 5s.
	Timeout time.Duration
	// MaxAttempts is how often one record may crash or hang the plugin
	// before it becomes a dead letter. Default 3.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the wait before a restart; it doubles
	// after each failure and resets after a call succeeds. Defaults 100ms
	// and 10s.
	BackoffMin, BackoffMax time.Duration
}

// DeadLetters is where records that failed every attempt go; the agent's
// buffer implements it.
type DeadLetters interface {
	PutDeadLetter(dl buffer.DeadLetter) (uint64, error)
}

// Counters are a plugin's running totals.
type Counters struct {
	Starts      atomic.Uint64 // processes started
	Restarts    atomic.Uint64 // starts after a crash, hang or failed start
	Crashes     atomic.Uint64 // calls that ended with the plugin gone or broken
	Timeouts    atomic.Uint64 // calls that missed the deadline (plugin killed)
	StartErrors atomic.Uint64
	DeadLetters atomic.Uint64
	Records     atomic.Uint64 // records parsed by the plugin
	Unavailable atomic.Uint64 // records kept raw because the plugin would not start
}

// Snapshot returns the counters for status and metrics.
func (c *Counters) Snapshot() map[string]uint64 {
	return map[string]uint64{
		"starts_total":       c.Starts.Load(),
		"restarts_total":     c.Restarts.Load(),
		"crashes_total":      c.Crashes.Load(),
		"timeouts_total":     c.Timeouts.Load(),
		"start_errors_total": c.StartErrors.Load(),
		"dead_letters_total": c.DeadLetters.Load(),
		"records_total":      c.Records.Load(),
		"unavailable_total":  c.Unavailable.Load(),
	}
}

// Supervisor runs one plugin. Its methods are safe for concurrent use; calls
// into the plugin are serialised.
type Supervisor struct {
	cfg Config
	log *slog.Logger
	dl  DeadLetters
	ctr Counters

	mu      sync.Mutex
	proc    *host.Process
	id      string // the plugin's component id, once known
	backoff time.Duration
	failed  bool // the last call or start failed: wait before the next start
	closed  bool
	stderr  io.Writer
}

// New returns a supervisor; the plugin starts on first use.
func New(cfg Config, dl DeadLetters, stderr io.Writer, log *slog.Logger) *Supervisor {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(10*time.Second, cfg.BackoffMin)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Supervisor{cfg: cfg, dl: dl, log: log.With("plugin", cfg.Name), stderr: stderr, backoff: cfg.BackoffMin}
}

// Counters exposes the totals.
func (s *Supervisor) Counters() *Counters { return &s.ctr }

// Name is the plugin's name in agent.yaml.
func (s *Supervisor) Name() string { return s.cfg.Name }

// Start starts the plugin now, so that a bad path or checksum shows at
// agent start rather than at the first record.
func (s *Supervisor) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ensure()
}

// Pid is the running plugin's process id, 0 when none runs.
func (s *Supervisor) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.Exited() {
		return 0
	}
	return s.proc.Pid()
}

// ID is the plugin's component id ("parser.acme_fw"), or "plugin.NAME"
// before it first started.
func (s *Supervisor) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id != "" {
		return s.id
	}
	return "plugin." + s.cfg.Name
}

// ensure starts the plugin if none runs, waiting out the backoff after a
// failure. s.mu is held.
func (s *Supervisor) ensure() error {
	if s.closed {
		return errors.New("plugin supervisor closed")
	}
	if s.proc != nil && !s.proc.Exited() {
		return nil
	}
	if s.proc != nil {
		s.proc.Kill()
		s.proc = nil
	}
	if s.failed {
		time.Sleep(s.backoff)
		s.backoff = min(2*s.backoff, s.cfg.BackoffMax)
		s.ctr.Restarts.Add(1)
	}
	p, err := host.Start(host.Config{Path: s.cfg.Path, SHA256: s.cfg.SHA256, Stderr: s.stderr, Log: s.log})
	if err != nil {
		s.failed = true
		s.ctr.StartErrors.Add(1)
		return err
	}
	s.ctr.Starts.Add(1)
	s.proc, s.id = p, p.Info.ID
	s.log.Info("parser plugin started", "id", p.Info.ID, "api_version", p.Info.APIVersion, "pid", p.Pid())
	return nil
}

// call runs one ParseBatch with the deadline; on failure the plugin is
// killed so the next call starts a fresh one. s.mu is held.
func (s *Supervisor) call(raws [][]byte, evs []sdk.Event, errs []error) error {
	if err := s.ensure(); err != nil {
		return &startError{err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	err := s.proc.Parser.ParseBatch(ctx, raws, evs, errs)
	timedOut := ctx.Err() != nil
	cancel()
	if err == nil {
		s.failed = false
		s.backoff = s.cfg.BackoffMin
		return nil
	}
	if timedOut {
		s.ctr.Timeouts.Add(1)
		err = fmt.Errorf("plugin %s missed its %s deadline: %w", s.cfg.Name, s.cfg.Timeout, err)
	} else {
		s.ctr.Crashes.Add(1)
		err = fmt.Errorf("plugin %s failed: %w", s.cfg.Name, err)
	}
	s.log.Warn("parser plugin failed; restarting it", "error", err, "records", len(raws))
	s.proc.Kill()
	s.proc = nil
	s.failed = true
	return err
}

type startError struct{ err error }

func (e *startError) Error() string { return "plugin would not start: " + e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// ParseBatch parses raws for input (received[i] is when each was read),
// filling evs, errs and kept, which must all have len(raws) entries.
// kept[i] is false for a record set aside as a dead letter (it has no
// event); otherwise evs[i] and errs[i] hold the result, and when the plugin
// would not start, errs[i] says so and evs[i] holds only the original.
func (s *Supervisor) ParseBatch(input string, raws [][]byte, received []time.Time, evs []sdk.Event, errs []error, kept []bool) {
	s.ParseBatchTo(s.dl, input, raws, received, evs, errs, kept)
}

// ParseBatchTo is ParseBatch with dead letters going to dl (a replay passes
// one that keeps them from being stored twice).
func (s *Supervisor) ParseBatchTo(dlSink DeadLetters, input string, raws [][]byte, received []time.Time, evs []sdk.Event, errs []error, kept []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.call(raws, evs, errs)
	if err == nil {
		s.ctr.Records.Add(uint64(len(raws)))
		for i := range kept {
			kept[i] = true
		}
		return
	}
	// Which record did it? Each alone, up to MaxAttempts failures. Once the
	// plugin will not even start, the rest are kept raw at once.
	var down error
	var se *startError
	if errors.As(err, &se) {
		down = err
	}
	for i, raw := range raws {
		last := down
		attempts := 0
		kept[i] = true
		for down == nil && attempts < s.cfg.MaxAttempts {
			last = s.call(raws[i:i+1], evs[i:i+1], errs[i:i+1])
			if last == nil {
				break
			}
			if errors.As(last, &se) {
				down = last
				break
			}
			attempts++
		}
		switch {
		case last == nil:
			s.ctr.Records.Add(1)
		case errors.As(last, &se):
			// Not this record's fault: keep it as a raw event that says why.
			s.ctr.Unavailable.Add(1)
			evs[i].Reset()
			evs[i].Original = string(raw)
			errs[i] = last
		default:
			kept[i] = false
			dl := buffer.DeadLetter{Time: time.Now().UTC(), Input: input, Parser: s.cfg.Name, Error: last.Error(),
				Attempts: attempts, Record: append([]byte(nil), raw...), Received: received[i]}
			id, err := dlSink.PutDeadLetter(dl)
			if err != nil {
				// The dead-letter store failed: keep the record as a raw
				// event rather than lose it.
				s.log.Error("storing dead letter failed; keeping the record as a raw event", "error", err)
				evs[i].Reset()
				evs[i].Original = string(raw)
				errs[i] = fmt.Errorf("%v (dead letter not stored: %v)", last, err)
				kept[i] = true
				continue
			}
			s.ctr.DeadLetters.Add(1)
			s.log.Warn("record set aside as a dead letter", "input", input, "dead_letter_id", id, "attempts", attempts, "error", last)
		}
	}
}

// Close kills the plugin.
func (s *Supervisor) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.proc != nil {
		s.proc.Kill()
		s.proc = nil
	}
}
