package fsm

import (
	"fmt"

	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

func init() {
	registerCommand(MemberUpsertType, applyMemberUpsert)
	registerCommand(ServerJoinType, applyServerJoin)
	registerCommand(MemberRemoveType, applyMemberRemove)
}

func applyMemberRemove(c *applyCtx, payload []byte) (any, error) {
	var m raftpb.MemberRemove
	if err := proto.Unmarshal(payload, &m); err != nil {
		panic(fmt.Sprintf("fsm: decode member remove at index %d: %v", c.index, err))
	}
	if err := c.batch.DeleteMember(m.NodeId); err != nil {
		return nil, err
	}
	return &MemberResult{}, nil
}

// MemberResult is the result of a MemberUpsert entry.
type MemberResult struct {
	Member *raftpb.MemberRecord
}

func applyMemberUpsert(c *applyCtx, payload []byte) (any, error) {
	var m raftpb.MemberUpsert
	if err := proto.Unmarshal(payload, &m); err != nil {
		panic(fmt.Sprintf("fsm: decode member upsert at index %d: %v", c.index, err))
	}
	if m.Member == nil || m.Member.NodeId == "" {
		return &MemberResult{}, nil
	}
	rec := proto.Clone(m.Member).(*raftpb.MemberRecord)
	old, err := c.batch.Member(rec.NodeId)
	if err != nil {
		return nil, err
	}
	rec.JoinedAt = m.Now
	if old != nil {
		rec.JoinedAt = old.JoinedAt
	}
	rec.UpdatedAt = m.Now
	if err := c.batch.PutMember(rec); err != nil {
		return nil, err
	}
	return &MemberResult{Member: rec}, nil
}

// applyServerJoin spends a server join token. The token must be of kind
// "server": an agent token never admits a hub node.
func applyServerJoin(c *applyCtx, payload []byte) (any, error) {
	var m raftpb.ServerJoin
	if err := proto.Unmarshal(payload, &m); err != nil {
		panic(fmt.Sprintf("fsm: decode server join at index %d: %v", c.index, err))
	}
	tok, err := c.token(m.TokenId)
	if err != nil {
		return nil, err
	}
	if refusal := checkToken(tok, m.SecretHash, m.Now, TokenKindServer); refusal != nil {
		return &TokenResult{Err: refusal}, nil
	}
	tok = proto.Clone(tok).(*raftpb.TokenRecord)
	tok.UsedAt, tok.UsedBy = m.Now, m.NodeId
	if err := c.putToken(tok); err != nil {
		return nil, err
	}
	return &TokenResult{Token: tok}, nil
}
