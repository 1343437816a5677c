package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/agent/inputs/syslog"
	"github.com/vigil-sec/vigil/agent/ship"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/event"
	"github.com/vigil-sec/vigil/protocol/identity"
)

// intakeRecorder is the input's sink: the buffer itself, except that it
// remembers each appended record's intake time (event.created, set by the
// input when it read the record) under the seq the buffer assigned.
type intakeRecorder struct {
	*buffer.Buffer
	mu sync.Mutex
	// created[seq-1] is the intake time of seq, in Unix nanoseconds;
	// durable[seq-1] is when the Append holding it returned (synced).
	created, durable []int64
}

var _ inputs.Sink = (*intakeRecorder)(nil)

func (r *intakeRecorder) record(first uint64, recs [][]byte) {
	now := time.Now().UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, rec := range recs {
		ts, _ := event.Created(rec)
		idx := int(first) - 1 + i
		for len(r.created) <= idx {
			r.created = append(r.created, 0)
			r.durable = append(r.durable, 0)
		}
		r.created[idx] = ts
		r.durable[idx] = now
	}
}

func (r *intakeRecorder) Append(ctx context.Context, recs [][]byte, cps ...buffer.Checkpoint) (uint64, error) {
	first, err := r.Buffer.Append(ctx, recs, cps...)
	if err == nil {
		r.record(first, recs)
	}
	return first, err
}

func (r *intakeRecorder) TryAppend(recs [][]byte, cps ...buffer.Checkpoint) (uint64, error) {
	first, err := r.Buffer.TryAppend(recs, cps...)
	if err == nil {
		r.record(first, recs)
	}
	return first, err
}

// ackMark is one acknowledged batch seen by ship.Shipper.OnAck.
type ackMark struct {
	at      time.Time     // when OnAck ran
	lastSeq uint64        // the buffer's acked seq then: the batch's last seq
	events  int           // events in the batch
	latency time.Duration // the shipper's own figure: intake of the batch's last event to ack
}

// latencyFigures measures intake-to-acknowledgement latency at a moderate
// steady rate.
//
// The agent pipeline runs in this process so that ship.Shipper.OnAck can be
// observed: a buffer (fsync "always") in a temporary directory, the syslog
// input over TCP on loopback, and the shipper with the agent's default
// batching, connected to a real vigil-hub process with the certificate that
// `vigil-agent enroll` obtained and a TLS configuration built as
// agent.New builds it. sysloggen sends corpus lines at -lat-rate lines/s for
// -lat-seconds.
//
// Latency is per event: from the event's intake (event.created, the time the
// input read the line) to the moment OnAck reports the batch holding it
// acknowledged by the hub (committed through Raft). OnAck itself gives only
// the latency of each batch's last event; the first events of a batch wait
// longer, so that figure is logged for comparison only.
//
//	ack_latency_p50_ms, ack_latency_p99_ms, ack_latency_max_ms
func (b *bench) latencyFigures() error {
	h, err := b.newHub("hub-latency")
	if err != nil {
		return err
	}
	defer h.stop()
	dir := filepath.Join(b.dir, "agent-latency")
	if _, err := h.enroll(dir, "bench"); err != nil {
		return err
	}
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	caPEM, err := read("tls/ca.crt")
	if err != nil {
		return err
	}
	certPEM, err := read("tls/agent.crt")
	if err != nil {
		return err
	}
	keyPEM, err := read("tls/agent.key")
	if err != nil {
		return err
	}
	identJSON, err := read("identity.json")
	if err != nil {
		return err
	}
	var ident struct {
		Hubs []string `json:"hubs"`
	}
	if err := json.Unmarshal(identJSON, &ident); err != nil {
		return fmt.Errorf("identity.json: %w", err)
	}
	tlsConf, err := identity.ClientTLS(caPEM, certPEM, keyPEM, []string{protocol.ALPN}, "")
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(b.dir, "agent-latency.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, nil))

	buf, err := buffer.Open(buffer.Config{Dir: filepath.Join(dir, "buffer"), Fsync: buffer.FsyncAlways}, log.With("component", "buffer"), time.Now)
	if err != nil {
		return err
	}
	rec := &intakeRecorder{Buffer: buf}
	in, err := syslog.New(syslog.Config{ID: "tcp", Protocol: "tcp", Listen: "127.0.0.1:0", Framing: "octet"}, rec, log.With("component", "input"))
	if err != nil {
		buf.Close()
		return err
	}
	host, _ := os.Hostname()
	sh, err := ship.New(ship.Config{Hubs: ident.Hubs, TLS: tlsConf, BackoffMax: time.Second, Hostname: host, AgentVersion: "bench"}, buf, log.With("component", "ship"))
	if err != nil {
		buf.Close()
		return err
	}
	var marksMu sync.Mutex
	var marks []ackMark
	sh.OnAck = func(events int, latency time.Duration) {
		now := time.Now()
		acked := buf.AckedSeq()
		marksMu.Lock()
		marks = append(marks, ackMark{at: now, lastSeq: acked, events: events, latency: latency})
		marksMu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = in.Run(ctx) }()
	go func() { defer wg.Done(); _ = sh.Run(ctx) }()
	defer func() {
		cancel()
		wg.Wait()
		buf.Close()
	}()
	if err := waitFor(20*time.Second, 20*time.Millisecond, "in-process shipper connected", func() bool { return sh.Status().State == "connected" }); err != nil {
		return err
	}

	n := b.cfg.latRate * b.cfg.latSeconds
	file := filepath.Join(b.dir, "latency.lines")
	if err := b.corpus.writeLines(file, 0, n); err != nil {
		return err
	}
	b.logf("latency: in-process agent pipeline (buffer fsync always, syslog TCP input, shipper defaults) -> vigil-hub; %d lines at %d/s over TCP", n, b.cfg.latRate)
	start := time.Now()
	gen, err := b.sysloggen("sysloggen-latency", in.Addr().String(), file, b.cfg.latRate)
	if err != nil {
		return err
	}
	if err := gen.wait(time.Duration(b.cfg.latSeconds)*time.Second + 60*time.Second); err != nil {
		return err
	}
	sendTime := time.Since(start)
	if err := waitFor(60*time.Second, 10*time.Millisecond, "every event acknowledged", func() bool {
		return buf.LastSeq() >= uint64(n) && buf.AckedSeq() == buf.LastSeq()
	}); err != nil {
		return fmt.Errorf("%w (last %d, acked %d)", err, buf.LastSeq(), buf.AckedSeq())
	}
	marksMu.Lock()
	ms := slices.Clone(marks)
	marksMu.Unlock()
	rec.mu.Lock()
	created := slices.Clone(rec.created)
	durable := slices.Clone(rec.durable)
	rec.mu.Unlock()
	if len(created) != n {
		return fmt.Errorf("recorded %d intakes, sent %d lines", len(created), n)
	}

	// Per-event latencies from the ack marks.
	lat := make([]time.Duration, 0, n)
	var toDurable, durableToAck, batchLast []time.Duration
	prev := uint64(0)
	events := 0
	for _, m := range ms {
		if m.lastSeq < prev {
			return fmt.Errorf("acknowledged seq went back from %d to %d", prev, m.lastSeq)
		}
		for seq := prev + 1; seq <= m.lastSeq; seq++ {
			lat = append(lat, m.at.Sub(time.Unix(0, created[seq-1])))
			toDurable = append(toDurable, time.Duration(durable[seq-1]-created[seq-1]))
			durableToAck = append(durableToAck, m.at.Sub(time.Unix(0, durable[seq-1])))
		}
		prev = m.lastSeq
		events += m.events
		batchLast = append(batchLast, m.latency)
	}
	if len(lat) != n || events != n {
		return fmt.Errorf("acks covered %d events (OnAck counted %d), want %d", len(lat), events, n)
	}
	for _, d := range [][]time.Duration{lat, toDurable, durableToAck, batchLast} {
		slices.Sort(d)
	}
	pct := func(d []time.Duration, p float64) float64 {
		i := min(int(p*float64(len(d))), len(d)-1)
		return float64(d[i]) / float64(time.Millisecond)
	}
	st := sh.Status()
	b.logf("latency: sent in %s (%.0f lines/s); %d batches acked (%.0f events each), %d reconnects",
		sendTime.Round(time.Millisecond), float64(n)/sendTime.Seconds(), len(ms), float64(n)/float64(len(ms)), st.Reconnects)
	b.logf("latency: per event p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; batch-last-event (OnAck) p50 %.2f ms, p99 %.2f ms",
		pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), pct(lat, 1), pct(batchLast, 0.5), pct(batchLast, 0.99))
	b.logf("latency: of which intake -> durable in the buffer p50 %.2f ms, p99 %.2f ms; durable -> acknowledged p50 %.2f ms, p99 %.2f ms",
		pct(toDurable, 0.5), pct(toDurable, 0.99), pct(durableToAck, 0.5), pct(durableToAck, 0.99))
	b.figure("ack_latency_p50_ms", pct(lat, 0.5), "ms")
	b.figure("ack_latency_p99_ms", pct(lat, 0.99), "ms")
	b.figure("ack_latency_max_ms", pct(lat, 1), "ms")
	return nil
}
