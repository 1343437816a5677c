package hub

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// autopilotLoop is the leader's dead-server cleanup: it follows Raft's
// heartbeat observations and removes a voter that has failed every
// heartbeat for autopilot.dead_server_after, within the limits deadServers
// sets. Every node runs it; only the leader acts, and a leadership change
// starts the failure clocks afresh, since a new leader knows nothing of what
// its predecessor saw.
func (s *Server) autopilotLoop(ctx context.Context) {
	ap := s.cfg.Autopilot
	if !ap.CleanupEnabled() {
		return
	}
	if ap.DeadServerAfter <= 0 {
		ap.DeadServerAfter = 10 * time.Minute
	}
	obsCh := make(chan raft.Observation, 64)
	obs := raft.NewObserver(obsCh, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation:
			return true
		}
		return false
	})
	s.node.Raft.RegisterObserver(obs)
	defer s.node.Raft.DeregisterObserver(obs)

	failedSince := map[raft.ServerID]time.Time{}
	t := time.NewTicker(min(max(ap.DeadServerAfter/4, 100*time.Millisecond), 10*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-obsCh:
			switch d := o.Data.(type) {
			case raft.FailedHeartbeatObservation:
				if _, ok := failedSince[d.PeerID]; !ok {
					failedSince[d.PeerID] = time.Now()
				}
			case raft.ResumedHeartbeatObservation:
				delete(failedSince, d.PeerID)
			case raft.LeaderObservation:
				clear(failedSince)
			}
		case <-t.C:
			if s.node.Raft.State() != raft.Leader || len(failedSince) == 0 {
				continue
			}
			cf := s.node.Raft.GetConfiguration()
			if cf.Error() != nil {
				continue
			}
			for _, id := range deadServers(cf.Configuration().Servers, raft.ServerID(s.cfg.NodeID), failedSince, time.Now(), ap.DeadServerAfter, ap.MinQuorum) {
				s.log.Warn("autopilot: removing dead server", "node_id", id, "failing_since", failedSince[id].UTC(), "dead_server_after", ap.DeadServerAfter)
				if err := s.RemovePeer(string(id)); err != nil {
					s.log.Warn("autopilot: remove dead server", "node_id", id, "error", err)
					break
				}
				delete(failedSince, id)
			}
		}
	}
}

// deadServers picks the voters to remove: those other than self that have
// been failing since before now-after, in ID order, as long as each removal
// leaves at least minQuorum voters and the healthy voters (never failing,
// self included) stay a majority of what is left. A server that only missed
// a few heartbeats is not failing "since" anything and is never picked.
func deadServers(servers []raft.Server, self raft.ServerID, failedSince map[raft.ServerID]time.Time, now time.Time, after time.Duration, minQuorum int) []raft.ServerID {
	voters, healthy := 0, 0
	var dead []raft.ServerID
	for _, sv := range servers {
		if sv.Suffrage != raft.Voter {
			continue
		}
		voters++
		since, failing := failedSince[sv.ID]
		if !failing || sv.ID == self {
			healthy++
			continue
		}
		if now.Sub(since) >= after {
			dead = append(dead, sv.ID)
		}
	}
	slices.SortFunc(dead, func(a, b raft.ServerID) int { return strings.Compare(string(a), string(b)) })
	var out []raft.ServerID
	for _, id := range dead {
		left := voters - len(out) - 1
		if left < minQuorum || healthy <= left/2 {
			break
		}
		out = append(out, id)
	}
	return out
}
