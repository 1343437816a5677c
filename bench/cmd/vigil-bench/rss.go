package main

import (
	"fmt"
	"path/filepath"
	"time"
)

// rssFigures measures the memory of a real vigil-agent process at a steady
// rate.
//
// A fresh single-node hub and an enrolled agent (default configuration, one
// TCP syslog input with octet framing) run as separate processes; sysloggen sends corpus lines
// at -rss-rate lines/s over TCP for -rss-seconds. VmRSS of the agent is read
// from /proc/PID/status every 100 ms while sending; the steady figure uses
// the samples of the last 10 seconds (the first seconds are start-up).
// VmHWM, the kernel's peak RSS of the process over its whole life, is read
// at the end.
//
//	agent_rss_steady_20k_mib  the largest VmRSS sample in the window
//	agent_rss_peak_mib        VmHWM, or the largest VmRSS sample if larger
//	                          (the kernel updates VmHWM lazily)
//
// The figure name carries the default rate; with another -rss-rate it still
// reports under that name, and stderr says what rate was used.
func (b *bench) rssFigures() error {
	h, err := b.newHub("hub-rss")
	if err != nil {
		return err
	}
	defer h.stop()
	a, err := b.newAgent(h, "agent-rss")
	if err != nil {
		return err
	}
	defer a.proc.stop(10 * time.Second)
	if err := a.waitConnected(20 * time.Second); err != nil {
		return err
	}
	rate, secs := b.cfg.rssRate, b.cfg.rssSeconds
	n := rate * secs
	file := filepath.Join(b.dir, "rss.lines")
	if err := b.corpus.writeLines(file, 0, n); err != nil {
		return err
	}
	idleRSS, _, err := procMemory(a.proc.pid())
	if err != nil {
		return err
	}
	b.logf("rss: agent pid %d idle RSS %.1f MiB (enrolled, connected, no input yet); ready %s after its start; sending %d lines at %d/s over TCP for %ds",
		a.proc.pid(), float64(idleRSS)/1024, a.readyIn.Round(time.Millisecond), n, rate, secs)
	b.figure("agent_rss_idle_mib", float64(idleRSS)/1024, "MiB")
	b.figure("agent_cold_start_ready_ms", float64(a.readyIn)/float64(time.Millisecond), "ms")
	start := time.Now()
	gen, err := b.sysloggen("sysloggen-rss", a.tcp, file, rate)
	if err != nil {
		return err
	}
	windowStart := start.Add(time.Duration(max(secs-10, 0)) * time.Second)
	end := start.Add(time.Duration(secs) * time.Second)
	var maxRSS, peakRSS int64
	samples := 0
	var st0 agentStatus
	for now := time.Now(); now.Before(end) && !gen.exited(); now = time.Now() {
		rss, _, err := procMemory(a.proc.pid())
		if err != nil {
			return err
		}
		peakRSS = max(peakRSS, rss)
		if now.After(windowStart) {
			if samples == 0 {
				st0, _ = a.getStatus()
			}
			maxRSS = max(maxRSS, rss)
			samples++
		}
		time.Sleep(100 * time.Millisecond)
	}
	stEnd, err := a.getStatus()
	if err != nil {
		return err
	}
	if m, err := a.goMemory(); err == nil {
		b.logf("rss: agent Go memory at the end of the window: %s", m)
	}
	windowSecs := time.Since(windowStart).Seconds()
	if err := gen.wait(60 * time.Second); err != nil {
		return err
	}
	sendTime := time.Since(start)
	_, hwm, err := procMemory(a.proc.pid())
	if err != nil {
		return err
	}
	// The kernel updates VmHWM lazily (per-CPU RSS counters), so it can
	// trail a VmRSS sample slightly; the peak is the larger of the two.
	peak := max(hwm, peakRSS)
	if samples < 10 {
		return fmt.Errorf("only %d RSS samples in the window: sysloggen ended after %s", samples, sendTime.Round(time.Millisecond))
	}
	b.logf("rss: %d samples over the last %.1fs; in that window the agent appended %.0f events/s and the hub acknowledged %.0f events/s",
		samples, windowSecs, float64(stEnd.Buffer.Appended-st0.Buffer.Appended)/windowSecs, float64(stEnd.Buffer.AckedSeq-st0.Buffer.AckedSeq)/windowSecs)
	if err := waitFor(60*time.Second, 50*time.Millisecond, "agent drained", func() bool {
		st, err := a.getStatus()
		return err == nil && st.Buffer.AckedSeq >= uint64(n)
	}); err != nil {
		return err
	}
	b.logf("rss: all %d lines sent in %s (%.0f lines/s) and acknowledged; max RSS in the window %.1f MiB, over the run %.1f MiB, VmHWM %.1f MiB",
		n, sendTime.Round(time.Millisecond), float64(n)/sendTime.Seconds(), float64(maxRSS)/1024, float64(peakRSS)/1024, float64(hwm)/1024)
	b.figure("agent_rss_steady_20k_mib", float64(maxRSS)/1024, "MiB")
	b.figure("agent_rss_peak_mib", float64(peak)/1024, "MiB")
	return nil
}
