// Package syslog is the agent's syslog input: RFC 5426 UDP (one record per
// datagram), and TCP or TLS streams with newline framing or RFC 6587 octet
// counting.
//
// Framing "auto" (the default) takes a frame as octet-counted when it starts
// with "LEN <" (digits, a space, the "<" of a PRI), and as a line otherwise,
// so a line that merely starts with a digit is not mistaken for a length.
// After one octet-counted frame the connection is taken to use octet
// counting, and later frames whose message has no PRI are read that way too.
// A sender whose very first octet-counted frame has no PRI needs framing
// "octet".
//
// Acknowledgement and back-pressure: a stream's next bytes are read only
// after the records before them were appended to the durable buffer, so a
// full buffer slows the sender through TCP flow control and nothing a sender
// saw accepted is lost. UDP cannot wait: when the buffer is full the records
// are dropped and counted (dropped_buffer_full). An octet-counted frame whose
// length is not a number, or that the stream ends inside, closes that
// connection only, with a logged reason (dropped_invalid_frame). Over-long
// records of either framing are cut at the line limit and tagged
// "truncated", and the rest of the record is skipped without buffering it.
// The input never drops a record silently.
package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/agent/parsers"
)

// Config configures one syslog listener.
type Config struct {
	ID       string
	Protocol string // "udp", "tcp" or "tls"
	Listen   string
	// Framing for tcp/tls: "auto" (default), "newline" or "octet".
	Framing string
	// Parser is the catalog name; default "syslog".
	Parser string
	// Plugin, when set, parses instead of Parser (a parser plugin).
	Plugin parsers.BatchParser
	// MaxLine is the record size limit; default 64 KiB.
	MaxLine int
	// MaxConnections bounds concurrent stream connections; default 1024.
	MaxConnections int
	// TLS is required for protocol "tls".
	TLS *tls.Config
	// BatchSize bounds records per buffer append; default 512.
	BatchSize int
	// FlushInterval bounds how long a UDP record waits for its batch; default 5ms.
	FlushInterval time.Duration
}

// Input is a running syslog listener.
type Input struct {
	cfg  Config
	log  *slog.Logger
	sink inputs.Sink
	ctr  inputs.Counters
	pc   net.PacketConn
	ln   net.Listener
}

var _ inputs.Input = (*Input)(nil)

// New validates cfg and binds the listener, so that address errors surface
// at start rather than later.
func New(cfg Config, sink inputs.Sink, log *slog.Logger) (*Input, error) {
	if cfg.Parser == "" {
		cfg.Parser = "syslog"
	}
	if _, err := parsers.NewProcessorFor(cfg.ID, cfg.Parser, cfg.Plugin, 0); err != nil {
		return nil, fmt.Errorf("input %s: %w", cfg.ID, err)
	}
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = parsers.DefaultMaxLine
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 1024
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 512
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 5 * time.Millisecond
	}
	switch cfg.Framing {
	case "":
		cfg.Framing = "auto"
	case "auto", "newline", "octet":
	default:
		return nil, fmt.Errorf("input %s: framing must be auto, newline or octet, not %q", cfg.ID, cfg.Framing)
	}
	in := &Input{cfg: cfg, log: log.With("input", cfg.ID), sink: sink}
	var err error
	switch cfg.Protocol {
	case "udp":
		in.pc, err = net.ListenPacket("udp", cfg.Listen)
		if err == nil {
			if uc, ok := in.pc.(*net.UDPConn); ok {
				_ = uc.SetReadBuffer(4 << 20)
			}
		}
	case "tcp":
		in.ln, err = net.Listen("tcp", cfg.Listen)
	case "tls":
		if cfg.TLS == nil {
			return nil, fmt.Errorf("input %s: protocol tls needs tls_cert and tls_key", cfg.ID)
		}
		in.ln, err = tls.Listen("tcp", cfg.Listen, cfg.TLS)
	default:
		return nil, fmt.Errorf("input %s: protocol must be udp, tcp or tls, not %q", cfg.ID, cfg.Protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("input %s: listen %s/%s: %w", cfg.ID, cfg.Protocol, cfg.Listen, err)
	}
	return in, nil
}

// ID implements inputs.Input.
func (in *Input) ID() string { return in.cfg.ID }

// Counters implements inputs.Input.
func (in *Input) Counters() *inputs.Counters { return &in.ctr }

// Addr is the bound address.
func (in *Input) Addr() net.Addr {
	if in.pc != nil {
		return in.pc.LocalAddr()
	}
	return in.ln.Addr()
}

func (in *Input) newBatch() *inputs.Batch {
	p, _ := parsers.NewProcessorFor(in.cfg.ID, in.cfg.Parser, in.cfg.Plugin, in.cfg.MaxLine) // validated in New
	return inputs.NewBatch(p, &in.ctr)
}

// Run implements inputs.Input.
func (in *Input) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		if in.pc != nil {
			in.pc.Close()
		} else {
			in.ln.Close()
		}
	})
	defer stop()
	if in.pc != nil {
		return in.runUDP(ctx)
	}
	return in.runStream(ctx)
}

func (in *Input) runUDP(ctx context.Context) error {
	b := in.newBatch()
	buf := make([]byte, 65536)
	var first time.Time
	flush := func() {
		if b.Len() == 0 {
			return
		}
		if _, err := in.sink.TryAppend(b.Records()); err != nil {
			if !errors.Is(err, buffer.ErrFull) {
				in.log.Error("append failed; records dropped", "records", b.Len(), "error", err)
			}
			b.Dropped()
			return
		}
		b.Committed()
	}
	defer flush()
	for {
		if b.Len() > 0 {
			_ = in.pc.SetReadDeadline(first.Add(in.cfg.FlushInterval))
		} else {
			_ = in.pc.SetReadDeadline(time.Time{})
		}
		n, _, err := in.pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				flush()
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("input %s: read: %w", in.cfg.ID, err)
		}
		rec := trimEOL(buf[:n])
		if len(rec) == 0 {
			continue
		}
		now := time.Now()
		if b.Len() == 0 {
			first = now
		}
		b.Add(rec, now)
		if b.Full(in.cfg.BatchSize, inputs.BatchByteLimit(in.sink)) {
			flush()
		}
	}
}

func (in *Input) runStream(ctx context.Context) error {
	sem := make(chan struct{}, in.cfg.MaxConnections)
	var wg sync.WaitGroup
	defer wg.Wait()
	conns := map[net.Conn]struct{}{}
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := in.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("input %s: accept: %w", in.cfg.ID, err)
		}
		select {
		case sem <- struct{}{}:
		default:
			in.ctr.ConnRefused.Add(1)
			in.log.Warn("connection refused: too many connections", "remote", c.RemoteAddr().String(), "limit", in.cfg.MaxConnections)
			c.Close()
			continue
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		in.ctr.Connections.Add(1)
		wg.Add(1)
		go func() {
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
				in.ctr.Connections.Add(-1)
				<-sem
				wg.Done()
			}()
			if err := in.serveConn(ctx, c); err != nil {
				in.log.Warn("closing syslog connection", "remote", c.RemoteAddr().String(), "error", err)
			}
		}()
	}
}

// serveConn reads frames from one connection. Records are appended before
// more bytes are read from the socket, so the sender is held back by a full
// buffer and no record waits in memory for bytes that may never come.
func (in *Input) serveConn(ctx context.Context, c net.Conn) error {
	b := in.newBatch()
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		if _, err := in.sink.Append(ctx, b.Records()); err != nil {
			b.Reset()
			return fmt.Errorf("append: %w", err)
		}
		b.Committed()
		return nil
	}
	r := bufio.NewReaderSize(flushingReader{c, flush}, 64<<10)
	// The framer keeps one byte over the limit so the processor sees the
	// record is too long, cuts it and tags it.
	fr := &framer{r: r, max: in.cfg.MaxLine + 1, mode: in.cfg.Framing}
	for {
		rec, err := fr.next()
		if len(rec) > 0 {
			b.Add(rec, time.Now())
		}
		if err != nil {
			ferr := flush()
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return ferr
			}
			if errors.Is(err, errBadFrame) {
				in.ctr.DroppedInvalid.Add(1)
			}
			return errors.Join(err, ferr)
		}
		if b.Full(in.cfg.BatchSize, inputs.BatchByteLimit(in.sink)) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// flushingReader appends the records parsed so far before every read from
// the socket: the framer reads the socket only when it has no complete
// record buffered, which is exactly when a read may block.
type flushingReader struct {
	r     io.Reader
	flush func() error
}

func (f flushingReader) Read(p []byte) (int, error) {
	if err := f.flush(); err != nil {
		return 0, err
	}
	return f.r.Read(p)
}

var errBadFrame = errors.New("invalid octet-counted frame")

// framer splits a stream into records.
type framer struct {
	r         *bufio.Reader
	max       int
	mode      string
	truncated bool
	big       []byte
	octetSeen bool // auto mode: this connection uses octet counting
}

func (f *framer) next() ([]byte, error) {
	f.truncated = false
	for {
		c, err := f.r.Peek(1)
		if err != nil {
			return nil, err
		}
		switch {
		case f.mode == "octet" || (f.mode == "auto" && c[0] >= '1' && c[0] <= '9' && (f.octetSeen || f.looksOctetCounted())):
			// Once a connection has sent one octet-counted frame, a digit
			// starts the next one even when its message lacks a PRI.
			rec, err := f.octet()
			if err == nil {
				f.octetSeen = true
			}
			return rec, err
		case c[0] == '\n' || c[0] == '\r':
			_, _ = f.r.ReadByte() // empty line between frames
			continue
		default:
			return f.line()
		}
	}
}

// looksOctetCounted reports whether the stream continues with "DIGITS SP <",
// the start of an octet-counted frame. A newline-framed line may also start
// with a digit (a timestamp without PRI), so a digit alone does not decide.
// It peeks one byte at a time and so waits only while the answer is open.
func (f *framer) looksOctetCounted() bool {
	for i := 1; i <= 10; i++ {
		b, _ := f.r.Peek(i + 1)
		if len(b) < i+1 {
			return false // the stream ended: whatever is left is a line
		}
		switch c := b[i]; {
		case c >= '0' && c <= '9':
			continue
		case c == ' ':
			nb, _ := f.r.Peek(i + 2)
			return len(nb) == i+2 && nb[i+1] == '<'
		default:
			return false
		}
	}
	return false
}

// octet reads "MSG-LEN SP SYSLOG-MSG".
func (f *framer) octet() ([]byte, error) {
	var n int
	for i := 0; ; i++ {
		c, err := f.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && i > 0 {
				return nil, fmt.Errorf("%w: stream ended inside the length", errBadFrame)
			}
			return nil, err
		}
		if c == ' ' && i > 0 {
			break
		}
		if c < '0' || c > '9' || i >= 9 {
			return nil, fmt.Errorf("%w: length is not a number", errBadFrame)
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: zero length", errBadFrame)
	}
	keep := min(n, f.max)
	if cap(f.big) < keep {
		f.big = make([]byte, keep)
	}
	buf := f.big[:keep]
	if _, err := io.ReadFull(f.r, buf); err != nil {
		return nil, fmt.Errorf("%w: %d-byte frame cut short: %v", errBadFrame, n, err)
	}
	eol := eolRun(0, buf)
	if n > keep {
		// Over the limit: the kept prefix is truncated downstream; the rest
		// is read and discarded without buffering it.
		f.truncated = true
		w := &eolWriter{run: eol}
		if _, err := io.CopyN(w, f.r, int64(n-keep)); err != nil {
			return nil, fmt.Errorf("%w: %d-byte frame cut short: %v", errBadFrame, n, err)
		}
		eol = w.run
	}
	return f.record(buf, n-eol), nil
}

// line reads up to '\n'; beyond the limit the rest of the line is skipped.
func (f *framer) line() ([]byte, error) {
	f.big = f.big[:0]
	total, eol := 0, 0
	for {
		frag, err := f.r.ReadSlice('\n')
		total += len(frag)
		eol = eolRun(eol, frag)
		if room := f.max - len(f.big); room > 0 {
			f.big = append(f.big, frag[:min(len(frag), room)]...)
		}
		if total > f.max {
			f.truncated = true
		}
		switch {
		case err == nil:
			return f.record(f.big, total-eol), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && total > 0:
			return f.record(f.big, total-eol), io.EOF // last line without newline
		default:
			return nil, err
		}
	}
}

// record returns the kept bytes of a record whose content, without its line
// end, is n bytes long. A record over the limit keeps all f.max kept bytes,
// line-end characters included, so that the processor always sees it is too
// long, cuts it and tags it "truncated" (trimming them could hide the cut).
func (f *framer) record(kept []byte, n int) []byte {
	if n >= f.max {
		return kept[:f.max]
	}
	return kept[:n]
}

// eolRun returns the length of the run of line-end bytes (see trimEOL) at the
// end of a record after appending p, given the run before p.
func eolRun(run int, p []byte) int {
	t := len(p) - len(trimEOL(p))
	if t == len(p) {
		return run + t
	}
	return t
}

// eolWriter discards what it is given, tracking the trailing line-end run.
type eolWriter struct{ run int }

func (w *eolWriter) Write(p []byte) (int, error) {
	w.run = eolRun(w.run, p)
	return len(p), nil
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return b
}
