package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// BootstrapInfo is GET /v1/internal/bootstrap: what a server waiting to form
// a cluster (bootstrap_expect) learns of another server.
type BootstrapInfo struct {
	NodeID          string `json:"node_id"`
	RaftAddr        string `json:"raft_addr"`
	BootstrapExpect int    `json:"bootstrap_expect"`
	// HasState is true once the server is part of a cluster: it formed
	// one, or a leader reached it.
	HasState bool `json:"has_state"`
}

func (s *Server) handleBootstrapInfo(w http.ResponseWriter, r *http.Request) {
	if !isPeer(r) {
		http.Error(w, "internal endpoint: hub certificate required", http.StatusForbidden)
		return
	}
	info, err := s.bootstrapInfo()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}

func (s *Server) bootstrapInfo() (BootstrapInfo, error) {
	has, err := s.node.HasState()
	if err != nil {
		return BootstrapInfo{}, err
	}
	return BootstrapInfo{NodeID: s.cfg.NodeID, RaftAddr: s.node.Addr(), BootstrapExpect: s.cfg.BootstrapExpect, HasState: has}, nil
}

// errExistingCluster means a server that was asked already belongs to a
// cluster: this one must be added to it rather than form a new one.
var errExistingCluster = errors.New("an existing cluster was found")

// planBootstrap decides, from this server and the servers it reached, the
// voters of a new cluster. It returns nil servers while fewer than expect
// are known, errExistingCluster when one of them already holds Raft state,
// and an error when the servers disagree on expect or names. Every server
// that sees the same set computes the same configuration (sorted by ID),
// which is what makes the concurrent bootstraps safe.
func planBootstrap(self BootstrapInfo, peers []BootstrapInfo) ([]raft.Server, error) {
	if self.HasState {
		return nil, errExistingCluster
	}
	byID := map[string]BootstrapInfo{self.NodeID: self}
	for _, p := range peers {
		if p.HasState {
			return nil, fmt.Errorf("%w: %s holds Raft state", errExistingCluster, p.NodeID)
		}
		if p.BootstrapExpect != self.BootstrapExpect {
			return nil, fmt.Errorf("server %s expects %d servers, this one %d: every server must have the same bootstrap_expect", p.NodeID, p.BootstrapExpect, self.BootstrapExpect)
		}
		if old, dup := byID[p.NodeID]; dup && old.RaftAddr != p.RaftAddr {
			return nil, fmt.Errorf("two servers are named %s (raft %s and %s): node ids must be unique", p.NodeID, old.RaftAddr, p.RaftAddr)
		}
		byID[p.NodeID] = p
	}
	if len(byID) < self.BootstrapExpect {
		return nil, nil
	}
	servers := make([]raft.Server, 0, len(byID))
	for _, p := range byID {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.NodeID), Address: raft.ServerAddress(p.RaftAddr)})
	}
	slices.SortFunc(servers, func(a, b raft.Server) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return servers, nil
}

// bootstrapExpect forms the cluster of a bootstrap_expect server: it polls
// the join addresses until expect servers without state answer, then
// bootstraps them all. It returns once this node holds Raft state, or has
// learnt that a cluster exists (registerSelf then has it added).
func (s *Server) bootstrapExpect(ctx context.Context) {
	if s.cfg.BootstrapExpect == 0 {
		return
	}
	waiting := ""
	for delay := 200 * time.Millisecond; ; delay = min(delay*2, time.Second) {
		self, err := s.bootstrapInfo()
		if err == nil {
			var servers []raft.Server
			peers, reached := s.discoverServers(ctx)
			servers, err = planBootstrap(self, peers)
			switch {
			case errors.Is(err, errExistingCluster):
				if !self.HasState {
					s.log.Info("bootstrap_expect: joining the existing cluster instead", "reason", err)
				}
				return
			case err != nil:
			case servers == nil:
				if msg := strings.Join(reached, ", "); msg != waiting {
					waiting = msg
					s.log.Info("bootstrap_expect: waiting for servers", "expect", s.cfg.BootstrapExpect, "reached", len(reached)+1, "servers", msg)
				}
			default:
				formed, err := s.node.BootstrapWith(servers)
				if err != nil {
					s.log.Error("bootstrap_expect", "error", err)
					break
				}
				ids := make([]string, len(servers))
				for i, sv := range servers {
					ids[i] = string(sv.ID)
				}
				if formed {
					s.log.Info("bootstrap_expect: formed the cluster", "voters", strings.Join(ids, ","))
				}
				return
			}
		}
		if err != nil {
			s.log.Warn("bootstrap_expect", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// discoverServers asks every join address who it is. Addresses that do not
// answer are skipped; the caller polls again.
func (s *Server) discoverServers(ctx context.Context) (infos []BootstrapInfo, names []string) {
	for _, j := range s.cfg.Join {
		if !strings.HasPrefix(j, "https://") {
			j = "https://" + j
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		info, err := s.fetchBootstrapInfo(rctx, j)
		cancel()
		if err != nil {
			s.log.Debug("bootstrap_expect: server not reached", "addr", j, "error", err)
			continue
		}
		infos = append(infos, info)
		names = append(names, info.NodeID)
	}
	return infos, names
}

func (s *Server) fetchBootstrapInfo(ctx context.Context, base string) (BootstrapInfo, error) {
	var info BootstrapInfo
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/internal/bootstrap", nil)
	if err != nil {
		return info, err
	}
	resp, err := s.peers.Do(req)
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("%s: %s", base, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&info); err != nil {
		return info, fmt.Errorf("%s: decode: %w", base, err)
	}
	return info, nil
}
