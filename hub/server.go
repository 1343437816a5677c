package hub

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/quic-go/quic-go"
	"github.com/vigil-sec/vigil/hub/api"
	"github.com/vigil-sec/vigil/hub/cluster"
	"github.com/vigil-sec/vigil/hub/config"
	"github.com/vigil-sec/vigil/hub/enroll"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/ingest"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/identity"
	"github.com/vigil-sec/vigil/systemd"
	"google.golang.org/protobuf/proto"
)

// Version is the hub's version, set at build time.
var Version = "dev"

// Server is one running hub node.
type Server struct {
	cfg    config.Config
	log    *slog.Logger
	st     *store.Store
	fsm    *fsm.FSM
	node   *cluster.Node
	ca     *pki.CA
	ingest *ingest.Listener
	apiLn  net.Listener
	apiSrv *http.Server
	reg    *prometheus.Registry
	peers  *http.Client // node-to-node HTTPS with this node's certificate
}

// New starts the node's Raft and listeners; Run serves until shutdown.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	ca, err := pki.LoadCA(cfg.TLSDir())
	if err != nil {
		return nil, fmt.Errorf("load cluster CA (did you run vigil-hub init?): %w", err)
	}
	certPEM, err := os.ReadFile(cfg.NodeCertFile())
	if err != nil {
		return nil, fmt.Errorf("read node certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("read node key: %w", err)
	}
	adminTok, err := os.ReadFile(cfg.AdminTokenFile())
	if err != nil {
		return nil, fmt.Errorf("read admin token: %w", err)
	}
	s := &Server{cfg: cfg, log: log, ca: ca, reg: prometheus.NewRegistry()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()

	if s.st, err = store.Open(cfg.StateDir(), log); err != nil {
		return nil, err
	}
	needRestore, err := s.st.NeedsRestore()
	if err != nil {
		return nil, err
	}
	applied, err := s.st.Applied()
	if err != nil {
		return nil, err
	}
	if s.fsm, err = fsm.New(s.st, log); err != nil {
		return nil, err
	}
	raftServer, err := pki.ServerTLS(ca, certPEM, keyPEM, []string{protocol.RaftALPN})
	if err != nil {
		return nil, err
	}
	raftClient, err := identity.ClientTLS(ca.CertPEM(), certPEM, keyPEM, []string{protocol.RaftALPN}, "")
	if err != nil {
		return nil, err
	}
	s.node, err = cluster.Start(cluster.Config{
		NodeID: cfg.NodeID, Dir: cfg.RaftDir(), BindAddr: cfg.RaftAddr, AdvertiseAddr: cfg.AdvertiseRaft,
		Bootstrap: cfg.BootstrapEnabled(), ServerTLS: raftServer, ClientTLS: raftClient,
		// The store is persistent; Raft restores a snapshot into it only when
		// it is empty or a restore was interrupted.
		RestoreOnStart:   needRestore || applied == 0,
		HeartbeatTimeout: cfg.Raft.HeartbeatTimeout, ElectionTimeout: cfg.Raft.ElectionTimeout,
		SnapshotThreshold: cfg.Raft.SnapshotThreshold, SnapshotInterval: cfg.Raft.SnapshotInterval,
		TrailingLogs: cfg.Raft.TrailingLogs,
	}, s.fsm, log)
	if err != nil {
		return nil, err
	}
	ingestTLS, err := pki.ServerTLSWithEnrollment(ca, certPEM, keyPEM, []string{protocol.ALPN}, protocol.EnrollALPN)
	if err != nil {
		return nil, err
	}
	// Derived from the node key so it is the same after a restart, which is
	// what lets the restarted node reset its predecessor's connections.
	resetKey := quic.StatelessResetKey(sha256.Sum256(append([]byte("vigil stateless reset v1\x00"), keyPEM...)))
	enr := &enroll.Handler{CA: ca, Apply: s.applyCmd, Members: s.members, Log: log.With("component", "enroll")}
	s.ingest, err = ingest.New(ingest.Config{
		Addr: cfg.IngestAddr, TLS: ingestTLS, NodeID: cfg.NodeID, Members: s.members,
		MaxFrameBytes: cfg.Limits.MaxFrameBytes, MaxBatchRawBytes: cfg.Limits.MaxBatchRawBytes,
		InflightPerStream: cfg.Limits.InflightPerStream, StatelessResetKey: &resetKey,
	}, s, s.st, enr, s.reg, log.With("component", "ingest"))
	if err != nil {
		return nil, err
	}
	apiCert, err := tls.X509KeyPair(append(append([]byte(nil), certPEM...), ca.CertPEM()...), keyPEM)
	if err != nil {
		return nil, fmt.Errorf("api certificate: %w", err)
	}
	// Clients authenticate with bearer tokens; other hub nodes also present
	// their certificates, which the internal endpoints require.
	if s.apiLn, err = tls.Listen("tcp", cfg.APIAddr, &tls.Config{Certificates: []tls.Certificate{apiCert}, MinVersion: tls.VersionTLS13,
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}); err != nil {
		return nil, fmt.Errorf("listen api %s: %w", cfg.APIAddr, err)
	}
	if s.peers, err = peerClient(ca.CertPEM(), certPEM, keyPEM); err != nil {
		return nil, err
	}
	apiHandler := api.New(s, map[string]api.Scope{strings.TrimSpace(string(adminTok)): {Name: "admin", Branch: api.AllBranches}},
		promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}), log.With("component", "api"))
	mux := http.NewServeMux()
	mux.Handle("/v1/internal/", s.internalHandler())
	mux.HandleFunc("POST /v1/cluster/join", s.handleJoin)
	mux.Handle("/", apiHandler)
	s.apiSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	ok = true
	return s, nil
}

// Run serves until ctx ends, then shuts down.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- s.ingest.Serve(ctx) }()
	go s.leaderLoop(ctx)
	go s.registerSelf(ctx)
	go s.bootstrapExpect(ctx)
	go s.autopilotLoop(ctx)
	go func() {
		if err := s.apiSrv.Serve(s.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("api: %w", err)
		}
	}()
	s.log.Info("hub running", "node_id", s.cfg.NodeID, "ingest_addr", s.ingest.Addr(),
		"raft_addr", s.node.Addr(), "api_addr", s.apiLn.Addr().String(), "version", Version)
	if _, err := systemd.Ready("raft running, listeners open"); err != nil {
		s.log.Warn("readiness notification", "error", err)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	_, _ = systemd.Stopping()
	s.close()
	return err
}

func (s *Server) close() {
	if s.apiSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.apiSrv.Shutdown(sctx)
		cancel()
	} else if s.apiLn != nil {
		_ = s.apiLn.Close()
	}
	if s.ingest != nil {
		_ = s.ingest.Close()
	}
	if s.node != nil {
		if err := s.node.Shutdown(); err != nil {
			s.log.Warn("raft shutdown", "error", err)
		}
	}
	if s.st != nil {
		_ = s.st.Close()
	}
}

// WaitLeader waits until the cluster has elected a leader.
func (s *Server) WaitLeader(timeout time.Duration) error { return s.node.WaitLeader(timeout) }

// awaitLeader waits, during an election, until the cluster has a leader, so
// a request that arrives while one is being chosen is not refused at once.
func (s *Server) awaitLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if addr, _ := s.node.Raft.LeaderWithID(); addr != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no cluster leader after %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Store implements api.Backend.
func (s *Server) Store() *store.Store { return s.st }

// CA implements api.Backend.
func (s *Server) CA() *pki.CA { return s.ca }

// HeadSeq implements api.Backend.
func (s *Server) HeadSeq(agent string) (uint64, bool) { return s.ingest.HeadSeq(agent) }

// Apply proposes a command and waits for its result; a follower forwards it
// to the leader.
func (s *Server) Apply(t fsm.MessageType, m proto.Message) (any, error) {
	cmd, err := fsm.Encode(t, m)
	if err != nil {
		return nil, err
	}
	res, err := s.applyCmd(cmd, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", t, err)
	}
	return res, nil
}

// ReadBarrier implements api.Backend: it confirms leadership with a quorum
// and waits until every committed entry is applied locally.
func (s *Server) ReadBarrier() error {
	if err := s.awaitLeader(5 * time.Second); err != nil {
		return err
	}
	if err := s.node.Raft.VerifyLeader().Error(); err != nil {
		return fmt.Errorf("verify leader: %w", err)
	}
	if err := s.node.Raft.Barrier(5 * time.Second).Error(); err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	return nil
}

// Status implements api.Backend.
func (s *Server) Status() map[string]any {
	addr, id := s.node.Raft.LeaderWithID()
	applied, _ := s.st.Applied()
	return map[string]any{
		"node_id": s.cfg.NodeID, "version": Version, "state": s.node.Raft.State().String(),
		"leader_id": string(id), "leader_addr": string(addr), "applied_index": applied,
		"last_index": s.node.Raft.LastIndex(), "raft": s.node.Raft.Stats(),
	}
}

var _ api.Backend = (*Server)(nil)
