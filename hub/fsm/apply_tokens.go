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

// Token kinds.
const (
	TokenKindAgent  = "agent"
	TokenKindServer = "server"
)

// kindOf reads a token record's kind; records from before kinds existed are
// agent tokens.
func kindOf(t *raftpb.TokenRecord) string {
	if t == nil || t.Kind == "" {
		return TokenKindAgent
	}
	return t.Kind
}

// checkToken decides whether a token may be spent now for kind.
func checkToken(tok *raftpb.TokenRecord, secretHash string, now int64, kind string) *TokenError {
	switch {
	case tok == nil:
		return &TokenError{TokenErrUnknown, "token not known to this cluster"}
	case subtle.ConstantTimeCompare([]byte(tok.SecretHash), []byte(secretHash)) != 1:
		return &TokenError{TokenErrInvalid, "token secret does not match"}
	case kindOf(tok) != kind:
		return &TokenError{TokenErrInvalid, fmt.Sprintf("token is for joining as %s, not as %s", kindOf(tok), kind)}
	case tok.UsedAt != 0:
		return &TokenError{TokenErrUsed, fmt.Sprintf("token was already used (by %s %s)", kindOf(tok), tok.UsedBy)}
	case now >= tok.ExpiresAt:
		return &TokenError{TokenErrExpired, "token expired"}
	}
	return nil
}

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
		CreatedAt: m.Now, ExpiresAt: m.ExpiresAt, Description: m.Description, Kind: m.Kind,
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
	if refusal := checkToken(tok, m.SecretHash, m.Now, TokenKindAgent); refusal != nil {
		if refusal.Code != TokenErrInvalid || kindOf(tok) == TokenKindAgent {
			refusal.Message = "enrollment " + refusal.Message
		}
		return &TokenResult{Err: refusal}, nil
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
