package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
)

// supervisor tracks the child processes of a run so that every one of them
// can be stopped on any exit path.
type supervisor struct {
	mu    sync.Mutex
	procs map[*proc]struct{}
}

func newSupervisor() *supervisor { return &supervisor{procs: map[*proc]struct{}{}} }

// proc is one child process; its output goes to a log file.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done
}

// childEnv is the environment of a child: the bench's own, without the Go
// runtime settings that would change what is measured, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// start starts bin with args; stdout and stderr go to logPath.
func (s *supervisor) start(name, logPath, bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = childEnv()
	setDeathSignal(cmd)
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.procs[p] = struct{}{}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		s.mu.Lock()
		delete(s.procs, p)
		s.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit by itself; after timeout it is killed
// and an error returned.
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("%s: %w%s", p.name, p.err, p.tail())
		}
		return nil
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not finish within %s%s", p.name, timeout, p.tail())
	}
}

// stop asks the process to exit (SIGTERM) and kills it after timeout.
func (p *proc) stop(timeout time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// tail returns the end of the process's log for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return fmt.Sprintf("\n--- %s (%s), last lines ---\n%s", p.name, p.log, b)
}

// killAll stops every child still running: SIGTERM, then SIGKILL after two
// seconds.
func (s *supervisor) killAll() {
	s.mu.Lock()
	ps := make([]*proc, 0, len(s.procs))
	for p := range s.procs {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(2 * time.Second)
		}()
	}
	wg.Wait()
}

// freeAddr returns a 127.0.0.1 address whose port was free for both TCP and
// UDP a moment ago.
func freeAddr() (string, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		l.Close()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		u.Close()
		return addr, nil
	}
	return "", errors.New("no free port on 127.0.0.1")
}

func freeAddrs(n int) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// waitFor polls cond every interval until it holds or timeout passes.
func waitFor(timeout, interval time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// hubNode is one single-node vigil-hub.
type hubNode struct {
	b                  *bench
	name, dir          string
	ingest, raft, apiA string
	client             *api.Client
	proc               *proc
}

// newHub initialises a single-node hub in its own directory and starts it.
func (b *bench) newHub(name string) (*hubNode, error) {
	addrs, err := freeAddrs(3)
	if err != nil {
		return nil, err
	}
	h := &hubNode{b: b, name: name, dir: filepath.Join(b.dir, name), ingest: addrs[0], raft: addrs[1], apiA: addrs[2]}
	out, err := exec.Command(filepath.Join(b.cfg.binDir, "vigil-hub"), "init", "-data", h.dir,
		"-ingest-addr", h.ingest, "-raft-addr", h.raft, "-api-addr", h.apiA).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("vigil-hub init: %w\n%s", err, out)
	}
	// Short Raft timings make the single node elect itself quickly; with one
	// voter they change nothing in the data path. The e2e tests do the same.
	f, err := os.OpenFile(filepath.Join(h.dir, "hub.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "raft:\n  heartbeat_timeout: 300ms\n  election_timeout: 300ms\n")
	if err := f.Close(); err != nil {
		return nil, err
	}
	tok, err := os.ReadFile(filepath.Join(h.dir, "admin.token"))
	if err != nil {
		return nil, err
	}
	if h.client, err = api.NewClient("https://"+h.apiA, strings.TrimSpace(string(tok)), filepath.Join(h.dir, "tls", "ca.crt")); err != nil {
		return nil, err
	}
	if err := h.start(); err != nil {
		return nil, err
	}
	return h, nil
}

// start runs the node and waits until it serves consistent reads (it leads).
func (h *hubNode) start() error {
	var err error
	h.proc, err = h.b.sup.start(h.name, filepath.Join(h.b.dir, h.name+".log"), filepath.Join(h.b.cfg.binDir, "vigil-hub"), "serve", "-data", h.dir)
	if err != nil {
		return err
	}
	err = waitFor(30*time.Second, 50*time.Millisecond, h.name+" leadership", func() bool {
		var agents []api.Agent
		return !h.proc.exited() && h.client.Do("GET", "/v1/agents", nil, nil, &agents) == nil
	})
	if err != nil {
		return fmt.Errorf("%w%s", err, h.proc.tail())
	}
	return nil
}

// stop shuts the node down cleanly.
func (h *hubNode) stop() {
	if h.proc != nil {
		h.proc.stop(15 * time.Second)
	}
}

// enroll enrolls a new agent of branch into dir with vigil-agent enroll and
// returns its id.
func (h *hubNode) enroll(dir, branch string) (string, error) {
	var res api.TokenResponse
	if err := h.client.Do("POST", "/v1/enroll-tokens", nil, api.TokenRequest{Branch: branch, TTL: "30m"}, &res); err != nil {
		return "", fmt.Errorf("create enrollment token: %w", err)
	}
	out, err := exec.Command(filepath.Join(h.b.cfg.binDir, "vigil-agent"), "enroll", "-hub", h.ingest, "-token", res.Token, "-data", dir).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("vigil-agent enroll: %w\n%s", err, out)
	}
	var ident struct {
		AgentID string `json:"agent_id"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "identity.json"))
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(data, &ident); err != nil {
		return "", fmt.Errorf("identity.json: %w", err)
	}
	return ident.AgentID, nil
}

// agentNode is one vigil-agent process with a TCP syslog input.
type agentNode struct {
	b           *bench
	name, dir   string
	status, tcp string
	proc        *proc
	http        *http.Client
	readyIn     time.Duration // start of the process to its status endpoint answering
}

// newAgent enrolls an agent with h and starts it with one TCP syslog input.
// The configuration is the default one apart from addresses, RFC 6587 octet
// counting on the input (what sysloggen -octet sends: exact record
// boundaries whatever a corpus line starts with) and a 1s reconnect ceiling
// (as in the e2e tests), so a restarted hub is found soon.
func (b *bench) newAgent(h *hubNode, name string) (*agentNode, error) {
	addrs, err := freeAddrs(2)
	if err != nil {
		return nil, err
	}
	a := &agentNode{b: b, name: name, dir: filepath.Join(b.dir, name), status: addrs[0], tcp: addrs[1],
		http: &http.Client{Timeout: 5 * time.Second}}
	if _, err := h.enroll(a.dir, "bench"); err != nil {
		return nil, err
	}
	var y bytes.Buffer
	fmt.Fprintf(&y, "data_dir: .\nstatus_addr: %s\n", a.status)
	fmt.Fprintf(&y, "ship:\n  backoff_max: 1s\n")
	fmt.Fprintf(&y, "inputs:\n  - id: tcp\n    type: syslog\n    protocol: tcp\n    listen: %s\n    framing: octet\n", a.tcp)
	if err := os.WriteFile(filepath.Join(a.dir, "agent.yaml"), y.Bytes(), 0o600); err != nil {
		return nil, err
	}
	args := []string{"run", "-c", filepath.Join(a.dir, "agent.yaml")}
	if b.cfg.profile != "" {
		args = append(args, "-cpuprofile", filepath.Join(b.cfg.profile, name+".pprof"))
	}
	a.proc, err = b.sup.start(name, filepath.Join(b.dir, name+".log"), filepath.Join(b.cfg.binDir, "vigil-agent"), args...)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	err = waitFor(20*time.Second, 5*time.Millisecond, name+" status endpoint", func() bool {
		_, err := a.getStatus()
		return err == nil || a.proc.exited()
	})
	// The status endpoint answers once the buffer is open and every input
	// listens: the same moment the agent tells systemd it is ready.
	a.readyIn = time.Since(started)
	if err == nil && a.proc.exited() {
		err = errors.New(name + " exited")
	}
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, a.proc.tail())
	}
	return a, nil
}

// agentStatus is the part of the agent's /status the bench reads.
type agentStatus struct {
	Buffer struct {
		LastSeq     uint64 `json:"last_seq"`
		AckedSeq    uint64 `json:"acked_seq"`
		Appended    uint64 `json:"appended_total"`
		DroppedFull uint64 `json:"dropped_full_total"`
		Commits     uint64 `json:"commits_total"`
	} `json:"buffer"`
	Ship struct {
		State        string  `json:"state"`
		EventsAcked  uint64  `json:"events_acked_total"`
		BatchesAcked uint64  `json:"batches_acked_total"`
		Duplicates   uint64  `json:"batches_duplicate_total"`
		Reconnects   uint64  `json:"reconnects_total"`
		RawBytes     uint64  `json:"raw_bytes_total"`
		WireBytes    uint64  `json:"compressed_bytes_total"`
		LastAckMs    float64 `json:"last_ack_latency_ms"`
	} `json:"connection"`
	Drops map[string]uint64 `json:"drops"`
}

// getStatus reads the agent's /status (what `vigil-agent status -json`
// prints) directly over HTTP, which is cheaper than running the CLI in the
// polling loops.
func (a *agentNode) getStatus() (agentStatus, error) {
	var st agentStatus
	resp, err := a.http.Get("http://" + a.status + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status: HTTP %d", resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitConnected waits until the agent's shipper is connected to a hub.
func (a *agentNode) waitConnected(timeout time.Duration) error {
	return waitFor(timeout, 50*time.Millisecond, a.name+" connected to the hub", func() bool {
		st, err := a.getStatus()
		return err == nil && st.Ship.State == "connected"
	})
}

// sysloggen starts one sysloggen process sending the lines of file to addr
// over TCP with RFC 6587 octet counting, so that every corpus line arrives as
// exactly one record whatever it starts with; the receiving input is
// configured with framing "octet".
func (b *bench) sysloggen(name, addr, file string, rate int) (*proc, error) {
	args := []string{"-tcp", addr, "-octet", "-file", file}
	if rate > 0 {
		args = append(args, "-rate", strconv.Itoa(rate))
	}
	return b.sup.start(name, filepath.Join(b.dir, name+".log"), filepath.Join(b.cfg.binDir, "sysloggen"), args...)
}

// procMemory reads VmRSS and VmHWM (peak RSS) of pid in KiB.
func procMemory(pid int) (rssKiB, hwmKiB int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &rssKiB
		case "VmHWM":
			dst = &hwmKiB
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		*dst = n
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if rssKiB == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return rssKiB, hwmKiB, nil
}

// goMemory summarises the Go runtime memory gauges of the agent's /metrics.
func (a *agentNode) goMemory() (string, error) {
	resp, err := a.http.Get("http://" + a.status + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	want := []string{"go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
		"go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes", "go_memstats_next_gc_bytes"}
	vals, err := scrapeMetrics(resp.Body, want...)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, k := range want {
		if v, ok := vals[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%.1fMiB", strings.TrimSuffix(strings.TrimPrefix(k, "go_memstats_"), "_bytes"), v/(1<<20)))
		}
	}
	return strings.Join(parts, " "), nil
}

// scrapeMetrics returns the samples of a Prometheus text exposition whose
// metric name (without labels) is in names.
func scrapeMetrics(r io.Reader, names ...string) (map[string]float64, error) {
	vals := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		key := line[:i]
		name, _, _ := strings.Cut(key, "{")
		if !contains(names, name) {
			continue
		}
		if f, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			vals[key] = f
		}
	}
	return vals, sc.Err()
}

// metrics scrapes the hub's /metrics for the named metrics.
func (h *hubNode) metrics(names ...string) (map[string]float64, error) {
	req, err := http.NewRequest("GET", h.client.Addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+h.client.Token)
	resp, err := h.client.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("hub metrics: HTTP %d", resp.StatusCode)
	}
	return scrapeMetrics(resp.Body, names...)
}

// procCPU returns the user plus system CPU time pid has used, or -1 when it
// cannot be read.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name in parentheses may hold spaces; fields follow it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	// USER_HZ is 100 on every Linux platform Go supports.
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
