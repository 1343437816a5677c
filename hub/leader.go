package hub

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// leaderLoop runs the work only the leader does: it writes the timer entries
// that keep the state machine free of clocks. Today that is retention.
func (s *Server) leaderLoop(ctx context.Context) {
	interval := s.cfg.Retention.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.node.Raft.State() != raft.Leader {
				continue
			}
			if err := s.enforceRetention(time.Now()); err != nil {
				s.log.Warn("retention", "error", err)
			}
		}
	}
}

// enforceRetention proposes a Retention entry when stored events exceed the
// configured age or size.
func (s *Server) enforceRetention(now time.Time) error {
	oldest, _, ok, err := s.st.EventTimeBounds()
	if err != nil || !ok {
		return err
	}
	var cutoff int64
	reason := ""
	if age := s.cfg.Retention.MaxAge; age > 0 {
		cutoff, reason = now.Add(-age).UnixNano(), "max_age"
	}
	if max := s.cfg.Retention.MaxBytes; max > 0 {
		c, err := s.st.CutoffForSize(max)
		if err != nil {
			return err
		}
		if c > cutoff {
			cutoff, reason = c, "max_bytes"
		}
	}
	if cutoff <= oldest {
		return nil
	}
	if _, err := s.Apply(fsm.RetentionType, &raftpb.Retention{Cutoff: cutoff, Now: now.UnixNano(), Reason: reason}); err != nil {
		return err
	}
	s.log.Info("retention applied", "cutoff", time.Unix(0, cutoff).UTC(), "reason", reason)
	return nil
}
