package store

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

const prefixAgent = 'a'

func agentKey(id string) []byte { return append([]byte{prefixAgent}, id...) }

// Agent returns the committed record of one agent, or nil.
func (s *Store) Agent(id string) (*raftpb.AgentRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return decodeAgent(s.get(agentKey(id)))
}

// Agent returns the committed record of one agent, or nil.
func (b *Batch) Agent(id string) (*raftpb.AgentRecord, error) {
	return decodeAgent(b.get(agentKey(id)))
}

func decodeAgent(v []byte, err error) (*raftpb.AgentRecord, error) {
	if err != nil || v == nil {
		return nil, err
	}
	r := &raftpb.AgentRecord{}
	if err := proto.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("decode agent record: %w", err)
	}
	return r, nil
}

// PutAgent stores an agent record.
func (b *Batch) PutAgent(r *raftpb.AgentRecord) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode agent %s: %w", r.Id, err)
	}
	return b.b.Set(agentKey(r.Id), v, nil)
}

// Agents returns every agent record in id order, restricted to one branch
// unless branch is empty.
func (s *Store) Agents(branch string) ([]*raftpb.AgentRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.agentsLocked(branch)
}

// agentsLocked lists committed agent records. Requires s.mu held.
func (s *Store) agentsLocked(branch string) ([]*raftpb.AgentRecord, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixAgent}, UpperBound: []byte{prefixAgent + 1}})
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer it.Close()
	var out []*raftpb.AgentRecord
	for it.First(); it.Valid(); it.Next() {
		r := &raftpb.AgentRecord{}
		if err := proto.Unmarshal(it.Value(), r); err != nil {
			return nil, fmt.Errorf("decode agent record: %w", err)
		}
		if branch == "" || r.Branch == branch {
			out = append(out, r)
		}
	}
	return out, it.Error()
}
