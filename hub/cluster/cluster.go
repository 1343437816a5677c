package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/raftstore"
)

// Config configures the Raft node. Zero durations take Raft's defaults.
type Config struct {
	NodeID string
	// Dir holds the log store and snapshots.
	Dir string
	// BindAddr is the TCP address of the Raft transport.
	BindAddr string
	// AdvertiseAddr is the address peers dial; defaults to the bound address.
	AdvertiseAddr string
	// Bootstrap makes a node with no Raft state form a new cluster with
	// itself as the only voter.
	Bootstrap bool
	// ServerTLS and ClientTLS secure the transport.
	ServerTLS, ClientTLS *tls.Config
	// RestoreOnStart makes Raft restore the latest snapshot into the state
	// machine at start. The hub's store is persistent, so this is needed only
	// when the store is empty or an earlier restore was interrupted.
	RestoreOnStart bool

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// SnapshotThreshold is the number of entries between snapshots; default 8192.
	SnapshotThreshold uint64
	// SnapshotInterval is how often the threshold is checked; default 30s.
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries are kept after a snapshot; default 10240.
	TrailingLogs uint64
	// SnapshotRetain is how many snapshots are kept; default 2.
	SnapshotRetain int
}

// Node is a running Raft node.
type Node struct {
	Raft      *raft.Raft
	cfg       Config
	log       *slog.Logger
	logs      *raftstore.Store
	transport *raft.NetworkTransport
	snaps     *raft.FileSnapshotStore
}

// Start opens the stores, starts the transport and the Raft node, and
// bootstraps a new single-voter cluster when asked and no state exists.
func Start(cfg Config, fsm raft.FSM, log *slog.Logger) (*Node, error) {
	if cfg.NodeID == "" || cfg.Dir == "" || cfg.BindAddr == "" {
		return nil, errors.New("cluster: node id, dir and bind address are required")
	}
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create raft dir: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = newHCLogger(log.With("component", "raft"))
	rc.NoSnapshotRestoreOnStart = !cfg.RestoreOnStart
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	if cfg.HeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	}
	if cfg.ElectionTimeout > 0 {
		rc.ElectionTimeout = cfg.ElectionTimeout
	}
	if cfg.LeaderLeaseTimeout > 0 {
		rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	}
	// Raft refuses a lease longer than the heartbeat timeout; tightening
	// only the heartbeat (as tests do) tightens the lease with it.
	rc.LeaderLeaseTimeout = min(rc.LeaderLeaseTimeout, rc.HeartbeatTimeout)
	rc.SnapshotThreshold = orDefault(cfg.SnapshotThreshold, 8192)
	rc.TrailingLogs = orDefault(cfg.TrailingLogs, 10240)
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	} else {
		rc.SnapshotInterval = 30 * time.Second
	}
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("raft config: %w", err)
	}

	logs, err := raftstore.Open(raftstore.Options{Path: filepath.Join(cfg.Dir, "log"), Logger: log})
	if err != nil {
		return nil, err
	}
	retain := cfg.SnapshotRetain
	if retain <= 0 {
		retain = 2
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, retain, rc.Logger)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	var adv net.Addr
	if cfg.AdvertiseAddr != "" {
		if adv, err = net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr); err != nil {
			logs.Close()
			return nil, fmt.Errorf("advertise address: %w", err)
		}
	}
	stream, err := newTLSStream(cfg.BindAddr, adv, cfg.ServerTLS, cfg.ClientTLS)
	if err != nil {
		logs.Close()
		return nil, err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: rc.Logger,
	})
	n := &Node{cfg: cfg, log: log, logs: logs, transport: trans, snaps: snaps}

	existing, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("check raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, fsm, logs, logs, snaps, trans)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	n.Raft = r
	if cfg.Bootstrap && !existing {
		conf := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: rc.LocalID, Address: trans.LocalAddr(),
		}}}
		if err := r.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			_ = n.Shutdown()
			return nil, fmt.Errorf("bootstrap cluster: %w", err)
		}
		log.Info("bootstrapped new cluster", "node_id", cfg.NodeID, "raft_addr", trans.LocalAddr())
	}
	return n, nil
}

func orDefault(v, d uint64) uint64 {
	if v == 0 {
		return d
	}
	return v
}

// HasState reports whether this node holds Raft state: a log, a snapshot or
// a term. A node without state has never been part of a cluster.
func (n *Node) HasState() (bool, error) {
	return raft.HasExistingState(n.logs, n.logs, n.snaps)
}

// BootstrapWith forms a new cluster of the given voters. Every server of a
// bootstrap_expect cluster calls it with the same list, which Raft permits.
// A node that already holds state (it was reached by a leader first) is
// left alone and reports false.
func (n *Node) BootstrapWith(servers []raft.Server) (bool, error) {
	err := n.Raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bootstrap cluster: %w", err)
	}
	return true, nil
}

// Addr is the transport's advertised address.
func (n *Node) Addr() string { return string(n.transport.LocalAddr()) }

// WaitLeader waits until the cluster has a leader or the timeout passes.
func (n *Node) WaitLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if addr, _ := n.Raft.LeaderWithID(); addr != "" {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("no raft leader after %s", timeout)
}

// Shutdown stops Raft and closes the transport and stores.
func (n *Node) Shutdown() error {
	var err error
	if n.Raft != nil {
		err = n.Raft.Shutdown().Error()
	}
	if cerr := n.transport.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if cerr := n.closeStores(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (n *Node) closeStores() error { return n.logs.Close() }

// newHCLogger routes Raft's hclog output into slog, one record per line.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Info,
		Output:      slogWriter{l},
		JSONFormat:  false,
		DisableTime: true,
	})
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	switch {
	case strings.Contains(line, "[ERROR]"):
		w.l.Error(line)
	case strings.Contains(line, "[WARN]"):
		w.l.Warn(line)
	default:
		w.l.Debug(line)
	}
	return len(p), nil
}

var _ io.Writer = slogWriter{}
