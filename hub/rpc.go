package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/api"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/ingest"
	"github.com/vigil-sec/vigil/protocol/identity"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// Forward-or-apply. Every write enters the cluster through applyCmd: on the
// leader it goes straight into raft.Apply; on a follower it is sent to the
// leader over the internal API (HTTPS with both nodes' hub certificates) and
// the leader's result comes back. Commands are idempotent by construction
// (batches by agent, epoch and seq; tokens by single use), so a retry after
// a lost answer cannot apply twice.

// ErrNoLeader is returned while the cluster has no known leader.
var ErrNoLeader = errors.New("no cluster leader")

// maxForwardBytes bounds a forwarded command (a batch is at most 4 MiB on
// the wire).
const maxForwardBytes = 8 << 20

// applyResult carries a state-machine result between nodes.
type applyResult struct {
	Ingest    *fsm.IngestResult    `json:"ingest,omitempty"`
	Token     *fsm.TokenResult     `json:"token,omitempty"`
	Retention *fsm.RetentionResult `json:"retention,omitempty"`
	Member    *fsm.MemberResult    `json:"member,omitempty"`
	Error     string               `json:"error,omitempty"`
}

func wrapResult(r any) applyResult {
	switch v := r.(type) {
	case *fsm.IngestResult:
		return applyResult{Ingest: v}
	case *fsm.TokenResult:
		return applyResult{Token: v}
	case *fsm.RetentionResult:
		return applyResult{Retention: v}
	case *fsm.MemberResult:
		return applyResult{Member: v}
	case *fsm.StoreError:
		return applyResult{Error: v.Error()}
	case nil:
		return applyResult{}
	}
	return applyResult{Error: fmt.Sprintf("unexpected result %T", r)}
}

func (a applyResult) unwrap() (any, error) {
	switch {
	case a.Error != "":
		return nil, errors.New(a.Error)
	case a.Ingest != nil:
		return a.Ingest, nil
	case a.Token != nil:
		return a.Token, nil
	case a.Retention != nil:
		return a.Retention, nil
	case a.Member != nil:
		return a.Member, nil
	}
	return nil, nil
}

// applyCmd applies an encoded command on the leader, forwarding it when this
// node is a follower. During an election it keeps trying, against whichever
// node leads, until timeout: an agent connected to a surviving node then
// sees a slow acknowledgement rather than an error. Retrying is safe
// because every command is idempotent (see above).
func (s *Server) applyCmd(cmd []byte, timeout time.Duration) (any, error) {
	deadline := time.Now().Add(timeout)
	for attempt := 0; ; attempt++ {
		res, retry, err := s.applyOnce(cmd, time.Until(deadline))
		if err == nil || !retry || time.Now().Add(50*time.Millisecond).After(deadline) {
			return res, err
		}
		time.Sleep(min(time.Duration(attempt+1)*25*time.Millisecond, 250*time.Millisecond))
	}
}

// applyOnce makes one attempt and says whether a failure may be retried.
func (s *Server) applyOnce(cmd []byte, timeout time.Duration) (any, bool, error) {
	if err := s.awaitLeader(min(timeout, 5*time.Second)); err != nil {
		return nil, true, err
	}
	if s.node.Raft.State() == raft.Leader {
		f := s.node.Raft.Apply(cmd, timeout)
		if err := f.Error(); err != nil {
			retry := errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrEnqueueTimeout)
			return nil, retry, err
		}
		if se, ok := f.Response().(*fsm.StoreError); ok {
			return nil, false, se
		}
		return f.Response(), false, nil
	}
	res, err := s.forwardCmd(cmd, timeout)
	var fe *forwardError
	if errors.As(err, &fe) {
		return nil, fe.retry, err
	}
	return res, false, err
}

// forwardError is a failed forward; retry says whether another attempt
// (after an election) may succeed.
type forwardError struct {
	err   error
	retry bool
}

func (e *forwardError) Error() string { return "forward to leader: " + e.err.Error() }
func (e *forwardError) Unwrap() error { return e.err }

// Propose implements ingest.Raft. On the leader it is raft.Apply. On a
// follower the command is forwarded when the future is first waited on, so
// a stream's batches, waited on in order, are forwarded one at a time and in
// order.
func (s *Server) Propose(cmd []byte, timeout time.Duration) ingest.Future {
	if s.node.Raft.State() == raft.Leader {
		return s.node.Raft.Apply(cmd, timeout)
	}
	return &forwardFuture{s: s, cmd: cmd, timeout: timeout}
}

type forwardFuture struct {
	s       *Server
	cmd     []byte
	timeout time.Duration
	done    bool
	res     any
	err     error
}

func (f *forwardFuture) Error() error {
	if !f.done {
		f.res, f.err = f.s.applyCmd(f.cmd, f.timeout)
		f.done = true
	}
	return f.err
}

func (f *forwardFuture) Response() any {
	_ = f.Error()
	return f.res
}

// leaderAPI returns the API base URL of the current leader.
func (s *Server) leaderAPI() (string, error) {
	_, id := s.node.Raft.LeaderWithID()
	if id == "" {
		return "", ErrNoLeader
	}
	ms, err := s.st.Members()
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.NodeId == string(id) && m.ApiAddr != "" {
			return "https://" + m.ApiAddr, nil
		}
	}
	return "", fmt.Errorf("leader %s has no known API address yet", id)
}

func (s *Server) forwardCmd(cmd []byte, timeout time.Duration) (any, error) {
	base, err := s.leaderAPI()
	if err != nil {
		return nil, &forwardError{err, true}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v1/internal/apply", bytes.NewReader(cmd))
	if err != nil {
		return nil, &forwardError{err, false}
	}
	req.Header.Set("X-Vigil-Timeout", timeout.String())
	resp, err := s.peers.Do(req)
	if err != nil {
		return nil, &forwardError{err, true} // the leader died or is unreachable
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardBytes))
	if err != nil {
		return nil, &forwardError{err, true}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &forwardError{fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body)), resp.StatusCode == http.StatusServiceUnavailable}
	}
	var ar applyResult
	if err := json.Unmarshal(body, &ar); err != nil {
		return nil, &forwardError{fmt.Errorf("decode result: %w", err), false}
	}
	return ar.unwrap()
}

// peerClient is the HTTPS client nodes use to reach each other's API: it
// presents this node's certificate and accepts only hub certificates of the
// cluster CA.
func peerClient(caPEM, certPEM, keyPEM []byte) (*http.Client, error) {
	tc, err := identity.ClientTLS(caPEM, certPEM, keyPEM, nil, "")
	if err != nil {
		return nil, err
	}
	// Short connect and header timeouts: a paused or cut-off leader must
	// not hold a forwarded request longer than an election takes.
	tr := &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute, ForceAttemptHTTP2: true,
		DialContext: (&net.Dialer{Timeout: 3 * time.Second}).DialContext, TLSHandshakeTimeout: 3 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// isPeer reports whether a request came from another hub node (a verified
// hub certificate of the cluster CA).
func isPeer(r *http.Request) bool {
	return r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && identity.IsHubCert(r.TLS.PeerCertificates[0])
}

// internalHandler serves the node-to-node endpoints.
func (s *Server) internalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/internal/bootstrap", s.handleBootstrapInfo)
	mux.HandleFunc("POST /v1/internal/apply", func(w http.ResponseWriter, r *http.Request) {
		if !isPeer(r) {
			http.Error(w, "internal endpoint: hub certificate required", http.StatusForbidden)
			return
		}
		cmd, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForwardBytes))
		if err != nil || len(cmd) == 0 {
			http.Error(w, "bad command", http.StatusBadRequest)
			return
		}
		timeout, err := time.ParseDuration(r.Header.Get("X-Vigil-Timeout"))
		if err != nil || timeout <= 0 || timeout > time.Minute {
			timeout = 10 * time.Second
		}
		if s.node.Raft.State() != raft.Leader {
			// Never forward twice: the sender retries with the new leader.
			http.Error(w, "not the leader", http.StatusServiceUnavailable)
			return
		}
		f := s.node.Raft.Apply(cmd, timeout)
		if err := f.Error(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(wrapResult(f.Response()))
	})
	mux.HandleFunc("POST /v1/internal/members", s.handleMemberAdd)
	return mux
}

// proxyToLeader forwards an API request to the leader's API, for consistent
// reads and operator calls that only the leader can answer.
func (s *Server) proxyToLeader(w http.ResponseWriter, r *http.Request) bool {
	base, err := s.leaderAPI()
	if err != nil {
		return false
	}
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	if r.Header.Get("X-Vigil-Forwarded") != "" {
		return false // already forwarded once: answer locally
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = s.peers.Transport
	r.Header.Set("X-Vigil-Forwarded", s.cfg.NodeID)
	p.ServeHTTP(w, r)
	return true
}

// IsLeader implements api.Cluster.
func (s *Server) IsLeader() bool { return s.node.Raft.State() == raft.Leader }

// ProxyToLeader implements api.Cluster.
func (s *Server) ProxyToLeader(w http.ResponseWriter, r *http.Request) bool {
	return s.proxyToLeader(w, r)
}

// Peers implements api.Cluster.
func (s *Server) Peers() ([]api.Peer, error) {
	cf := s.node.Raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, err
	}
	_, leader := s.node.Raft.LeaderWithID()
	var out []api.Peer
	for _, srv := range cf.Configuration().Servers {
		out = append(out, api.Peer{ID: string(srv.ID), Address: string(srv.Address), Suffrage: srv.Suffrage.String(), Leader: srv.ID == leader})
	}
	return out, nil
}

// RemovePeer implements api.Cluster. It refuses to remove the leader (move
// leadership first) and an ID that is neither a peer nor a member. It does
// not judge whether the node is dead: removing a live voter shrinks the
// cluster on purpose.
func (s *Server) RemovePeer(id string) error {
	cf := s.node.Raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	if id == s.cfg.NodeID {
		return fmt.Errorf("%w: %s is the leader; transfer leadership first", api.ErrPeerRefused, id)
	}
	found := false
	for _, srv := range cf.Configuration().Servers {
		if string(srv.ID) == id {
			found = true
		}
	}
	if !found {
		// No longer a Raft peer (for example after operator recover): only
		// its member record is left, which would keep agents dialling it.
		ms, err := s.st.Members()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ms, func(m *raftpb.MemberRecord) bool { return m.NodeId == id }) {
			return fmt.Errorf("%w: %s is neither a peer nor a member", api.ErrPeerRefused, id)
		}
	} else if err := s.node.Raft.RemoveServer(raft.ServerID(id), 0, 30*time.Second).Error(); err != nil {
		return err
	}
	cmd, err := fsm.Encode(fsm.MemberRemoveType, &raftpb.MemberRemove{NodeId: id, Now: time.Now().UnixNano()})
	if err != nil {
		return err
	}
	_, err = s.applyCmd(cmd, 10*time.Second)
	return err
}

// TransferLeadership implements api.Cluster.
func (s *Server) TransferLeadership(id string) (string, error) {
	var f raft.Future
	if id == "" {
		f = s.node.Raft.LeadershipTransfer()
	} else {
		var addr raft.ServerAddress
		peers, err := s.Peers()
		if err != nil {
			return "", err
		}
		for _, p := range peers {
			if p.ID == id {
				addr = raft.ServerAddress(p.Address)
			}
		}
		if addr == "" {
			return "", fmt.Errorf("%s is not a peer", id)
		}
		f = s.node.Raft.LeadershipTransferToServer(raft.ServerID(id), addr)
	}
	if err := f.Error(); err != nil {
		return "", err
	}
	if err := s.awaitLeader(10 * time.Second); err != nil {
		return "", err
	}
	_, leader := s.node.Raft.LeaderWithID()
	return string(leader), nil
}
