package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vigil-sec/vigil/agent/inputs/scanner"
	"github.com/vigil-sec/vigil/agent/parsers"
	"github.com/vigil-sec/vigil/agent/plugins"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/config"
	"github.com/vigil-sec/vigil/agent/enroll"
	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/agent/inputs/syslog"
	"github.com/vigil-sec/vigil/agent/ship"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/identity"
	"github.com/vigil-sec/vigil/systemd"
)

// Version is the agent's version, set at build time.
var Version = "dev"

// Agent is a running agent.
type Agent struct {
	cfg      config.Config
	log      *slog.Logger
	id       *enroll.Identity
	buf      *buffer.Buffer
	shipper  *ship.Shipper
	inputs   []inputs.Input
	plugins  map[string]*plugins.Supervisor
	imports  scanner.Counters // reports imported with vigil-agent import
	importMu sync.Mutex       // one import at a time
	status   net.Listener
	started  time.Time
	// Ready is closed once the buffer is open and every input is listening.
	Ready chan struct{}
}

// New opens the buffer, binds every input and prepares the shipper. Nothing
// reads or sends until Run.
func New(cfg config.Config, log *slog.Logger) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	id, err := enroll.Load(cfg.IdentityFile())
	if err != nil {
		return nil, err
	}
	if cfg.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(cfg.MemoryLimit))
	}
	a := &Agent{cfg: cfg, log: log, id: id, started: time.Now(), Ready: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()
	if a.buf, err = buffer.Open(buffer.Config{
		Dir: cfg.BufferDir(), MaxBytes: int64(cfg.Buffer.MaxBytes), Fsync: cfg.Buffer.Fsync, FsyncInterval: cfg.Buffer.FsyncInterval,
	}, log.With("component", "buffer"), time.Now); err != nil {
		return nil, err
	}
	a.plugins = map[string]*plugins.Supervisor{}
	for _, pc := range cfg.Plugins {
		if _, err := parsers.New(pc.Name); err == nil {
			return nil, fmt.Errorf("plugin %s: the name is a built-in parser's; pick another", pc.Name)
		}
		plog := log.With("component", "plugin", "plugin", pc.Name)
		sup := plugins.New(plugins.Config{Name: pc.Name, Path: pc.Path, SHA256: pc.SHA256, Timeout: pc.Timeout, MaxAttempts: pc.MaxAttempts},
			a.buf, logWriter{plog}, plog)
		a.plugins[pc.Name] = sup
		// Started now so that a wrong path or checksum is an error at start
		// rather than a surprise at the first record.
		if err := sup.Start(); err != nil {
			return nil, fmt.Errorf("plugin %s: %w", pc.Name, err)
		}
	}
	for _, ic := range cfg.Inputs {
		in, err := a.newInput(ic)
		if err != nil {
			return nil, err
		}
		a.inputs = append(a.inputs, in)
	}
	caPEM, err := os.ReadFile(cfg.CAFile())
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	certPEM, err := os.ReadFile(cfg.CertFile())
	if err != nil {
		return nil, fmt.Errorf("read agent certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(cfg.KeyFile())
	if err != nil {
		return nil, fmt.Errorf("read agent key: %w", err)
	}
	tlsConf, err := identity.ClientTLS(caPEM, certPEM, keyPEM, []string{protocol.ALPN}, "")
	if err != nil {
		return nil, err
	}
	hubs := cfg.Hubs
	if len(hubs) == 0 {
		hubs = id.Hubs
	}
	host, _ := os.Hostname()
	if a.shipper, err = ship.New(ship.Config{
		Hubs: hubs, TLS: tlsConf, MaxBatchEvents: cfg.Ship.MaxBatchEvents, MaxBatchBytes: int(cfg.Ship.MaxBatchBytes),
		Linger: cfg.Ship.Linger, Inflight: cfg.Ship.Inflight, BackoffMax: cfg.Ship.BackoffMax,
		Hostname: host, AgentVersion: Version,
	}, a.buf, log.With("component", "ship")); err != nil {
		return nil, err
	}
	if cfg.StatusAddr != "" && cfg.StatusAddr != "off" {
		if a.status, err = net.Listen("tcp", cfg.StatusAddr); err != nil {
			return nil, fmt.Errorf("listen status %s: %w", cfg.StatusAddr, err)
		}
	}
	ok = true
	return a, nil
}

func (a *Agent) newInput(ic config.InputConfig) (inputs.Input, error) {
	log := a.log.With("component", "input")
	var plugin parsers.BatchParser
	if sup, ok := a.plugins[ic.Parser]; ok {
		plugin = sup
	}
	switch ic.Type {
	case "syslog":
		var tc *tls.Config
		if ic.Protocol == "tls" {
			cert, err := tls.LoadX509KeyPair(ic.TLSCert, ic.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("input %s: %w", ic.ID, err)
			}
			tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		return syslog.New(syslog.Config{
			ID: ic.ID, Protocol: ic.Protocol, Listen: ic.Listen, Framing: ic.Framing,
			Parser: ic.Parser, Plugin: plugin, MaxLine: int(ic.MaxLine), TLS: tc,
		}, a.buf, log)
	case "file":
		return newFileInput(ic, plugin, a.buf, log)
	case "scanner":
		return scanner.New(scanner.Config{ID: ic.ID, Dir: ic.Dir, Parser: ic.Parser, DoneDir: ic.DoneDir,
			FailedDir: ic.FailedDir, PollInterval: ic.PollInterval}, a.buf, log)
	}
	return nil, fmt.Errorf("input %s: unknown type %q", ic.ID, ic.Type)
}

// Run runs every input, the shipper and the status endpoint until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(a.inputs)+2)
	for _, in := range a.inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.Run(ctx); err != nil {
				// One failing input does not stop the others.
				a.log.Error("input stopped", "input", in.ID(), "error", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errc <- a.shipper.Run(ctx)
	}()
	var srv *http.Server
	if a.status != nil {
		srv = &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(a.status); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Warn("status endpoint stopped", "error", err)
			}
		}()
	}
	close(a.Ready)
	if _, err := systemd.Ready("buffer open, inputs listening"); err != nil {
		a.log.Warn("readiness notification", "error", err)
	}
	a.log.Info("agent running", "agent_id", a.id.AgentID, "branch", a.id.Branch, "inputs", len(a.inputs),
		"buffer_epoch", a.buf.Epoch(), "version", Version)
	<-ctx.Done()
	_, _ = systemd.Stopping()
	if srv != nil {
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		c()
	}
	wg.Wait()
	a.close()
	return nil
}

func (a *Agent) close() {
	if a.status != nil {
		a.status.Close()
	}
	for _, sup := range a.plugins {
		sup.Close()
	}
	if a.buf != nil {
		if err := a.buf.Close(); err != nil {
			a.log.Warn("close buffer", "error", err)
		}
	}
}

// Status is what /status serves and `vigil-agent status` prints.
type Status struct {
	AgentID string                       `json:"agent_id"`
	Branch  string                       `json:"branch"`
	Version string                       `json:"version"`
	Uptime  string                       `json:"uptime"`
	Buffer  buffer.Stats                 `json:"buffer"`
	Ship    ship.Status                  `json:"connection"`
	Inputs  map[string]map[string]uint64 `json:"inputs"`
	Drops   map[string]uint64            `json:"drops"`
	// Plugins holds each parser plugin's counters (restarts, crashes,
	// timeouts, dead letters) and its pid (0 when not running).
	Plugins map[string]map[string]uint64 `json:"plugins,omitempty"`
	// DeadLetters is how many records wait in the dead-letter store.
	DeadLetters int `json:"dead_letters"`
}

// Status returns the agent's current status.
func (a *Agent) Status() Status {
	st := Status{
		AgentID: a.id.AgentID, Branch: a.id.Branch, Version: Version,
		Uptime: time.Since(a.started).Round(time.Second).String(),
		Buffer: a.buf.Stats(), Ship: a.shipper.Status(),
		Inputs: map[string]map[string]uint64{}, Drops: map[string]uint64{},
	}
	for _, in := range a.inputs {
		c := in.Counters()
		// Inputs with counters of their own (the file input's rotations,
		// copytruncates, open files) report them all.
		if sn, ok := in.(interface{ Snapshot() map[string]uint64 }); ok {
			st.Inputs[in.ID()] = sn.Snapshot()
		} else {
			st.Inputs[in.ID()] = c.Snapshot()
		}
		st.Drops["buffer_full"] += c.DroppedFull.Load()
		st.Drops["invalid_frame"] += c.DroppedInvalid.Load()
		st.Drops["connection_limit"] += c.ConnRefused.Load()
	}
	if a.imports.FilesImported.Load()+a.imports.FilesPartial.Load()+a.imports.FilesFailed.Load()+a.imports.FilesDuplicate.Load() > 0 {
		st.Inputs[importInput] = a.imports.Snapshot()
	}
	for name, sup := range a.plugins {
		if st.Plugins == nil {
			st.Plugins = map[string]map[string]uint64{}
		}
		m := sup.Counters().Snapshot()
		m["pid"] = uint64(sup.Pid())
		st.Plugins[name] = m
	}
	if _, n, err := a.buf.DeadLetters(0, 0); err == nil {
		st.DeadLetters = n
	}
	return st
}

func (a *Agent) handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge("vigil_buffer_events", "Events in the buffer not yet acknowledged by the hub.", func() float64 { return float64(a.buf.Stats().Depth) })
	gauge("vigil_buffer_bytes", "Bytes held by the buffer.", func() float64 { return float64(a.buf.Stats().Bytes) })
	gauge("vigil_buffer_max_bytes", "Buffer limit in bytes.", func() float64 { return float64(a.buf.Stats().MaxBytes) })
	gauge("vigil_buffer_acked_seq", "Highest seq acknowledged by the hub.", func() float64 { return float64(a.buf.Stats().AckedSeq) })
	counter("vigil_buffer_events_appended_total", "Events durably appended.", func() float64 { return float64(a.buf.Stats().Appended) })
	counter("vigil_buffer_events_dropped_total", "Events dropped because the buffer was full (UDP).", func() float64 { return float64(a.buf.Stats().DroppedFull) })
	counter("vigil_buffer_blocked_total", "Appends that had to wait for space.", func() float64 { return float64(a.buf.Stats().Blocked) })
	gauge("vigil_ship_batches_inflight", "Batches sent and not yet acknowledged.", func() float64 { return float64(a.shipper.Status().Inflight) })
	gauge("vigil_ship_connected", "1 when connected to a hub.", func() float64 {
		if a.shipper.Status().State == "connected" {
			return 1
		}
		return 0
	})
	counter("vigil_ship_batches_acked_total", "Batches acknowledged by the hub.", func() float64 { return float64(a.shipper.Status().BatchesAcked) })
	counter("vigil_ship_events_acked_total", "Events acknowledged by the hub.", func() float64 { return float64(a.shipper.Status().EventsAcked) })
	counter("vigil_ship_raw_bytes_total", "Uncompressed batch bytes sent.", func() float64 { return float64(a.shipper.Status().RawBytes) })
	counter("vigil_ship_compressed_bytes_total", "Compressed batch bytes sent.", func() float64 { return float64(a.shipper.Status().WireBytes) })
	counter("vigil_ship_reconnects_total", "Connections to a hub lost.", func() float64 { return float64(a.shipper.Status().Reconnects) })
	for _, in := range a.inputs {
		c := in.Counters()
		l := prometheus.Labels{"input": in.ID()}
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vigil_input_events_total", Help: "Records appended by the input.", ConstLabels: l}, func() float64 { return float64(c.Records.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vigil_input_events_dropped_total", Help: "Records dropped by the input, by reason.", ConstLabels: prometheus.Labels{"input": in.ID(), "reason": "buffer_full"}}, func() float64 { return float64(c.DroppedFull.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vigil_input_events_dropped_total", Help: "Records dropped by the input, by reason.", ConstLabels: prometheus.Labels{"input": in.ID(), "reason": "invalid_frame"}}, func() float64 { return float64(c.DroppedInvalid.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vigil_input_events_truncated_total", Help: "Records cut at the line limit.", ConstLabels: l}, func() float64 { return float64(c.Truncated.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vigil_input_parse_errors_total", Help: "Records the parser could not parse (kept raw).", ConstLabels: l}, func() float64 { return float64(c.ParseErrors.Load()) }),
		)
	}
	for name, sup := range a.plugins {
		c := sup.Counters()
		for _, m := range []struct {
			name, help string
			v          *atomic.Uint64
		}{
			{"vigil_plugin_restarts_total", "Parser plugin restarts after a crash, hang or failed start.", &c.Restarts},
			{"vigil_plugin_crashes_total", "Calls that ended with the parser plugin gone or broken.", &c.Crashes},
			{"vigil_plugin_timeouts_total", "Calls that missed their deadline (the plugin was killed).", &c.Timeouts},
			{"vigil_plugin_dead_letters_total", "Records set aside as dead letters.", &c.DeadLetters},
			{"vigil_plugin_records_total", "Records parsed by the plugin.", &c.Records},
		} {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help, ConstLabels: prometheus.Labels{"plugin": name}},
				func() float64 { return float64(m.v.Load()) }))
		}
	}
	gauge("vigil_dead_letters", "Records waiting in the dead-letter store.", func() float64 {
		_, n, _ := a.buf.DeadLetters(0, 0)
		return float64(n)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.deadLetterRoutes(mux)
	a.importRoutes(mux)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(a.Status())
	})
	return mux
}
