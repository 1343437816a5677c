package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// Peer is one Raft server as GET /v1/operator/raft/peers lists it.
type Peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
}

// Member is one hub node as GET /v1/members lists it.
type Member struct {
	NodeID     string `json:"node_id"`
	RaftAddr   string `json:"raft_addr"`
	IngestAddr string `json:"ingest_addr"`
	APIAddr    string `json:"api_addr"`
	Voter      bool   `json:"voter"`
	Leader     bool   `json:"leader"`
	JoinedAt   string `json:"joined_at"`
}

// Cluster is what the operator endpoints need from the hub; a Backend
// that also implements it serves them.
type Cluster interface {
	Peers() ([]Peer, error)
	RemovePeer(id string) error
	TransferLeadership(id string) (string, error)
	IsLeader() bool
	// ProxyToLeader sends the request to the leader and reports whether it
	// did (false: no leader known, or this is the leader).
	ProxyToLeader(w http.ResponseWriter, r *http.Request) bool
}

// ErrPeerRefused is returned for a removal that would endanger quorum.
var ErrPeerRefused = errors.New("peer removal refused")

func (s *Server) cluster(w http.ResponseWriter, sc Scope) (Cluster, bool) {
	if sc.Branch != AllBranches {
		writeError(w, http.StatusForbidden, "operator endpoints need an all-branches token")
		return nil, false
	}
	c, ok := s.b.(Cluster)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this hub does not run a cluster")
		return nil, false
	}
	return c, true
}

// onLeader runs h on the leader: a follower passes the request on.
func (s *Server) onLeader(c Cluster, w http.ResponseWriter, r *http.Request) bool {
	if c.IsLeader() {
		return true
	}
	if !c.ProxyToLeader(w, r) {
		writeError(w, http.StatusServiceUnavailable, "no cluster leader")
	}
	return false
}

// peersList answers from this node's copy of the Raft configuration and its
// view of the leader, so it works on any node, even during an election.
func (s *Server) peersList(w http.ResponseWriter, r *http.Request, sc Scope) {
	c, ok := s.cluster(w, sc)
	if !ok {
		return
	}
	peers, err := c.Peers()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, peers)
}

func (s *Server) peerRemove(w http.ResponseWriter, r *http.Request, sc Scope) {
	c, ok := s.cluster(w, sc)
	if !ok || !s.onLeader(c, w, r) {
		return
	}
	if err := c.RemovePeer(r.PathValue("id")); err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrPeerRefused) {
			code = http.StatusConflict
		}
		writeError(w, code, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TransferRequest is the body of POST /v1/operator/raft/transfer-leadership.
type TransferRequest struct {
	ID string `json:"id,omitempty"` // empty: Raft picks the most up-to-date voter
}

func (s *Server) transferLeadership(w http.ResponseWriter, r *http.Request, sc Scope) {
	c, ok := s.cluster(w, sc)
	if !ok || !s.onLeader(c, w, r) {
		return
	}
	var req TransferRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
	}
	to, err := c.TransferLeadership(req.ID)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"leader": to})
}

func (s *Server) membersList(w http.ResponseWriter, r *http.Request, sc Scope) {
	c, ok := s.cluster(w, sc)
	if !ok || !s.consistent(w, r) {
		return
	}
	peers, err := c.Peers()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	recs, err := s.b.Store().Members()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	byID := map[string]Peer{}
	for _, p := range peers {
		byID[p.ID] = p
	}
	out := []Member{}
	for _, m := range recs {
		p, voter := byID[m.NodeId]
		out = append(out, Member{NodeID: m.NodeId, RaftAddr: m.RaftAddr, IngestAddr: m.IngestAddr, APIAddr: m.ApiAddr,
			Voter: voter && p.Suffrage == "Voter", Leader: p.Leader, JoinedAt: fmtTime(m.JoinedAt)})
	}
	writeJSON(w, http.StatusOK, out)
}

// JoinTokenRequest is the body of POST /v1/cluster/join-tokens.
type JoinTokenRequest struct {
	TTL string `json:"ttl"` // default 1h, at most 720h
}

func (s *Server) joinTokenCreate(w http.ResponseWriter, r *http.Request, sc Scope) {
	if sc.Branch != AllBranches {
		writeError(w, http.StatusForbidden, "join tokens need an all-branches token")
		return
	}
	var req JoinTokenRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
	}
	s.issueToken(w, req.TTL, &raftpb.TokenCreate{Kind: fsm.TokenKindServer, Description: "server join"})
}
