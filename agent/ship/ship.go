// Package ship owns the agent's path to the hub: it reads committed records
// from the buffer, packs them into batches (by count, bytes and time),
// compresses them with zstd, sends them over QUIC with mutual TLS with
// several batches in flight, and releases buffer space only when the hub
// acknowledges a batch as committed. On any failure it closes the
// connection, backs off with jitter, and reconnects to the next hub address;
// the hub's hello answer says where to resume, so nothing is skipped and the
// hub drops anything sent twice.
//
// It never deletes a record the hub has not acknowledged and never changes
// a record's seq.
package ship

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/quic-go/quic-go"
	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/event"
	"github.com/vigil-sec/vigil/protocol/frame"
)

// Config configures the shipper. Zero fields take the documented defaults.
type Config struct {
	// Hubs are the hub addresses (host:port, UDP) tried in turn.
	Hubs []string
	// TLS is the client configuration (identity.ClientTLS with the agent's
	// certificate and protocol.ALPN).
	TLS *tls.Config
	// MaxBatchEvents bounds events per batch; default 1000.
	MaxBatchEvents int
	// MaxBatchBytes bounds a batch's uncompressed bytes; default 1 MiB.
	MaxBatchBytes int
	// Linger is how long a partial batch waits for more events while other
	// batches are in flight; default 20ms. With nothing in flight a batch
	// leaves at once.
	Linger time.Duration
	// Inflight bounds batches sent and not yet acknowledged; default 8.
	Inflight int
	// BackoffMin and BackoffMax bound the reconnect delay; defaults 200ms, 30s.
	BackoffMin, BackoffMax time.Duration
	// DialTimeout bounds connecting to one hub; default 3s.
	DialTimeout time.Duration
	// AckTimeout is how long batches in flight may go without any
	// acknowledgement before the connection is given up; default 15s.
	AckTimeout time.Duration
	// IdleTimeout is how long the connection may carry no packet at all
	// (keep-alives go every fifth of it) before it is declared dead;
	// default 2s.
	IdleTimeout            time.Duration
	Hostname, AgentVersion string
}

func (c *Config) setDefaults() {
	if c.MaxBatchEvents <= 0 {
		c.MaxBatchEvents = 1000
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 1 << 20
	}
	if c.Linger <= 0 {
		c.Linger = 20 * time.Millisecond
	}
	if c.Inflight <= 0 {
		c.Inflight = 8
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 200 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 3 * time.Second
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 15 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Second
	}
}

// NewEncoder returns the zstd encoder batches are compressed with, for
// batches of at most maxBatchBytes. SpeedFastest: SpeedDefault compresses
// branch logs only about 3% better but doubled the agent's CPU per event and
// halved end-to-end throughput in make bench. The window is the batch size
// (at least 1 MiB): history beyond one batch is never used and only costs
// memory (the library default is 8 MiB).
func NewEncoder(maxBatchBytes int) (*zstd.Encoder, error) {
	window := 1 << 20
	for window < min(maxBatchBytes, zstd.MaxWindowSize) {
		window <<= 1
	}
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(window))
}

// Status is what `vigil-agent status` shows of the shipper.
type Status struct {
	State         string   `json:"state"` // connecting, connected, backoff
	Hub           string   `json:"hub,omitempty"`
	Hubs          []string `json:"hubs"`
	LastError     string   `json:"last_error,omitempty"`
	Inflight      int64    `json:"batches_inflight"`
	BatchesSent   uint64   `json:"batches_sent_total"`
	BatchesAcked  uint64   `json:"batches_acked_total"`
	Duplicates    uint64   `json:"batches_duplicate_total"`
	EventsAcked   uint64   `json:"events_acked_total"`
	RawBytes      uint64   `json:"raw_bytes_total"`
	WireBytes     uint64   `json:"compressed_bytes_total"`
	Reconnects    uint64   `json:"reconnects_total"`
	LastAckMillis float64  `json:"last_ack_latency_ms"`
}

// Shipper sends the buffer's records to the hub.
type Shipper struct {
	cfg Config
	buf *buffer.Buffer
	log *slog.Logger
	enc *zstd.Encoder

	mu        sync.Mutex
	hubs      []string
	state     string
	hub       string
	lastError string

	inflight    atomic.Int64
	sent        atomic.Uint64
	acked       atomic.Uint64
	dups        atomic.Uint64
	eventsAcked atomic.Uint64
	rawBytes    atomic.Uint64
	wireBytes   atomic.Uint64
	reconnects  atomic.Uint64
	lastAckNs   atomic.Int64
	// acked1 wakes a lingering sender after an acknowledgement.
	acked1 chan struct{}
	// lastProgress is when the last acknowledgement arrived or the first
	// batch of an idle connection was sent (Unix ns).
	lastProgress atomic.Int64

	// OnAck, when set, is called after each acknowledged batch with the
	// time from the intake of its last event to the acknowledgement.
	OnAck func(events int, latency time.Duration)
}

// New returns a shipper over buf.
func New(cfg Config, buf *buffer.Buffer, log *slog.Logger) (*Shipper, error) {
	cfg.setDefaults()
	if len(cfg.Hubs) == 0 {
		return nil, errors.New("ship: no hub address configured")
	}
	if cfg.TLS == nil {
		return nil, errors.New("ship: TLS configuration required")
	}
	enc, err := NewEncoder(cfg.MaxBatchBytes)
	if err != nil {
		return nil, fmt.Errorf("ship: zstd: %w", err)
	}
	return &Shipper{cfg: cfg, buf: buf, log: log, enc: enc, hubs: slices.Clone(cfg.Hubs), state: "connecting",
		acked1: make(chan struct{}, 1)}, nil
}

// Status returns the current state and counters.
func (s *Shipper) Status() Status {
	s.mu.Lock()
	st := Status{State: s.state, Hub: s.hub, Hubs: slices.Clone(s.hubs), LastError: s.lastError}
	s.mu.Unlock()
	st.Inflight = s.inflight.Load()
	st.BatchesSent = s.sent.Load()
	st.BatchesAcked = s.acked.Load()
	st.Duplicates = s.dups.Load()
	st.EventsAcked = s.eventsAcked.Load()
	st.RawBytes = s.rawBytes.Load()
	st.WireBytes = s.wireBytes.Load()
	st.Reconnects = s.reconnects.Load()
	st.LastAckMillis = float64(s.lastAckNs.Load()) / 1e6
	return st
}

func (s *Shipper) setState(state, hub string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.hub = state, hub
	if err != nil {
		s.lastError = err.Error()
	}
}

// Run ships until ctx ends.
func (s *Shipper) Run(ctx context.Context) error {
	backoff := s.cfg.BackoffMin
	// Start at a random hub so that a branch's agents spread over the
	// cluster instead of all dialling the first node.
	s.mu.Lock()
	first := rand.N(len(s.hubs))
	s.mu.Unlock()
	for i := first; ; i++ {
		s.mu.Lock()
		addr := s.hubs[i%len(s.hubs)]
		s.mu.Unlock()
		s.setState("connecting", addr, nil)
		progressed, err := s.session(ctx, addr)
		if ctx.Err() != nil {
			s.setState("stopped", "", nil)
			return nil
		}
		if progressed {
			backoff = s.cfg.BackoffMin
		}
		if errors.Is(err, errNewEpoch) {
			i-- // same hub again, at once
			continue
		}
		s.reconnects.Add(1)
		s.log.Warn("hub connection lost", "hub", addr, "error", err, "retry_in", backoff)
		s.setState("backoff", addr, err)
		// Full jitter keeps thousands of branch agents from reconnecting in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			s.setState("stopped", "", nil)
			return nil
		}
		backoff = min(backoff*2, s.cfg.BackoffMax)
	}
}

type sent struct {
	first, last uint64
	created     int64 // intake time of the batch's last event
	events      int
}

// session runs one connection. It reports whether any batch was acknowledged.
func (s *Shipper) session(ctx context.Context, addr string) (bool, error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	conn, err := quic.DialAddr(dctx, addr, s.cfg.TLS, &quic.Config{
		// A hub that vanished (kill -9, a cut link) sends nothing, not even
		// a reset: frequent keep-alives and a short idle timeout are what
		// let the agent fail over to another node within seconds.
		MaxIdleTimeout: s.cfg.IdleTimeout, KeepAlivePeriod: s.cfg.IdleTimeout / 5, HandshakeIdleTimeout: s.cfg.DialTimeout,
	})
	cancel()
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.CloseWithError(0, "")
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	st, err := conn.OpenStreamSync(sctx)
	if err != nil {
		return false, fmt.Errorf("open stream: %w", err)
	}
	defer st.CancelRead(0)
	fw := frame.NewWriter(st, 0)
	fr := frame.NewReader(st, 0)
	epoch := s.buf.Epoch()
	if err := fw.Write(frame.TypeHello, &agentpb.Hello{
		ProtocolVersion: protocol.ProtocolVersion, MinProtocolVersion: protocol.MinProtocolVersion,
		AgentVersion: s.cfg.AgentVersion, Hostname: s.cfg.Hostname, Epoch: epoch,
	}); err != nil {
		return false, err
	}
	var ha agentpb.HelloAck
	if err := fr.ReadMsg(frame.TypeHelloAck, &ha); err != nil {
		return false, fmt.Errorf("hello: %w", err)
	}
	maxFrame := int(ha.MaxFrameBytes)
	if maxFrame <= 0 {
		maxFrame = frame.DefaultMaxSize
	}
	fw = frame.NewWriter(st, maxFrame)
	if len(ha.Members) > 0 {
		s.mergeMembers(ha.Members)
	}
	acked, err := s.reconcile(&ha, epoch)
	if err != nil {
		return false, err
	}
	if err := s.buf.Ack(acked); err != nil {
		return false, err
	}
	s.setState("connected", addr, nil)
	s.log.Info("connected to hub", "hub", addr, "node_id", ha.NodeId, "epoch", epoch, "acked_seq", acked)

	queue := make(chan sent, s.cfg.Inflight)
	errc := make(chan error, 3)
	var progressed atomic.Bool
	s.lastProgress.Store(time.Now().UnixNano())
	go func() { errc <- s.receive(fr, queue, &progressed) }()
	go func() { errc <- s.send(sctx, fw, queue, max(acked, s.buf.AckedSeq())+1) }()
	go func() { errc <- s.watchdog(sctx) }()
	err = <-errc
	scancel()
	_ = conn.CloseWithError(0, "")
	<-errc
	<-errc
	s.inflight.Store(0)
	return progressed.Load(), err
}

// errNewEpoch ends a session after the buffer moved to a newer epoch; the
// shipper reconnects at once so the hello carries the new epoch.
var errNewEpoch = errors.New("moved to a newer buffer epoch")

// reconcile compares the hub's view of this agent with the buffer's and
// returns the seq up to which the buffer may release records.
func (s *Shipper) reconcile(ha *agentpb.HelloAck, epoch uint64) (uint64, error) {
	newEpoch := func(why string) error {
		next := max(uint64(time.Now().UnixNano()), ha.Epoch+1)
		s.log.Warn("hub is ahead of this agent's buffer; moving to a new epoch", "reason", why,
			"epoch", epoch, "hub_epoch", ha.Epoch, "hub_acked_seq", ha.AckedSeq, "new_epoch", next)
		if err := s.buf.SetEpoch(next); err != nil {
			return err
		}
		return errNewEpoch
	}
	switch {
	case ha.Epoch > epoch:
		// The hub saw a newer epoch from this agent than the buffer has:
		// the clock was set back when the buffer was made, or the buffer
		// was restored from an old copy. Nothing of this epoch reached
		// the hub yet.
		return 0, newEpoch("hub holds a newer epoch")
	case ha.Epoch < epoch:
		return 0, nil // the hub has not seen this epoch yet
	}
	if last := s.buf.LastSeq(); ha.AckedSeq > last {
		// The hub committed seqs this buffer no longer holds (lost from an
		// unsynced buffer in a crash): everything here was delivered, and
		// new records must not reuse those seqs in this epoch.
		if err := s.buf.Ack(last); err != nil {
			return 0, err
		}
		return 0, newEpoch("hub acknowledged seqs the buffer does not hold")
	}
	return ha.AckedSeq, nil
}

func (s *Shipper) mergeMembers(members []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range members {
		if !slices.Contains(s.hubs, m) {
			s.hubs = append(s.hubs, m)
		}
	}
}

// send reads the buffer from seq next on and writes batches.
func (s *Shipper) send(ctx context.Context, fw *frame.Writer, queue chan<- sent, next uint64) error {
	defer close(queue)
	var recs []buffer.Record
	var payload, wire, slab []byte
	for {
		slab = slab[:0]
		// Take the notification channel before reading, so a commit that
		// lands between the read and the wait is not missed.
		notify := s.buf.Notify()
		var err error
		recs, slab, err = s.buf.ReadInto(next, s.cfg.MaxBatchEvents, s.cfg.MaxBatchBytes, recs[:0], slab)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			select {
			case <-notify:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(recs) < s.cfg.MaxBatchEvents && s.inflight.Load() > 0 {
			// Batches are in flight: linger so this one leaves fuller, but
			// no longer than Linger, and not at all once the pipeline is
			// empty again.
			if recs, slab, err = s.linger(ctx, notify, recs, slab); err != nil {
				return err
			}
		}
		payload = payload[:0]
		for _, r := range recs {
			payload = event.AppendRecord(payload, r.Data)
		}
		wire = s.enc.EncodeAll(payload, wire[:0])
		first, last := recs[0].Seq, recs[len(recs)-1].Seq
		created, _ := event.Created(recs[len(recs)-1].Data)
		b := &agentpb.Batch{
			Epoch: s.buf.Epoch(), FirstSeq: first, LastSeq: last, Compression: agentpb.Compression_COMPRESSION_ZSTD,
			RawBytes: uint32(len(payload)), Payload: wire, HeadSeq: s.buf.LastSeq(), EpochStart: s.buf.EpochStart(),
		}
		// Reserve a window slot before sending so at most Inflight batches
		// are unacknowledged.
		select {
		case queue <- sent{first: first, last: last, created: created, events: len(recs)}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if s.inflight.Add(1) == 1 {
			s.lastProgress.Store(time.Now().UnixNano())
		}
		if err := fw.Write(frame.TypeBatch, b); err != nil {
			return err
		}
		s.sent.Add(1)
		s.rawBytes.Add(uint64(len(payload)))
		s.wireBytes.Add(uint64(len(wire)))
		next = last + 1
	}
}

// watchdog gives up a connection whose batches go unacknowledged for
// AckTimeout: a hub that hangs or vanished without a reset would otherwise
// hold the agent until QUIC's idle timeout.
func (s *Shipper) watchdog(ctx context.Context) error {
	t := time.NewTicker(min(s.cfg.AckTimeout/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			idle := time.Since(time.Unix(0, s.lastProgress.Load()))
			if s.inflight.Load() > 0 && idle > s.cfg.AckTimeout {
				return fmt.Errorf("no acknowledgement for %s with %d batches in flight", idle.Round(time.Millisecond), s.inflight.Load())
			}
		}
	}
}

// linger waits for more records to join a partial batch and returns the
// batch with them appended. It ends at the linger deadline, when the batch
// could be full, or when no batch is in flight any more.
func (s *Shipper) linger(ctx context.Context, notify <-chan struct{}, recs []buffer.Record, slab []byte) ([]buffer.Record, []byte, error) {
	deadline := time.NewTimer(s.cfg.Linger)
	defer deadline.Stop()
	next := recs[len(recs)-1].Seq + 1
wait:
	for {
		select {
		case <-deadline.C:
			break wait
		case <-s.acked1:
			if s.inflight.Load() == 0 {
				break wait
			}
		case <-notify:
			notify = s.buf.Notify()
			if s.buf.LastSeq()+1-next >= uint64(s.cfg.MaxBatchEvents-len(recs)) {
				break wait
			}
		case <-ctx.Done():
			return recs, slab, ctx.Err()
		}
	}
	size := 0
	for _, r := range recs {
		size += len(r.Data)
	}
	if size >= s.cfg.MaxBatchBytes {
		return recs, slab, nil
	}
	return s.buf.ReadInto(next, s.cfg.MaxBatchEvents-len(recs), s.cfg.MaxBatchBytes-size, recs, slab)
}

// receive reads acknowledgements in order and releases buffer space.
func (s *Shipper) receive(fr *frame.Reader, queue <-chan sent, progressed *atomic.Bool) error {
	for {
		var ack agentpb.Ack
		if err := fr.ReadMsg(frame.TypeAck, &ack); err != nil {
			var pe *frame.PeerError
			if errors.As(err, &pe) {
				return fmt.Errorf("hub closed the stream: %w", pe)
			}
			return fmt.Errorf("read ack: %w", err)
		}
		want, ok := <-queue
		if !ok {
			return errors.New("acknowledgement for a batch that was not sent")
		}
		if ack.FirstSeq != want.first || ack.LastSeq != want.last {
			return fmt.Errorf("acknowledgement for %d..%d, expected %d..%d", ack.FirstSeq, ack.LastSeq, want.first, want.last)
		}
		if err := s.buf.Ack(ack.LastSeq); err != nil {
			return err
		}
		s.inflight.Add(-1)
		s.lastProgress.Store(time.Now().UnixNano())
		select {
		case s.acked1 <- struct{}{}:
		default:
		}
		s.acked.Add(1)
		if ack.Status == agentpb.AckStatus_ACK_STATUS_DUPLICATE {
			s.dups.Add(1)
		}
		s.eventsAcked.Add(uint64(want.events))
		progressed.Store(true)
		if want.created > 0 {
			lat := time.Since(time.Unix(0, want.created))
			s.lastAckNs.Store(int64(lat))
			if s.OnAck != nil {
				s.OnAck(want.events, lat)
			}
		}
	}
}
