package store

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

const prefixToken = 't'

func tokenKey(id string) []byte { return append([]byte{prefixToken}, id...) }

// Token returns the committed record of one enrollment token, or nil.
func (s *Store) Token(id string) (*raftpb.TokenRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return decodeToken(s.get(tokenKey(id)))
}

// Token returns the committed record of one enrollment token, or nil.
func (b *Batch) Token(id string) (*raftpb.TokenRecord, error) {
	return decodeToken(b.get(tokenKey(id)))
}

func decodeToken(v []byte, err error) (*raftpb.TokenRecord, error) {
	if err != nil || v == nil {
		return nil, err
	}
	r := &raftpb.TokenRecord{}
	if err := proto.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("decode token record: %w", err)
	}
	return r, nil
}

// PutToken stores an enrollment token record.
func (b *Batch) PutToken(r *raftpb.TokenRecord) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode token %s: %w", r.Id, err)
	}
	return b.b.Set(tokenKey(r.Id), v, nil)
}

// Tokens returns every token record in id order.
func (s *Store) Tokens() ([]*raftpb.TokenRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixToken}, UpperBound: []byte{prefixToken + 1}})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer it.Close()
	var out []*raftpb.TokenRecord
	for it.First(); it.Valid(); it.Next() {
		r := &raftpb.TokenRecord{}
		if err := proto.Unmarshal(it.Value(), r); err != nil {
			return nil, fmt.Errorf("decode token record: %w", err)
		}
		out = append(out, r)
	}
	return out, it.Error()
}
