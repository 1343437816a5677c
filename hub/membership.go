package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/protocol/identity"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// JoinRequest is the body of POST /v1/cluster/join: a new hub node asks for
// its certificate with a single-use server join token. The caller has no
// certificate yet; it authenticated this node by the CA fingerprint pinned
// in the token.
type JoinRequest struct {
	Token  string   `json:"token"`
	NodeID string   `json:"node_id"`
	IPs    []string `json:"ips"`
	DNS    []string `json:"dns"`
}

// JoinResponse carries what a new node needs to serve: its certificate and
// key, and the cluster CA (certificate and key: every node signs agent
// certificates) and the admin API token.
type JoinResponse struct {
	NodeCertPEM []byte `json:"node_cert_pem"`
	NodeKeyPEM  []byte `json:"node_key_pem"`
	CACertPEM   []byte `json:"ca_cert_pem"`
	CAKeyPEM    []byte `json:"ca_key_pem"`
	AdminToken  string `json:"admin_token"`
}

// MemberRequest is the body of POST /v1/internal/members: a node announces
// its addresses and, when new, asks to be added as a voter.
type MemberRequest struct {
	NodeID     string `json:"node_id"`
	RaftAddr   string `json:"raft_addr"`
	IngestAddr string `json:"ingest_addr"`
	APIAddr    string `json:"api_addr"`
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	tok, err := identity.ParseToken(req.Token)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := identity.ValidateName(req.NodeID); err != nil {
		http.Error(w, "node id: "+err.Error(), http.StatusBadRequest)
		return
	}
	var ips []net.IP
	for _, v := range req.IPs {
		ip := net.ParseIP(v)
		if ip == nil {
			http.Error(w, "ip: "+v+" is not an IP address", http.StatusBadRequest)
			return
		}
		ips = append(ips, ip)
	}
	now := time.Now()
	cmd, err := fsm.Encode(fsm.ServerJoinType, &raftpb.ServerJoin{TokenId: tok.ID, SecretHash: tok.SecretHash(), NodeId: req.NodeID, Now: now.UnixNano()})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	res, err := s.applyCmd(cmd, 10*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	tr, ok := res.(*fsm.TokenResult)
	if !ok || tr.Err != nil {
		msg := "join refused"
		if ok {
			msg = "join refused: " + tr.Err.Message
		}
		http.Error(w, msg, http.StatusForbidden)
		return
	}
	certPEM, keyPEM, err := s.ca.IssueNode(req.NodeID, req.DNS, ips, now, 5*365*24*time.Hour)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	caKey, err := os.ReadFile(filepath.Join(s.cfg.TLSDir(), pki.CAKeyFile))
	if err != nil {
		http.Error(w, "read CA key", http.StatusInternalServerError)
		return
	}
	admin, err := os.ReadFile(s.cfg.AdminTokenFile())
	if err != nil {
		http.Error(w, "read admin token", http.StatusInternalServerError)
		return
	}
	s.log.Info("hub node joined", "node_id", req.NodeID, "token_id", tok.ID)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(JoinResponse{NodeCertPEM: certPEM, NodeKeyPEM: keyPEM, CACertPEM: s.ca.CertPEM(),
		CAKeyPEM: caKey, AdminToken: strings.TrimSpace(string(admin))})
}

// handleMemberAdd adds the calling node as a voter (if it is not one) and
// records its addresses. Only the leader can; a follower passes the request
// on to it.
func (s *Server) handleMemberAdd(w http.ResponseWriter, r *http.Request) {
	if !isPeer(r) {
		http.Error(w, "internal endpoint: hub certificate required", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	// A follower passes the request on, so the body must stay readable.
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req MemberRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	// A node may only speak for itself. A follower passing a request on
	// names the node it came from; only a hub peer is believed.
	cn := r.TLS.PeerCertificates[0].Subject.CommonName
	if fwd := r.Header.Get("X-Vigil-Forwarded-Node"); fwd != "" {
		cn = fwd
	}
	if cn != req.NodeID {
		http.Error(w, "certificate of "+cn+" cannot register "+req.NodeID, http.StatusForbidden)
		return
	}
	if s.node.Raft.State() != raft.Leader {
		r.Header.Set("X-Vigil-Forwarded-Node", cn)
		if !s.proxyToLeader(w, r) {
			http.Error(w, "no leader", http.StatusServiceUnavailable)
		}
		return
	}
	if err := s.addVoter(req.NodeID, req.RaftAddr); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err := s.upsertMember(req); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) addVoter(id, addr string) error {
	cf := s.node.Raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	for _, srv := range cf.Configuration().Servers {
		if srv.ID == raft.ServerID(id) && srv.Address == raft.ServerAddress(addr) {
			return nil
		}
	}
	s.log.Info("adding voter", "node_id", id, "raft_addr", addr)
	return s.node.Raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 30*time.Second).Error()
}

func (s *Server) upsertMember(req MemberRequest) error {
	cmd, err := fsm.Encode(fsm.MemberUpsertType, &raftpb.MemberUpsert{Now: time.Now().UnixNano(), Member: &raftpb.MemberRecord{
		NodeId: req.NodeID, RaftAddr: req.RaftAddr, IngestAddr: req.IngestAddr, ApiAddr: req.APIAddr,
	}})
	if err != nil {
		return err
	}
	_, err = s.applyCmd(cmd, 10*time.Second)
	return err
}

// self is this node's member record as it should be.
func (s *Server) self() MemberRequest {
	adv := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return MemberRequest{NodeID: s.cfg.NodeID, RaftAddr: s.node.Addr(),
		IngestAddr: adv(s.cfg.AdvertiseIngest, s.cfg.IngestAddr), APIAddr: adv(s.cfg.AdvertiseAPI, s.cfg.APIAddr)}
}

// registerSelf keeps this node's member record current: a node started with
// join addresses and no Raft state asks a cluster node to add it as a voter;
// any node whose record is missing or stale proposes its own. Afterwards it
// keeps watching: a node that hears from no leader for a while may have been
// removed (autopilot's dead-server cleanup, remove-peer) while it was away,
// which its own state cannot tell it, since a removed node is sent nothing.
// It then announces itself to every server it knows of, and the leader adds
// it back.
func (s *Server) registerSelf(ctx context.Context) {
	me := s.self()
	for delay := 100 * time.Millisecond; ; delay = min(delay*2, 5*time.Second) {
		if ok, err := s.memberCurrent(me); err == nil && ok {
			break
		}
		err := s.announce(ctx, me)
		if err == nil {
			if ok, _ := s.memberCurrent(me); ok {
				s.log.Info("cluster membership recorded", "node_id", me.NodeID, "raft_addr", me.RaftAddr, "ingest_addr", me.IngestAddr)
				break
			}
		} else {
			s.log.Debug("registering with the cluster", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	leaderless := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		if addr, _ := s.node.Raft.LeaderWithID(); addr != "" {
			leaderless = 0
			continue
		}
		if leaderless++; leaderless < 2 {
			continue
		}
		if err := s.announce(ctx, me); err == nil {
			s.log.Info("no leader heard: announced this node to the cluster again", "node_id", me.NodeID)
			leaderless = 0
		} else {
			s.log.Debug("announcing to the cluster", "error", err)
		}
	}
}

func (s *Server) memberCurrent(me MemberRequest) (bool, error) {
	ms, err := s.st.Members()
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(ms, func(m *raftpb.MemberRecord) bool { return m.NodeId == me.NodeID })
	return i >= 0 && ms[i].RaftAddr == me.RaftAddr && ms[i].IngestAddr == me.IngestAddr && ms[i].ApiAddr == me.APIAddr, nil
}

// announce sends this node's record to the leader, or to a join address
// while this node is not yet part of the cluster.
func (s *Server) announce(ctx context.Context, me MemberRequest) error {
	if s.node.Raft.State() == raft.Leader {
		if err := s.addVoter(me.NodeID, me.RaftAddr); err != nil {
			return err
		}
		return s.upsertMember(me)
	}
	targets := []string{}
	if base, err := s.leaderAPI(); err == nil {
		targets = append(targets, base)
	}
	for _, j := range s.cfg.Join {
		if !strings.HasPrefix(j, "https://") {
			j = "https://" + j
		}
		targets = append(targets, j)
	}
	// The other servers this node knows of, for a node that was removed
	// while away and started without join addresses.
	if ms, err := s.st.Members(); err == nil {
		for _, m := range ms {
			if m.NodeId != me.NodeID && m.ApiAddr != "" && !slices.Contains(targets, "https://"+m.ApiAddr) {
				targets = append(targets, "https://"+m.ApiAddr)
			}
		}
	}
	if len(targets) == 0 {
		return ErrNoLeader
	}
	body, _ := json.Marshal(me)
	var last error
	for _, t := range targets {
		req, err := http.NewRequestWithContext(ctx, "POST", t+"/v1/internal/members", strings.NewReader(string(body)))
		if err != nil {
			return err
		}
		resp, err := s.peers.Do(req)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNoContent {
			return nil
		}
		last = fmt.Errorf("%s: %s", t, resp.Status)
	}
	return last
}

// members returns the agent-facing addresses of the cluster's nodes.
func (s *Server) members() []string {
	ms, err := s.st.Members()
	var out []string
	if err == nil {
		for _, m := range ms {
			if m.IngestAddr != "" {
				out = append(out, m.IngestAddr)
			}
		}
	}
	if len(out) == 0 {
		out = []string{s.self().IngestAddr}
	}
	return out
}

// RequestJoin is the new node's side of POST /v1/cluster/join.
func RequestJoin(ctx context.Context, addr string, req JoinRequest) (*JoinResponse, error) {
	tok, err := identity.ParseToken(req.Token)
	if err != nil {
		return nil, err
	}
	tc, err := identity.EnrollTLS(tok.CAPin, nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
	if !strings.HasPrefix(addr, "https://") {
		addr = "https://" + addr
	}
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, "POST", addr+"/v1/cluster/join", strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b [512]byte
		n, _ := resp.Body.Read(b[:])
		return nil, fmt.Errorf("join %s: %s: %s", addr, resp.Status, strings.TrimSpace(string(b[:n])))
	}
	var jr JoinResponse
	if err := json.NewDecoder(resp.Body).Decode(&jr); err != nil {
		return nil, fmt.Errorf("join %s: decode: %w", addr, err)
	}
	cas, err := identity.ParseCertsPEM(jr.CACertPEM)
	if err != nil || len(cas) == 0 || identity.Fingerprint(cas[0].Raw) != tok.CAPin {
		return nil, fmt.Errorf("join %s: the CA returned does not match the token's fingerprint", addr)
	}
	return &jr, nil
}
