package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/frame"
	"github.com/vigil-sec/vigil/protocol/identity"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// Future is a command on its way through Raft; raft.ApplyFuture is one.
type Future interface {
	Error() error
	Response() any
}

// Raft proposes commands. *raft.Raft satisfies it through RaftProposer; the
// hub server's proposer also forwards to the leader from a follower.
type Raft interface {
	Propose(cmd []byte, timeout time.Duration) Future
}

// RaftProposer adapts *raft.Raft (leader-only, no forwarding).
type RaftProposer struct{ R *raft.Raft }

// Propose implements Raft.
func (p RaftProposer) Propose(cmd []byte, timeout time.Duration) Future {
	return p.R.Apply(cmd, timeout)
}

// Enroller serves connections that negotiated the enrollment ALPN.
type Enroller interface {
	ServeEnroll(ctx context.Context, conn *quic.Conn)
}

// Config configures the listener. Zero limits take the defaults.
type Config struct {
	Addr   string
	TLS    *tls.Config // from pki.ServerTLSWithEnrollment
	NodeID string
	// Members returns the agent-facing addresses of the hub nodes.
	Members func() []string
	// MaxFrameBytes bounds one frame; default frame.DefaultMaxSize (4 MiB).
	MaxFrameBytes int
	// MaxBatchRawBytes bounds a batch's decompressed size; default 16 MiB.
	MaxBatchRawBytes int
	// InflightPerStream bounds batches awaiting commit per stream; default 32.
	InflightPerStream int
	// ApplyTimeout bounds one Raft apply; default 10s.
	ApplyTimeout time.Duration
	// IdleTimeout closes connections without traffic; default 30s.
	IdleTimeout time.Duration
	// StatelessResetKey lets a restarted node reset the connections its
	// previous run held, so agents notice a crash at once instead of after
	// the idle timeout. It must survive restarts (derive it from the node
	// key); nil disables resets.
	StatelessResetKey *quic.StatelessResetKey
}

// Listener accepts agent connections.
type Listener struct {
	cfg    Config
	log    *slog.Logger
	raft   Raft
	st     *store.Store
	enroll Enroller
	ln     *quic.Listener
	tr     *quic.Transport
	udp    net.PacketConn // owned here: quic.Transport does not close a conn it was given
	m      *metrics

	mu    sync.Mutex
	heads map[string]uint64 // agent id -> highest seq the agent reported buffered
	// closing stops new connection handlers once Close has begun. Guarded by mu.
	closing bool
	wg      sync.WaitGroup
}

type metrics struct {
	batches  *prometheus.CounterVec
	events   prometheus.Counter
	bytes    prometheus.Counter
	conns    prometheus.Gauge
	applyDur prometheus.Histogram
	closed   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_batches_total", Help: "Agent batches by outcome."}, []string{"status"}),
		events:  prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_events_total", Help: "Events newly stored."}),
		bytes:   prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_received_bytes_total", Help: "Compressed batch bytes received."}),
		conns:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_ingest_connections", Help: "Open agent connections."}),
		applyDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_ingest_commit_seconds", Help: "Time from batch receipt to commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_streams_closed_total", Help: "Streams closed by the hub, by reason code."}, []string{"code"}),
	}
	if reg != nil {
		reg.MustRegister(m.batches, m.events, m.bytes, m.conns, m.applyDur, m.closed)
	}
	return m
}

// New starts listening on cfg.Addr (UDP).
func New(cfg Config, r Raft, st *store.Store, enroll Enroller, reg prometheus.Registerer, log *slog.Logger) (*Listener, error) {
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = frame.DefaultMaxSize
	}
	if cfg.MaxBatchRawBytes <= 0 {
		cfg.MaxBatchRawBytes = 16 << 20
	}
	if cfg.InflightPerStream <= 0 {
		cfg.InflightPerStream = 32
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.Members == nil {
		cfg.Members = func() []string { return nil }
	}
	qc := &quic.Config{
		MaxIdleTimeout:             cfg.IdleTimeout,
		KeepAlivePeriod:            cfg.IdleTimeout / 3,
		MaxIncomingStreams:         16,
		MaxIncomingUniStreams:      -1,
		MaxStreamReceiveWindow:     uint64(cfg.MaxFrameBytes) * 2,
		MaxConnectionReceiveWindow: uint64(cfg.MaxFrameBytes) * 4,
	}
	udp, err := net.ListenPacket("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen ingest %s: %w", cfg.Addr, err)
	}
	tr := &quic.Transport{Conn: udp, StatelessResetKey: cfg.StatelessResetKey}
	ln, err := tr.Listen(cfg.TLS, qc)
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("listen ingest %s: %w", cfg.Addr, err)
	}
	return &Listener{cfg: cfg, log: log, raft: r, st: st, enroll: enroll, ln: ln, tr: tr, udp: udp, m: newMetrics(reg), heads: map[string]uint64{}}, nil
}

// Addr is the bound UDP address.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// HeadSeq returns the highest seq an agent last reported buffered on this node.
func (l *Listener) HeadSeq(agent string) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.heads[agent]
	return v, ok
}

// Serve accepts connections until ctx ends or Close is called.
func (l *Listener) Serve(ctx context.Context) error {
	for {
		conn, err := l.ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, quic.ErrServerClosed) {
				l.wg.Wait()
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		l.mu.Lock()
		if l.closing {
			l.mu.Unlock()
			_ = conn.CloseWithError(closeNormal, "hub shutting down")
			continue
		}
		l.wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.wg.Done()
			l.serveConn(ctx, conn)
		}()
	}
}

// Close stops accepting, closes every connection and waits until no
// connection handler runs, so the caller may close the store afterwards.
func (l *Listener) Close() error {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	err := l.ln.Close()
	if terr := l.tr.Close(); err == nil {
		err = terr
	}
	if uerr := l.udp.Close(); err == nil {
		err = uerr
	}
	l.wg.Wait()
	return err
}

// Application error codes used when closing a QUIC connection.
const (
	closeNormal       quic.ApplicationErrorCode = 0
	closeUnauthorized quic.ApplicationErrorCode = 1
	closeProtocol     quic.ApplicationErrorCode = 2
)

func (l *Listener) serveConn(ctx context.Context, conn *quic.Conn) {
	cs := conn.ConnectionState().TLS
	switch cs.NegotiatedProtocol {
	case protocol.EnrollALPN:
		if l.enroll == nil {
			_ = conn.CloseWithError(closeUnauthorized, "enrollment not served here")
			return
		}
		l.enroll.ServeEnroll(ctx, conn)
		return
	case protocol.ALPN:
	default:
		_ = conn.CloseWithError(closeProtocol, "unsupported protocol "+cs.NegotiatedProtocol)
		return
	}
	if len(cs.PeerCertificates) == 0 {
		_ = conn.CloseWithError(closeUnauthorized, "client certificate required")
		return
	}
	who, err := identity.AgentFromCert(cs.PeerCertificates[0])
	if err != nil {
		l.log.Warn("refused connection", "remote", conn.RemoteAddr().String(), "error", err)
		_ = conn.CloseWithError(closeUnauthorized, "not an agent certificate")
		return
	}
	l.m.conns.Inc()
	defer l.m.conns.Dec()
	log := l.log.With("agent_id", who.ID, "branch", who.Branch, "remote", conn.RemoteAddr().String())
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &stream{l: l, log: log, agent: who, s: s}
			st.serve(ctx)
		}()
	}
}

type stream struct {
	l     *Listener
	log   *slog.Logger
	agent identity.Agent
	s     *quic.Stream
}

type inflight struct {
	batch    *agentpb.Batch
	future   Future
	received time.Time
	err      error // set when the batch was refused before proposing
}

// refuse sends an Error frame and closes the stream.
func (st *stream) refuse(fw *frame.Writer, code, msg string) {
	st.log.Warn("closing agent stream", "code", code, "reason", msg)
	st.l.m.closed.WithLabelValues(code).Inc()
	_ = fw.WriteError(code, msg)
	_ = st.s.Close()
	st.s.CancelRead(0)
}

func (st *stream) serve(ctx context.Context) {
	l := st.l
	fr := frame.NewReader(st.s, l.cfg.MaxFrameBytes)
	fw := frame.NewWriter(st.s, l.cfg.MaxFrameBytes)
	_ = st.s.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hello agentpb.Hello
	if err := fr.ReadMsg(frame.TypeHello, &hello); err != nil {
		st.refuse(fw, frame.CodeMalformed, "expected hello: "+err.Error())
		return
	}
	_ = st.s.SetReadDeadline(time.Time{})
	ver, ok := protocol.Negotiate(hello.MinProtocolVersion, hello.ProtocolVersion)
	if !ok {
		st.refuse(fw, frame.CodeVersion, fmt.Sprintf("agent speaks protocol %d..%d, hub %d..%d",
			hello.MinProtocolVersion, hello.ProtocolVersion, protocol.MinProtocolVersion, protocol.ProtocolVersion))
		return
	}
	rec, err := l.st.Agent(st.agent.ID)
	if err != nil {
		st.refuse(fw, frame.CodeInternal, "read agent record: "+err.Error())
		return
	}
	if rec == nil {
		st.refuse(fw, frame.CodeUnauthorized, "agent "+st.agent.ID+" is not registered with this cluster")
		return
	}
	if rec.Branch != st.agent.Branch {
		st.refuse(fw, frame.CodeUnauthorized, "certificate branch does not match the registered branch")
		return
	}
	// The answer carries the hub's epoch and acked seq for this agent; the
	// agent compares them with its own and resumes, or moves to a newer
	// epoch first when the hub is ahead of it (docs/protocol.md).
	if err := fw.Write(frame.TypeHelloAck, &agentpb.HelloAck{
		ProtocolVersion: ver, Epoch: rec.Epoch, AckedSeq: rec.AckedSeq,
		Members: l.cfg.Members(), NodeId: l.cfg.NodeID, MaxFrameBytes: uint32(l.cfg.MaxFrameBytes),
	}); err != nil {
		return
	}
	st.log.Info("agent stream open", "epoch", hello.Epoch, "hub_epoch", rec.Epoch, "acked_seq", rec.AckedSeq, "agent_version", hello.AgentVersion)

	pending := make(chan inflight, l.cfg.InflightPerStream)
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		st.ackLoop(fw, pending)
	}()
	defer func() {
		close(pending)
		<-ackDone
	}()
	for {
		t, payload, err := fr.Next()
		if err != nil {
			if errors.Is(err, frame.ErrTooLarge) {
				pending <- inflight{err: &refusal{frame.CodeTooLarge, err.Error()}}
			} else if errors.Is(err, frame.ErrMalformed) {
				pending <- inflight{err: &refusal{frame.CodeMalformed, err.Error()}}
			}
			return
		}
		b := &agentpb.Batch{}
		if err := frame.Decode(t, payload, frame.TypeBatch, b); err != nil {
			pending <- inflight{err: &refusal{frame.CodeMalformed, err.Error()}}
			return
		}
		if err := st.check(b, hello.Epoch); err != nil {
			pending <- inflight{err: err}
			return
		}
		l.m.bytes.Add(float64(len(b.Payload)))
		l.mu.Lock()
		l.heads[st.agent.ID] = b.HeadSeq
		l.mu.Unlock()
		cmd, err := fsm.Encode(fsm.IngestBatchType, &raftpb.IngestBatch{
			AgentId: st.agent.ID, Branch: st.agent.Branch, Epoch: b.Epoch,
			FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, Compression: uint32(b.Compression),
			RawBytes: b.RawBytes, Payload: b.Payload, Now: time.Now().UnixNano(),
			Hostname: hello.Hostname, AgentVersion: hello.AgentVersion, EpochStart: b.EpochStart,
		})
		if err != nil {
			pending <- inflight{err: &refusal{frame.CodeInternal, err.Error()}}
			return
		}
		pending <- inflight{batch: b, future: l.raft.Propose(cmd, l.cfg.ApplyTimeout), received: time.Now()}
	}
}

type refusal struct{ code, msg string }

func (r *refusal) Error() string { return r.code + ": " + r.msg }

// check applies the limits a batch must meet before it is proposed.
func (st *stream) check(b *agentpb.Batch, epoch uint64) error {
	switch {
	case b.Epoch != epoch:
		return &refusal{frame.CodeRejected, fmt.Sprintf("batch epoch %d differs from hello epoch %d", b.Epoch, epoch)}
	case b.FirstSeq == 0 || b.LastSeq < b.FirstSeq:
		return &refusal{frame.CodeRejected, fmt.Sprintf("invalid seq range %d..%d", b.FirstSeq, b.LastSeq)}
	case b.RawBytes > uint32(st.l.cfg.MaxBatchRawBytes):
		return &refusal{frame.CodeTooLarge, fmt.Sprintf("batch of %d bytes uncompressed, limit %d", b.RawBytes, st.l.cfg.MaxBatchRawBytes)}
	case b.Compression != agentpb.Compression_COMPRESSION_NONE && b.Compression != agentpb.Compression_COMPRESSION_ZSTD:
		return &refusal{frame.CodeRejected, fmt.Sprintf("unknown compression %d", b.Compression)}
	}
	return nil
}

// ackLoop waits for each batch's commit in arrival order and acknowledges it.
// After the first failure it stops acknowledging: later batches of the stream
// may depend on the failed one, and the agent resends from its acked seq.
func (st *stream) ackLoop(fw *frame.Writer, pending <-chan inflight) {
	failed := false
	for p := range pending {
		if failed {
			continue
		}
		if p.err != nil {
			var r *refusal
			if errors.As(p.err, &r) {
				st.refuse(fw, r.code, r.msg)
			} else {
				st.refuse(fw, frame.CodeInternal, p.err.Error())
			}
			failed = true
			continue
		}
		ack, err := st.result(p)
		if err != nil {
			st.refuse(fw, err.code, err.msg)
			failed = true
			continue
		}
		if err := fw.Write(frame.TypeAck, ack); err != nil {
			failed = true
			st.s.CancelRead(0)
		}
	}
}

func (st *stream) result(p inflight) (*agentpb.Ack, *refusal) {
	l := st.l
	if err := p.future.Error(); err != nil {
		l.m.batches.WithLabelValues("error").Inc()
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrRaftShutdown) {
			return nil, &refusal{frame.CodeNotLeader, "no leader on this node: " + err.Error()}
		}
		return nil, &refusal{frame.CodeInternal, "commit batch: " + err.Error()}
	}
	l.m.applyDur.Observe(time.Since(p.received).Seconds())
	ack := &agentpb.Ack{Epoch: p.batch.Epoch, FirstSeq: p.batch.FirstSeq, LastSeq: p.batch.LastSeq}
	switch r := p.future.Response().(type) {
	case *fsm.IngestResult:
		ack.AckedSeq = r.AckedSeq
		switch r.Status {
		case fsm.IngestStored:
			l.m.batches.WithLabelValues("stored").Inc()
			l.m.events.Add(float64(r.Stored))
		case fsm.IngestDuplicate:
			l.m.batches.WithLabelValues("duplicate").Inc()
			ack.Status = agentpb.AckStatus_ACK_STATUS_DUPLICATE
		default:
			l.m.batches.WithLabelValues("rejected").Inc()
			return nil, &refusal{frame.CodeRejected, r.Reason}
		}
	case *fsm.StoreError:
		l.m.batches.WithLabelValues("error").Inc()
		return nil, &refusal{frame.CodeInternal, r.Error()}
	default:
		return nil, &refusal{frame.CodeInternal, fmt.Sprintf("unexpected apply result %T", r)}
	}
	return ack, nil
}
