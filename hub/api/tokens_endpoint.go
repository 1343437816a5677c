package api

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"time"

	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/protocol/identity"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// TokenRequest is the body of POST /v1/enroll-tokens.
type TokenRequest struct {
	Branch      string `json:"branch"`
	TTL         string `json:"ttl"` // Go duration; default 1h, at most 720h
	Description string `json:"description,omitempty"`
}

// TokenResponse answers POST /v1/enroll-tokens. Token is shown once; the hub
// keeps only its hash.
type TokenResponse struct {
	Token     string `json:"token"`
	ID        string `json:"id"`
	Branch    string `json:"branch"`
	ExpiresAt string `json:"expires_at"`
	CAPin     string `json:"ca_pin"`
}

const maxTokenTTL = 720 * time.Hour

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request, sc Scope) {
	var req TokenRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if err := identity.ValidateName(req.Branch); err != nil {
		writeError(w, http.StatusBadRequest, "branch: "+err.Error())
		return
	}
	if !sc.Allows(req.Branch) {
		writeError(w, http.StatusForbidden, "token is scoped to branch "+sc.Branch)
		return
	}
	s.issueToken(w, req.TTL, &raftpb.TokenCreate{Branch: req.Branch, Description: req.Description, Kind: fsm.TokenKindAgent})
}

// issueToken creates a single-use token through Raft from tmpl (kind,
// branch, description) with a TTL given as a Go duration (default 1h, at
// most 720h) and answers with the token, which is shown only this once.
func (s *Server) issueToken(w http.ResponseWriter, ttlText string, tmpl *raftpb.TokenCreate) {
	ttl := time.Hour
	if ttlText != "" {
		d, err := time.ParseDuration(ttlText)
		if err != nil || d <= 0 || d > maxTokenTTL {
			writeError(w, http.StatusBadRequest, "ttl must be a positive duration of at most 720h")
			return
		}
		ttl = d
	}
	tok, err := identity.NewToken(rand.Reader, s.b.CA().Fingerprint())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	now := time.Now()
	tmpl.TokenId, tmpl.SecretHash = tok.ID, tok.SecretHash()
	tmpl.ExpiresAt, tmpl.Now = now.Add(ttl).UnixNano(), now.UnixNano()
	res, err := s.b.Apply(fsm.TokenCreateType, tmpl)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	tr, ok := res.(*fsm.TokenResult)
	if !ok || tr.Err != nil || tr.Token == nil {
		writeError(w, http.StatusConflict, "token not created; retry")
		return
	}
	s.log.Info("token created", "token_id", tok.ID, "kind", tmpl.Kind, "branch", tmpl.Branch, "expires_at", fmtTime(tr.Token.ExpiresAt))
	writeJSON(w, http.StatusCreated, TokenResponse{
		Token: tok.String(), ID: tok.ID, Branch: tmpl.Branch,
		ExpiresAt: fmtTime(tr.Token.ExpiresAt), CAPin: tok.CAPin,
	})
}

// TokenInfo is one entry of GET /v1/enroll-tokens; secrets are never listed.
type TokenInfo struct {
	ID          string `json:"id"`
	Branch      string `json:"branch"`
	CreatedAt   string `json:"created_at"`
	ExpiresAt   string `json:"expires_at"`
	UsedAt      string `json:"used_at,omitempty"`
	UsedBy      string `json:"used_by,omitempty"`
	Description string `json:"description,omitempty"`
}

func (s *Server) tokensList(w http.ResponseWriter, r *http.Request, sc Scope) {
	if !s.consistent(w, r) {
		return
	}
	recs, err := s.b.Store().Tokens()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := []TokenInfo{}
	for _, t := range recs {
		if !sc.Allows(t.Branch) {
			continue
		}
		out = append(out, TokenInfo{ID: t.Id, Branch: t.Branch, CreatedAt: fmtTime(t.CreatedAt), ExpiresAt: fmtTime(t.ExpiresAt),
			UsedAt: fmtTime(t.UsedAt), UsedBy: t.UsedBy, Description: t.Description})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, sc Scope) {
	if sc.Branch != AllBranches {
		writeError(w, http.StatusForbidden, "cluster status needs an all-branches token")
		return
	}
	writeJSON(w, http.StatusOK, s.b.Status())
}
