// Package enroll owns the hub side of agent enrollment: one exchange on a
// QUIC connection that negotiated protocol.EnrollALPN. The agent has no
// certificate yet; it proves itself with a single-use token whose secret the
// hub knows only by hash, and it has already authenticated the hub by the CA
// fingerprint pinned in that token. The token is spent through Raft (so two
// nodes can never both accept it) before the agent's CSR is signed.
//
// It never trusts a name or branch from the request: the agent ID is made
// here and the branch comes from the token record.
package enroll

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
	"github.com/quic-go/quic-go"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/frame"
	"github.com/vigil-sec/vigil/protocol/identity"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// Apply applies an encoded command through Raft (forwarding it to the
// leader from a follower) and returns the state machine's result.
type Apply func(cmd []byte, timeout time.Duration) (any, error)

// Handler serves enrollment connections.
type Handler struct {
	CA      *pki.CA
	Apply   Apply
	Members func() []string
	Log     *slog.Logger
	// CertValidity is the lifetime of agent certificates; default one year.
	CertValidity time.Duration
}

const maxRequestBytes = 64 << 10

// ServeEnroll handles one enrollment connection.
func (h *Handler) ServeEnroll(ctx context.Context, conn *quic.Conn) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := conn.AcceptStream(ctx)
	if err != nil {
		_ = conn.CloseWithError(2, "no enrollment stream")
		return
	}
	defer func() {
		_ = s.Close()
		// Let the response reach the agent before the connection goes.
		select {
		case <-conn.Context().Done():
		case <-time.After(2 * time.Second):
		}
		_ = conn.CloseWithError(0, "")
	}()
	_ = s.SetDeadline(time.Now().Add(20 * time.Second))
	fr := frame.NewReader(s, maxRequestBytes)
	fw := frame.NewWriter(s, frame.DefaultMaxSize)
	var req agentpb.EnrollRequest
	if err := fr.ReadMsg(frame.TypeEnrollRequest, &req); err != nil {
		_ = fw.WriteError(frame.CodeMalformed, "expected enroll request: "+err.Error())
		return
	}
	log := h.Log.With("remote", conn.RemoteAddr().String(), "token_id", req.TokenId, "hostname", req.Hostname)
	resp, code, err := h.enroll(&req)
	if err != nil {
		log.Warn("enrollment refused", "code", code, "error", err)
		_ = fw.WriteError(code, err.Error())
		return
	}
	if err := fw.Write(frame.TypeEnrollResponse, resp); err != nil {
		log.Warn("send enrollment response", "error", err)
		return
	}
	log.Info("agent enrolled", "agent_id", resp.AgentId, "branch", resp.Branch)
}

func (h *Handler) enroll(req *agentpb.EnrollRequest) (*agentpb.EnrollResponse, string, error) {
	tok := identity.Token{ID: req.TokenId, Secret: req.TokenSecret}
	// Re-use the codec's validation by parsing the canonical form with a
	// placeholder pin: the pin was already checked by the agent's handshake.
	if _, err := identity.ParseToken(identity.Token{ID: tok.ID, Secret: tok.Secret, CAPin: h.CA.Fingerprint()}.String()); err != nil {
		return nil, frame.CodeTokenInvalid, err
	}
	// Refuse a CSR the CA would not sign before the token is spent, so a
	// bad request cannot burn a token.
	if err := pki.ValidateAgentCSR(req.CsrPem); err != nil {
		return nil, frame.CodeMalformed, fmt.Errorf("csr: %w", err)
	}
	if req.Hostname != "" {
		if err := identity.ValidateName(req.Hostname); err != nil {
			return nil, frame.CodeMalformed, fmt.Errorf("hostname: %w", err)
		}
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, frame.CodeInternal, fmt.Errorf("agent id: %w", err)
	}
	agentID := "agt-" + hex.EncodeToString(idb[:])
	now := time.Now()
	cmd, err := fsm.Encode(fsm.TokenConsumeType, &raftpb.TokenConsume{
		TokenId: tok.ID, SecretHash: tok.SecretHash(), AgentId: agentID,
		Hostname: req.Hostname, AgentVersion: req.AgentVersion, Now: now.UnixNano(),
	})
	if err != nil {
		return nil, frame.CodeInternal, err
	}
	out, err := h.Apply(cmd, 10*time.Second)
	if err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return nil, frame.CodeNotLeader, fmt.Errorf("this hub node is not the leader; retry another node")
		}
		return nil, frame.CodeInternal, fmt.Errorf("spend token: %w", err)
	}
	res, ok := out.(*fsm.TokenResult)
	if !ok {
		return nil, frame.CodeInternal, fmt.Errorf("spend token: unexpected result %T", out)
	}
	if res.Err != nil {
		return nil, tokenCode(res.Err.Code), res.Err
	}
	validity := h.CertValidity
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	cert, err := h.CA.SignAgentCSR(req.CsrPem, agentID, res.Agent.Branch, now, validity)
	if err != nil {
		return nil, frame.CodeInternal, fmt.Errorf("sign agent certificate: %w", err)
	}
	var members []string
	if h.Members != nil {
		members = h.Members()
	}
	return &agentpb.EnrollResponse{AgentId: agentID, Branch: res.Agent.Branch, CertPem: cert, CaPem: h.CA.CertPEM(), Members: members}, "", nil
}

func tokenCode(c string) string {
	switch c {
	case fsm.TokenErrExpired:
		return frame.CodeTokenExpired
	case fsm.TokenErrUsed:
		return frame.CodeTokenUsed
	case fsm.TokenErrUnknown:
		return frame.CodeTokenUnknown
	}
	return frame.CodeTokenInvalid
}
