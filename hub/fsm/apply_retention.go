package fsm

import (
	"fmt"

	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

func init() { registerCommand(RetentionType, applyRetention) }

// RetentionResult is the result of a Retention entry.
type RetentionResult struct {
	Cutoff int64
}

// applyRetention deletes events older than the leader-chosen cutoff
// (invariant 4: every node deletes the same events).
func applyRetention(c *applyCtx, payload []byte) (any, error) {
	var m raftpb.Retention
	if err := proto.Unmarshal(payload, &m); err != nil {
		panic(fmt.Sprintf("fsm: decode retention at index %d: %v", c.index, err))
	}
	if m.Cutoff == 0 {
		return &RetentionResult{}, nil
	}
	pending := make([]*raftpb.AgentRecord, 0, len(c.order))
	for _, a := range c.order {
		pending = append(pending, a.rec)
	}
	if err := c.batch.DeleteEventsBefore(m.Cutoff, pending); err != nil {
		return nil, err
	}
	return &RetentionResult{Cutoff: m.Cutoff}, nil
}
