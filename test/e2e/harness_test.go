package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/vigil-sec/vigil/hub/hubtest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
)

// binDir holds the binaries built once for every test in this package.
var binDir string

func TestMain(m *testing.M) {
	flagShort := false
	for _, a := range os.Args {
		if a == "-test.short" || a == "-test.short=true" {
			flagShort = true
		}
	}
	if flagShort {
		fmt.Println("e2e: -short given: multi-process tests skipped")
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "vigil-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	for name, pkg := range map[string]string{"vigil-hub": "./hub/cmd/vigil-hub", "vigil-agent": "./agent/cmd/vigil-agent", "sysloggen": "./test/sysloggen"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", name, err, out)
			os.Exit(1)
		}
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needBinaries(t *testing.T) {
	t.Helper()
	if binDir == "" {
		t.Skip("multi-process test skipped in -short mode")
	}
}

// freePort returns a port free for both TCP and UDP on 127.0.0.1.
func freePort(t *testing.T) int { return hubtest.FreePort(t) }

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// ingestAddr is the node's QUIC address.
func (h *hub) ingestAddr() string {
	if h.ip == "" {
		return addr(h.ingest)
	}
	return fmt.Sprintf("%s:%d", h.ip, h.ingest)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	hubtest.WaitFor(t, timeout, what, cond)
}

// proc is a child process whose output goes to a log file in the test dir.
type proc struct {
	t    *testing.T
	name string
	args []string
	log  string
	cmd  *exec.Cmd
	// prefix runs the binary through another command that execs it, such
	// as "ip netns exec NS": the process keeps its pid, so signals reach it.
	prefix []string
}

// command builds the command line of binary name with args, run through
// prefix when one is given.
func command(prefix []string, name string, args ...string) *exec.Cmd {
	bin := filepath.Join(binDir, name)
	if len(prefix) == 0 {
		return exec.Command(bin, args...)
	}
	return exec.Command(prefix[0], append(append(slices.Clip(prefix[1:]), bin), args...)...)
}

func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(f, "=== start %s %s\n", p.name, strings.Join(p.args, " "))
	p.cmd = command(p.prefix, p.name, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	cmd := p.cmd
	go func() { _ = cmd.Wait(); f.Close() }()
}

// kill9 kills the process with SIGKILL and waits until it is gone.
func (p *proc) kill9() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	for i := 0; i < 200; i++ {
		if p.cmd.Process.Signal(syscall.Signal(0)) != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	p.cmd = nil
}

func (p *proc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for p.cmd.Process.Signal(syscall.Signal(0)) == nil {
			time.Sleep(10 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
	}
	p.cmd = nil
}

func (p *proc) dumpLog() {
	b, _ := os.ReadFile(p.log)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	p.t.Logf("--- %s log (tail) ---\n%s", p.name, b)
}

// hub is one vigil-hub node.
type hub struct {
	*proc
	ip                 string // loopback address of the node; "" means 127.0.0.1
	dir                string
	ingest, raft, apiP int
	client             *api.Client
}

func startHub(t *testing.T) *hub { t.Helper(); return startHubWith(t, "") }

// startHubWith starts a node whose hub.yaml gets extraYAML appended.
func startHubWith(t *testing.T, extraYAML string) *hub {
	t.Helper()
	needBinaries(t)
	dir := filepath.Join(t.TempDir(), "hub")
	h := &hub{dir: dir, ingest: freePort(t), raft: freePort(t), apiP: freePort(t)}
	out, err := exec.Command(filepath.Join(binDir, "vigil-hub"), "init", "-data", dir,
		"-ingest-addr", addr(h.ingest), "-raft-addr", addr(h.raft), "-api-addr", addr(h.apiP)).CombinedOutput()
	if err != nil {
		t.Fatalf("hub init: %v\n%s", err, out)
	}
	// Tight Raft timings keep restarts in these tests quick.
	f, err := os.OpenFile(filepath.Join(dir, "hub.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "raft:\n  heartbeat_timeout: 300ms\n  election_timeout: 300ms\n%s", extraYAML)
	f.Close()
	h.proc = &proc{t: t, name: "vigil-hub", args: []string{"serve", "-data", dir}, log: filepath.Join(filepath.Dir(dir), "hub.log")}
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if h.client, err = api.NewClient("https://"+addr(h.apiP), strings.TrimSpace(string(tok)), filepath.Join(dir, "tls", "ca.crt")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			h.dumpLog()
		}
		h.stop()
	})
	h.startAndWait()
	return h
}

// startAndWait starts the node and waits until it serves consistent reads.
func (h *hub) startAndWait() {
	h.t.Helper()
	h.start()
	waitFor(h.t, 30*time.Second, "hub leadership", func() bool {
		var agents []api.Agent
		return h.client.Do("GET", "/v1/agents", nil, nil, &agents) == nil
	})
}

func (h *hub) token(branch, ttl string) string {
	h.t.Helper()
	var res api.TokenResponse
	if err := h.client.Do("POST", "/v1/enroll-tokens", nil, api.TokenRequest{Branch: branch, TTL: ttl}, &res); err != nil {
		h.t.Fatalf("create token: %v", err)
	}
	return res.Token
}

func (h *hub) agentRecord(id string) api.Agent {
	h.t.Helper()
	var agents []api.Agent
	if err := h.client.Do("GET", "/v1/agents", nil, nil, &agents); err != nil {
		h.t.Fatalf("list agents: %v", err)
	}
	for _, a := range agents {
		if a.ID == id {
			return a
		}
	}
	h.t.Fatalf("agent %s not registered", id)
	return api.Agent{}
}

// events returns every stored event of one agent, paging through the API.
func (h *hub) events(agentID string) []map[string]any {
	h.t.Helper()
	q := url.Values{"agent": {agentID}, "limit": {"10000"}}
	var out []map[string]any
	for {
		var res api.EventsResponse
		if err := h.client.Do("GET", "/v1/events", q, nil, &res); err != nil {
			h.t.Fatalf("search events: %v", err)
		}
		out = append(out, res.Events...)
		if res.Next == "" {
			return out
		}
		q.Set("cursor", res.Next)
	}
}

// agent is one vigil-agent with its own data dir.
type agentProc struct {
	*proc
	dir        string
	id         string
	status     string
	udp, tcp   string
	configYAML string
}

type agentOpts struct {
	branch         string
	maxBatchEvents int
	bufferMax      string // e.g. "64KiB"
	files          []string
	extraYAML      string
	prefix         []string // run the agent through this (a network namespace)
}

func startAgent(t *testing.T, h *hub, o agentOpts) *agentProc {
	t.Helper()
	if o.branch == "" {
		o.branch = "branch-a"
	}
	dir := filepath.Join(t.TempDir(), "agent")
	out, err := exec.Command(filepath.Join(binDir, "vigil-agent"), "enroll", "-hub", h.ingestAddr(),
		"-token", h.token(o.branch, "10m"), "-data", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	var ident struct {
		AgentID string `json:"agent_id"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "identity.json"))
	if err != nil || json.Unmarshal(b, &ident) != nil {
		t.Fatalf("read identity: %v", err)
	}
	a := &agentProc{dir: dir, id: ident.AgentID, status: addr(freePort(t)), udp: addr(freePort(t)), tcp: addr(freePort(t))}
	var y bytes.Buffer
	fmt.Fprintf(&y, "data_dir: .\nstatus_addr: %s\n", a.status)
	fmt.Fprintf(&y, "ship:\n  backoff_max: 1s\n")
	if o.maxBatchEvents > 0 {
		fmt.Fprintf(&y, "  max_batch_events: %d\n", o.maxBatchEvents)
	}
	if o.bufferMax != "" {
		fmt.Fprintf(&y, "buffer:\n  max_bytes: %s\n", o.bufferMax)
	}
	fmt.Fprintf(&y, "inputs:\n  - id: udp\n    type: syslog\n    protocol: udp\n    listen: %s\n  - id: tcp\n    type: syslog\n    protocol: tcp\n    listen: %s\n", a.udp, a.tcp)
	for i, f := range o.files {
		fmt.Fprintf(&y, "  - id: file%d\n    type: file\n    paths: [%q]\n", i, f)
	}
	y.WriteString(o.extraYAML)
	a.configYAML = y.String()
	if err := os.WriteFile(filepath.Join(dir, "agent.yaml"), y.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	a.proc = &proc{t: t, name: "vigil-agent", args: []string{"run", "-c", filepath.Join(dir, "agent.yaml")}, log: filepath.Join(filepath.Dir(dir), "agent.log"), prefix: o.prefix}
	t.Cleanup(func() {
		if t.Failed() {
			a.dumpLog()
		}
		a.stop()
	})
	a.startAndWait()
	return a
}

func (a *agentProc) startAndWait() {
	a.t.Helper()
	a.start()
	waitFor(a.t, 20*time.Second, "agent status endpoint", func() bool { _, err := a.tryStatus(); return err == nil })
}

// agentStatus is the part of /status the tests read.
type agentStatus struct {
	Buffer struct {
		LastSeq     uint64 `json:"last_seq"`
		AckedSeq    uint64 `json:"acked_seq"`
		Depth       uint64 `json:"depth"`
		Bytes       int64  `json:"bytes"`
		DroppedFull uint64 `json:"dropped_full_total"`
		Blocked     uint64 `json:"blocked_total"`
	} `json:"buffer"`
	Connection struct {
		State string `json:"state"`
	} `json:"connection"`
	Inputs map[string]map[string]uint64 `json:"inputs"`
}

func (a *agentProc) tryStatus() (agentStatus, error) {
	var st agentStatus
	out, err := command(a.prefix, "vigil-agent", "status", "-json", "-addr", a.status).Output()
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(out, &st)
}

func (a *agentProc) statusNow() agentStatus {
	a.t.Helper()
	st, err := a.tryStatus()
	if err != nil {
		a.t.Fatalf("agent status: %v", err)
	}
	return st
}

// drained waits until the hub acknowledged everything the agent buffered.
func (a *agentProc) drained(timeout time.Duration) {
	a.t.Helper()
	waitFor(a.t, timeout, "agent buffer to drain", func() bool {
		st, err := a.tryStatus()
		return err == nil && st.Buffer.LastSeq > 0 && st.Buffer.AckedSeq == st.Buffer.LastSeq
	})
}

// sysloggen runs the generator to completion.
func sysloggen(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(filepath.Join(binDir, "sysloggen"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sysloggen %v: %v\n%s", args, err, out)
	}
}

// exactlyOnce checks that the hub holds each of want exactly once among the
// events' originals, and nothing else with the marker.
func exactlyOnce(t *testing.T, events []map[string]any, marker string, want int) {
	t.Helper()
	seen := map[int]int{}
	unexpected := 0
	for _, e := range events {
		orig, _ := e["event.original"].(string)
		i := strings.Index(orig, "["+marker+"-")
		if i < 0 {
			continue
		}
		rest := orig[i+len(marker)+2:]
		j := strings.IndexByte(rest, ']')
		n, err := strconv.Atoi(rest[:max(j, 0)])
		if j < 0 || err != nil || n < 0 || n >= want {
			unexpected++
			continue
		}
		seen[n]++
	}
	lost, dup := 0, 0
	for i := 0; i < want; i++ {
		switch c := seen[i]; {
		case c == 0:
			lost++
		case c > 1:
			dup += c - 1
		}
	}
	t.Logf("checker: %d expected, %d lost, %d duplicated, %d unexpected", want, lost, dup, unexpected)
	if lost != 0 || dup != 0 || unexpected != 0 {
		t.Fatalf("exactly-once violated: lost=%d duplicated=%d unexpected=%d", lost, dup, unexpected)
	}
}
