package store

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

const prefixMember = 'n'

func memberKey(id string) []byte { return append([]byte{prefixMember}, id...) }

// PutMember stores a hub node's record.
func (b *Batch) PutMember(r *raftpb.MemberRecord) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode member %s: %w", r.NodeId, err)
	}
	return b.b.Set(memberKey(r.NodeId), v, nil)
}

// DeleteMember removes a hub node's record.
func (b *Batch) DeleteMember(id string) error { return b.b.Delete(memberKey(id), nil) }

// Member returns the committed record of one node, or nil.
func (b *Batch) Member(id string) (*raftpb.MemberRecord, error) {
	v, err := b.get(memberKey(id))
	if err != nil || v == nil {
		return nil, err
	}
	r := &raftpb.MemberRecord{}
	if err := proto.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("decode member record: %w", err)
	}
	return r, nil
}

// Members returns every node record in id order.
func (s *Store) Members() ([]*raftpb.MemberRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixMember}, UpperBound: []byte{prefixMember + 1}})
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer it.Close()
	var out []*raftpb.MemberRecord
	for it.First(); it.Valid(); it.Next() {
		r := &raftpb.MemberRecord{}
		if err := proto.Unmarshal(it.Value(), r); err != nil {
			return nil, fmt.Errorf("decode member record: %w", err)
		}
		out = append(out, r)
	}
	return out, it.Error()
}
