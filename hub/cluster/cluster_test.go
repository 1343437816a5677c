package cluster_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/cluster"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/identity"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// countFSM counts applied commands.
type countFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *countFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return len(f.cmds)
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (f *countFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

func (f *countFSM) applied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

type nopSnapshot struct{}

func (nopSnapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (nopSnapshot) Release()                          {}

type testNode struct {
	node *cluster.Node
	fsm  *countFSM
	ca   *pki.CA
	cfg  cluster.Config
}

func issueNode(t *testing.T, ca *pki.CA, id string) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueNode(id, nil, []net.IP{net.ParseIP("127.0.0.1")}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// startNode bootstraps a single-node cluster with a fresh CA.
func startNode(t *testing.T, dir string, ca *pki.CA) *testNode {
	t.Helper()
	certPEM, keyPEM := issueNode(t, ca, "hub-1")
	serverTLS, err := pki.ServerTLS(ca, certPEM, keyPEM, []string{protocol.RaftALPN})
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := identity.ClientTLS(ca.CertPEM(), certPEM, keyPEM, []string{protocol.RaftALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := cluster.Config{
		NodeID: "hub-1", Dir: filepath.Join(dir, "raft"), BindAddr: "127.0.0.1:0", Bootstrap: true,
		ServerTLS: serverTLS, ClientTLS: clientTLS,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
	}
	f := &countFSM{}
	n, err := cluster.Start(cfg, f, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	if err := n.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	return &testNode{node: n, fsm: f, ca: ca, cfg: cfg}
}

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.CreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestNode_BootstrapAndApply(t *testing.T) {
	n := startNode(t, t.TempDir(), newCA(t))
	if n.node.Raft.State() != raft.Leader {
		t.Fatalf("state = %v, want Leader", n.node.Raft.State())
	}
	for i := 0; i < 5; i++ {
		f := n.node.Raft.Apply([]byte(fmt.Sprintf("cmd-%d", i)), 5*time.Second)
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		if got := f.Response(); got != i+1 {
			t.Errorf("apply %d response = %v, want %d", i, got, i+1)
		}
	}
	if got := strings.Join(n.fsm.applied(), ","); got != "cmd-0,cmd-1,cmd-2,cmd-3,cmd-4" {
		t.Errorf("applied = %s", got)
	}
	if !strings.HasPrefix(n.node.Addr(), "127.0.0.1:") || strings.HasSuffix(n.node.Addr(), ":0") {
		t.Errorf("Addr = %q, want the bound address", n.node.Addr())
	}
}

func TestNode_RestartKeepsLogAndLeadership(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	n := startNode(t, dir, ca)
	if err := n.node.Raft.Apply([]byte("before"), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	last := n.node.Raft.LastIndex()
	if err := n.node.Shutdown(); err != nil {
		t.Fatal(err)
	}
	// Same directory; a new bind address is fine for a single voter.
	cfg := n.cfg
	f := &countFSM{}
	node, err := cluster.Start(cfg, f, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Shutdown()
	if err := node.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := node.Raft.Apply([]byte("after"), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if got := node.Raft.LastIndex(); got <= last {
		t.Errorf("last index after restart = %d, want beyond %d", got, last)
	}
}

func TestStart_RequiresIDDirAndAddress(t *testing.T) {
	for _, cfg := range []cluster.Config{
		{Dir: t.TempDir(), BindAddr: "127.0.0.1:0"},
		{NodeID: "n", BindAddr: "127.0.0.1:0"},
		{NodeID: "n", Dir: t.TempDir()},
	} {
		if n, err := cluster.Start(cfg, &countFSM{}, quiet); err == nil {
			n.Shutdown()
			t.Errorf("Start(%+v) succeeded", cfg)
		} else if !strings.Contains(err.Error(), "node id, dir and bind address are required") {
			t.Errorf("Start error = %v", err)
		}
	}
}

// clientStream is a raft.StreamLayer that dials with a given client TLS
// configuration; it never accepts.
type clientStream struct {
	net.Listener
	tls *tls.Config
}

func (s *clientStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(addr), s.tls)
}

// requestVote sends one harmless Raft RPC (a vote request for term 0,
// which a node always denies) to the node using the given client identity.
func requestVote(t *testing.T, n *testNode, certPEM, keyPEM []byte) (*raft.RequestVoteResponse, error) {
	t.Helper()
	clientTLS, err := identity.ClientTLS(n.ca.CertPEM(), certPEM, keyPEM, []string{protocol.RaftALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	trans := raft.NewNetworkTransport(&clientStream{Listener: ln, tls: clientTLS}, 1, 2*time.Second, io.Discard)
	defer trans.Close()
	var resp raft.RequestVoteResponse
	err = trans.RequestVote("hub-1", raft.ServerAddress(n.node.Addr()), &raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(ln.Addr().String())},
		Term:      0,
	}, &resp)
	return &resp, err
}

func TestTransport_HubPeerCanCallRaft(t *testing.T) {
	n := startNode(t, t.TempDir(), newCA(t))
	certPEM, keyPEM := issueNode(t, n.ca, "hub-2")
	resp, err := requestVote(t, n, certPEM, keyPEM)
	if err != nil {
		t.Fatalf("hub peer RPC: %v", err)
	}
	if resp.Granted {
		t.Error("a term-0 vote was granted")
	}
}

func TestTransport_AgentCertificateCannotCallRaft(t *testing.T) {
	n := startNode(t, t.TempDir(), newCA(t))
	// An agent certificate from the same CA passes the TLS client
	// verification, but an agent must never take part in consensus.
	keyPEM, csrPEM, err := identity.NewAgentKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := n.ca.SignAgentCSR(csrPEM, "agt-0000000000000001", "north", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := requestVote(t, n, certPEM, keyPEM); err == nil {
		t.Fatalf("an agent certificate got a Raft answer: %+v", resp)
	}
	// The node is unaffected.
	if err := n.node.Raft.Apply([]byte("still leader"), 5*time.Second).Error(); err != nil {
		t.Errorf("apply after the refused RPC: %v", err)
	}
}

func TestTransport_ForeignCACannotCallRaft(t *testing.T) {
	n := startNode(t, t.TempDir(), newCA(t))
	foreign := newCA(t)
	certPEM, keyPEM := issueNode(t, foreign, "hub-2")
	if resp, err := requestVote(t, n, certPEM, keyPEM); err == nil {
		t.Fatalf("a node certificate of another CA got a Raft answer: %+v", resp)
	}
}
