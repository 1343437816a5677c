// Package hubtest runs a real single-node hub in-process for integration
// tests: the same steps as "vigil-hub init" (cluster CA, node certificate,
// admin token) in a temporary directory, then hub.New and Run with fast Raft
// timeouts on free loopback ports, plus enrollment of agents over real QUIC.
// It is imported only by tests and never by production code.
package hubtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/enroll"
	"github.com/vigil-sec/vigil/hub"
	"github.com/vigil-sec/vigil/hub/config"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/identity"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// Logger discards logs unless VIGIL_TEST_LOG is set (then they go to
// stderr), so a failing run can be replayed with the hub's view.
func Logger() *slog.Logger {
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// FreePort returns a port that is free for both TCP and UDP on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u.Close()
		return port
	}
	t.Fatal("no free port")
	return 0
}

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Hub is one in-process hub node.
type Hub struct {
	t      testing.TB
	Cfg    config.Config
	CA     *pki.CA
	Admin  string // the admin API token
	Srv    *hub.Server
	cancel context.CancelFunc
	done   chan error
}

// New initializes a data directory and starts a single-node hub.
// tweak, when not nil, adjusts the configuration before the start.
func New(t testing.TB, tweak func(*config.Config)) *Hub {
	t.Helper()
	dir := t.TempDir()
	cfg := config.DefaultConfig()
	cfg.DataDir, cfg.NodeID, cfg.LogLevel = dir, "hub-1", "debug"
	cfg.IngestAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	cfg.AdvertiseIngest = cfg.IngestAddr
	cfg.RaftAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	cfg.AdvertiseRaft = cfg.RaftAddr
	cfg.APIAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	cfg.Raft.HeartbeatTimeout = 100 * time.Millisecond
	cfg.Raft.ElectionTimeout = 100 * time.Millisecond
	if tweak != nil {
		tweak(&cfg)
	}
	// What `vigil-hub init` does.
	now := time.Now()
	ca, err := pki.CreateCA(cfg.TLSDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueNode(cfg.NodeID, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFile(cfg.NodeCertFile(), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteSecretFile(cfg.NodeKeyFile(), keyPEM); err != nil {
		t.Fatal(err)
	}
	admin := "vgla_test_" + rand.Text()
	if err := pki.WriteSecretFile(cfg.AdminTokenFile(), []byte(admin+"\n")); err != nil {
		t.Fatal(err)
	}
	h := &Hub{t: t, Cfg: cfg, CA: ca, Admin: admin}
	h.Start()
	t.Cleanup(h.Stop)
	return h
}

// Start runs hub.New over the data directory and waits for a leader. The
// previous run's sockets may take a moment to be released, so a bind
// failure is retried.
func (h *Hub) Start() {
	h.t.Helper()
	var srv *hub.Server
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		srv, err = hub.New(h.Cfg, Logger())
		if err == nil || !strings.Contains(err.Error(), "address already in use") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		h.t.Fatalf("hub.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.Srv, h.cancel, h.done = srv, cancel, make(chan error, 1)
	go func() { h.done <- srv.Run(ctx) }()
	if err := srv.WaitLeader(10 * time.Second); err != nil {
		h.t.Fatal(err)
	}
}

// Stop cancels Run and waits for it to return; it is a no-op when stopped.
func (h *Hub) Stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("hub run: %v", err)
		}
	case <-time.After(20 * time.Second):
		h.t.Errorf("hub did not stop")
	}
	h.cancel = nil
}

// IngestAddr is the node's QUIC address for agents.
func (h *Hub) IngestAddr() string { return h.Cfg.IngestAddr }

// CreateToken creates an enrollment token through Raft, as the API does.
func (h *Hub) CreateToken(branch string, expiresAt time.Time) identity.Token {
	h.t.Helper()
	tok, err := identity.NewToken(rand.Reader, h.CA.Fingerprint())
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := h.Srv.Apply(fsm.TokenCreateType, &raftpb.TokenCreate{
		TokenId: tok.ID, SecretHash: tok.SecretHash(), Branch: branch,
		ExpiresAt: expiresAt.UnixNano(), Now: time.Now().UnixNano(),
	})
	if err != nil {
		h.t.Fatalf("create token: %v", err)
	}
	if tr, ok := res.(*fsm.TokenResult); !ok || tr.Err != nil {
		h.t.Fatalf("create token: %#v", res)
	}
	return tok
}

// Agent is an agent enrolled over real QUIC with its files on disk.
type Agent struct {
	ID    *enroll.Identity
	Paths enroll.Paths
}

// Enroll creates a token for branch and enrolls a new agent with it.
func (h *Hub) Enroll(branch string) *Agent {
	h.t.Helper()
	tok := h.CreateToken(branch, time.Now().Add(time.Hour))
	dir := h.t.TempDir()
	paths := enroll.Paths{
		Key: filepath.Join(dir, "tls", "agent.key"), Cert: filepath.Join(dir, "tls", "agent.crt"),
		CA: filepath.Join(dir, "tls", "ca.crt"), Identity: filepath.Join(dir, "identity.json"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := enroll.Enroll(ctx, enroll.Request{Hub: h.IngestAddr(), Token: tok.String(), Hostname: "branch-host", AgentVersion: "test", Paths: paths})
	if err != nil {
		h.t.Fatalf("enroll: %v", err)
	}
	return &Agent{ID: id, Paths: paths}
}

// ClientTLS is the agent's mTLS configuration for protocol.ALPN.
func (a *Agent) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	c, err := identity.ClientTLS(read(a.Paths.CA), read(a.Paths.Cert), read(a.Paths.Key), []string{protocol.ALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
