package main

import (
	"fmt"
	"path/filepath"
	"time"
)

// e2eFigures measures events acknowledged per second from a real vigil-agent
// process to a real single-node vigil-hub process, both with their default
// configuration (the agent's buffer syncs every append; the hub commits
// every batch through Raft before acknowledging it).
//
// Drain: the agent is enrolled, the hub is stopped, and -senders sysloggen
// processes fill the agent with -e2e-lines corpus lines over TCP as fast as
// they can. Then the hub is started again and the agent's /status is polled
// every 20 ms; the rate is the acknowledged events between the first sample
// that shows any acknowledgement and the first that shows all of them,
// divided by the time between those samples, so reconnect back-off and hub
// start-up are not counted.
//
// Live: with the hub up, the same number of new lines is sent the same way
// and the rate is measured the same way, from the first new acknowledgement
// to the last; intake and shipping overlap, so this is bounded by the slower
// of the two.
//
//	e2e_drain_events_per_sec    pre-filled buffer drained to the hub
//	e2e_live_events_per_sec     filled and shipped at once
//	e2e_events_per_sec          the live figure (the end-to-end figure)
//	e2e_intake_lines_per_sec    TCP intake into the durable buffer while the
//	                            hub is down (sysloggen start to last append)
func (b *bench) e2eFigures() error {
	h, err := b.newHub("hub-e2e")
	if err != nil {
		return err
	}
	defer h.stop()
	a, err := b.newAgent(h, "agent-e2e")
	if err != nil {
		return err
	}
	defer a.proc.stop(10 * time.Second)
	if err := a.waitConnected(20 * time.Second); err != nil {
		return err
	}
	n := b.cfg.e2eLines
	senders := max(b.cfg.senders, 1)
	files := make([]string, senders)
	for i := range files {
		files[i] = filepath.Join(b.dir, fmt.Sprintf("e2e-%d.lines", i))
		from, to := i*n/senders, (i+1)*n/senders
		if err := b.corpus.writeLines(files[i], from, to-from); err != nil {
			return err
		}
	}

	// Drain.
	t := time.Now()
	h.stop()
	b.logf("e2e: hub stopped in %s; filling the agent with %d lines from %d sysloggen processes",
		time.Since(t).Round(time.Millisecond), n, senders)
	intake, err := b.fill(a, files, 0, uint64(n))
	if err != nil {
		return err
	}
	b.logf("e2e: filled in %s (%.0f lines/s intake); starting the hub", intake.Round(time.Millisecond), float64(n)/intake.Seconds())
	// Poll from before the hub starts, so the first acknowledgement is seen.
	type result struct {
		rate float64
		err  error
	}
	drained := make(chan result, 1)
	go func() {
		r, err := b.measureAcks(a, 0, uint64(n), "drain")
		drained <- result{r, err}
	}()
	t = time.Now()
	if err := h.start(); err != nil {
		return err
	}
	b.logf("e2e: hub leads again after %s", time.Since(t).Round(time.Millisecond))
	hubCPU0, agentCPU0 := procCPU(h.proc.pid()), procCPU(a.proc.pid())
	t = time.Now()
	dr := <-drained
	if dr.err != nil {
		return dr.err
	}
	drain := dr.rate
	b.logCPU("drain", time.Since(t), procCPU(h.proc.pid())-hubCPU0, procCPU(a.proc.pid())-agentCPU0)
	if m, err := h.metrics("vigil_ingest_commit_seconds_sum", "vigil_ingest_commit_seconds_count"); err == nil {
		if c := m["vigil_ingest_commit_seconds_count"]; c > 0 {
			b.logf("e2e: hub: %.0f batches, mean receipt-to-commit %.1f ms", c, 1000*m["vigil_ingest_commit_seconds_sum"]/c)
		}
	}

	// Live.
	b.logf("e2e: live: sending %d more lines from %d sysloggen processes with the hub up", n, senders)
	live := make(chan error, 1)
	go func() {
		d, err := b.fill(a, files, uint64(n), uint64(2*n))
		if err == nil {
			b.logf("e2e: live intake took %s (%.0f lines/s)", d.Round(time.Millisecond), float64(n)/d.Seconds())
		}
		live <- err
	}()
	hubCPU0, agentCPU0 = procCPU(h.proc.pid()), procCPU(a.proc.pid())
	t = time.Now()
	liveRate, err := b.measureAcks(a, uint64(n), uint64(2*n), "live")
	if err != nil {
		return err
	}
	b.logCPU("live", time.Since(t), procCPU(h.proc.pid())-hubCPU0, procCPU(a.proc.pid())-agentCPU0)
	if err := <-live; err != nil {
		return err
	}
	st, err := a.getStatus()
	if err != nil {
		return err
	}
	b.logf("e2e: agent totals: %d events acknowledged in %d batches, %d duplicate batches, %d reconnects, %d dropped; wire %.1f MB for %.1f MB raw (%.1fx)",
		st.Ship.EventsAcked, st.Ship.BatchesAcked, st.Ship.Duplicates, st.Ship.Reconnects, st.Drops["buffer_full"]+st.Drops["invalid_frame"],
		float64(st.Ship.WireBytes)/1e6, float64(st.Ship.RawBytes)/1e6, float64(st.Ship.RawBytes)/float64(max(st.Ship.WireBytes, 1)))
	if st.Buffer.AckedSeq != uint64(2*n) {
		return fmt.Errorf("agent acked seq %d, want %d", st.Buffer.AckedSeq, 2*n)
	}
	b.figure("e2e_events_per_sec", liveRate, "events/s")
	b.figure("e2e_live_events_per_sec", liveRate, "events/s")
	b.figure("e2e_drain_events_per_sec", drain, "events/s")
	b.figure("e2e_intake_lines_per_sec", float64(n)/intake.Seconds(), "lines/s")
	return nil
}

// fill sends every file with its own sysloggen process in parallel and waits
// until the agent's buffer holds seq want; base is the seq before. It
// returns the time from the first sysloggen start to the last append seen.
func (b *bench) fill(a *agentNode, files []string, base, want uint64) (time.Duration, error) {
	start := time.Now()
	gens := make([]*proc, len(files))
	for i, f := range files {
		var err error
		if gens[i], err = b.sysloggen(fmt.Sprintf("sysloggen-e2e-%d", i), a.tcp, f, 0); err != nil {
			return 0, err
		}
	}
	for _, g := range gens {
		if err := g.wait(120 * time.Second); err != nil {
			return 0, err
		}
	}
	// sysloggen returns once the agent closed the connection, which it does
	// after appending the last record; confirm from the buffer.
	var last uint64
	err := waitFor(30*time.Second, 5*time.Millisecond, "agent buffer filled", func() bool {
		st, err := a.getStatus()
		last = st.Buffer.LastSeq
		return err == nil && last >= want
	})
	el := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%w: buffer at seq %d, want %d (from %d)", err, last, want, base)
	}
	return el, nil
}

// measureAcks polls the agent until its acked seq reaches want and returns
// the rate of acknowledgement between the first sample above from and the
// final one.
func (b *bench) measureAcks(a *agentNode, from, want uint64, what string) (float64, error) {
	var t0, t1 time.Time
	var a0, evAcked0 uint64
	deadline := time.Now().Add(180 * time.Second)
	var st agentStatus
	for {
		var err error
		st, err = a.getStatus()
		now := time.Now()
		if err == nil {
			if t0.IsZero() && st.Buffer.AckedSeq > from {
				t0, a0, evAcked0 = now, st.Buffer.AckedSeq, st.Ship.EventsAcked
			}
			if st.Buffer.AckedSeq >= want {
				t1 = now
				break
			}
		}
		if now.After(deadline) {
			return 0, fmt.Errorf("%s: acknowledged seq %d after 180s, want %d", what, st.Buffer.AckedSeq, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !t1.After(t0) {
		return 0, fmt.Errorf("%s: everything was acknowledged between two samples; use more -e2e-lines", what)
	}
	rate := float64(st.Buffer.AckedSeq-a0) / t1.Sub(t0).Seconds()
	b.logf("e2e: %s: %d events acknowledged in %s (seq %d..%d, events_acked_total +%d): %.0f events/s",
		what, st.Buffer.AckedSeq-a0, t1.Sub(t0).Round(time.Millisecond), a0, st.Buffer.AckedSeq, st.Ship.EventsAcked-evAcked0, rate)
	return rate, nil
}

// logCPU reports how busy the hub and the agent were over an interval.
func (b *bench) logCPU(what string, wall, hub, agent time.Duration) {
	if hub < 0 || agent < 0 || wall <= 0 {
		return
	}
	b.logf("e2e: %s: over %s the hub used %.1f CPU-s (%.0f%% of one core), the agent %.1f CPU-s (%.0f%%)",
		what, wall.Round(time.Millisecond), hub.Seconds(), 100*hub.Seconds()/wall.Seconds(), agent.Seconds(), 100*agent.Seconds()/wall.Seconds())
}
