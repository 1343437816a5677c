package fsm

import (
	"crypto/subtle"
	"fmt"

	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

func init() {
	registerCommand(TokenCreateType, applyTokenCreate)
	registerCommand(TokenConsumeType, applyTokenConsume)
}

// TokenError says why a token was refused. The codes are stable.
type TokenError struct {
	Code    string // one of the TokenErr* codes
	Message string
}

func (e *TokenError) Error() string { return e.Message }

// Token refusal codes.
const (
	TokenErrUnknown = "unknown"
	TokenErrInvalid = "invalid"
	TokenErrUsed    = "used"
	TokenErrExpired = "expired"
	TokenErrExists  = "exists"
)

// TokenResult is the result of a token command: the registered agent on a
// successful consume, or the refusal.
type TokenResult struct {
	Token *raftpb.TokenRecord
	Agent *raftpb.AgentRecord
	Err   *TokenError
}

func applyTokenCreate(c *applyCtx, payload []byte) (any, error) {
	var m raftpb.TokenCreate
	if err := proto.Unmarshal(payload, &m); err != nil {
		panic(fmt.Sprintf("fsm: decode token create at index %d: %v", c.index, err))
	}
	old, err := c.token(m.TokenId)
	if err != nil {
		return nil, err
	}
	if old != nil {
		return &TokenResult{Err: &TokenError{TokenErrExists, "token id already exists"}}, nil
	}
	rec := &raftpb.TokenRecord{
		Id: m.TokenId, SecretHash: m.SecretHash, Branch: m.Branch,
		CreatedAt: m.Now, ExpiresAt: m.ExpiresAt, Description: m.Description,
	}
	if err := c.putToken(rec); err != nil {
		return nil, err
	}
	return &TokenResult{Token: rec}, nil
}

// applyTokenConsume spends a single-use token and registers the agent. The
// expiry is judged against the proposer's stamped time, so every node agrees.
func applyTokenConsume(c *applyCtx, payload []byte) (any, error) {
	var m raftpb.TokenConsume
	if err := proto.Unmarshal(payload, &m); err != nil {
		panic(fmt.Sprintf("fsm: decode token consume at index %d: %v", c.index, err))
	}
	tok, err := c.token(m.TokenId)
	if err != nil {
		return nil, err
	}
	switch {
	case tok == nil:
		return &TokenResult{Err: &TokenError{TokenErrUnknown, "enrollment token not known to this cluster"}}, nil
	case subtle.ConstantTimeCompare([]byte(tok.SecretHash), []byte(m.SecretHash)) != 1:
		return &TokenResult{Err: &TokenError{TokenErrInvalid, "enrollment token secret does not match"}}, nil
	case tok.UsedAt != 0:
		return &TokenResult{Err: &TokenError{TokenErrUsed, "enrollment token was already used by agent " + tok.UsedBy}}, nil
	case m.Now >= tok.ExpiresAt:
		return &TokenResult{Err: &TokenError{TokenErrExpired, "enrollment token expired"}}, nil
	}
	existing, err := c.agent(m.AgentId)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return &TokenResult{Err: &TokenError{TokenErrExists, "agent id already registered"}}, nil
	}
	tok = proto.Clone(tok).(*raftpb.TokenRecord)
	tok.UsedAt, tok.UsedBy = m.Now, m.AgentId
	if err := c.putToken(tok); err != nil {
		return nil, err
	}
	agent := &raftpb.AgentRecord{
		Id: m.AgentId, Branch: tok.Branch, Hostname: m.Hostname,
		Version: m.AgentVersion, EnrolledAt: m.Now,
	}
	c.putAgent(agent)
	return &TokenResult{Token: tok, Agent: agent}, nil
}

// token returns a token record as changed so far in this batch.
func (c *applyCtx) token(id string) (*raftpb.TokenRecord, error) {
	if t, ok := c.tokens[id]; ok {
		return t, nil
	}
	return c.batch.Token(id)
}

func (c *applyCtx) putToken(t *raftpb.TokenRecord) error {
	if c.tokens == nil {
		c.tokens = map[string]*raftpb.TokenRecord{}
	}
	c.tokens[t.Id] = t
	return c.batch.PutToken(t)
}
