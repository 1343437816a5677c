// Package api owns the hub's HTTPS JSON API: routing, bearer-token
// authentication, the caller's branch scope, and one endpoint file per
// resource. Every route checks the caller's branch (invariant 7); a token
// scoped to one branch never sees or changes another's. The package never
// writes state except through Backend.Apply, i.e. through Raft.
package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/hub/store"
	"google.golang.org/protobuf/proto"
)

// Backend is what the API needs from the hub server.
type Backend interface {
	Store() *store.Store
	// Apply proposes a command through Raft and returns its result.
	Apply(t fsm.MessageType, m proto.Message) (any, error)
	// ReadBarrier makes the next local read linearizable: it confirms this
	// node is still the leader and that its state covers every commit.
	ReadBarrier() error
	CA() *pki.CA
	Status() map[string]any
	HeadSeq(agent string) (uint64, bool)
}

// Scope is what a token may see: AllBranches or one branch.
type Scope struct {
	Name   string
	Branch string // "*" for every branch
}

// AllBranches is the branch of admin scopes.
const AllBranches = "*"

// Allows reports whether the scope covers branch.
func (s Scope) Allows(branch string) bool { return s.Branch == AllBranches || s.Branch == branch }

// Server is the API handler.
type Server struct {
	b       Backend
	log     *slog.Logger
	tokens  map[[32]byte]Scope
	mux     *http.ServeMux
	metrics http.Handler
}

// New builds the handler. tokens maps bearer secrets to scopes.
func New(b Backend, tokens map[string]Scope, metrics http.Handler, log *slog.Logger) *Server {
	s := &Server{b: b, log: log, tokens: map[[32]byte]Scope{}, mux: http.NewServeMux(), metrics: metrics}
	for secret, sc := range tokens {
		s.tokens[sha256.Sum256([]byte(secret))] = sc
	}
	s.mux.HandleFunc("GET /v1/events", s.auth(s.eventsList))
	s.mux.HandleFunc("GET /v1/events/counts", s.auth(s.eventsCounts))
	s.mux.HandleFunc("GET /v1/agents", s.auth(s.agentsList))
	s.mux.HandleFunc("POST /v1/enroll-tokens", s.auth(s.tokenCreate))
	s.mux.HandleFunc("GET /v1/enroll-tokens", s.auth(s.tokensList))
	s.mux.HandleFunc("GET /v1/status", s.auth(s.status))
	s.mux.HandleFunc("GET /v1/members", s.auth(s.membersList))
	s.mux.HandleFunc("GET /v1/operator/raft/peers", s.auth(s.peersList))
	s.mux.HandleFunc("DELETE /v1/operator/raft/peers/{id}", s.auth(s.peerRemove))
	s.mux.HandleFunc("POST /v1/operator/raft/transfer-leadership", s.auth(s.transferLeadership))
	s.mux.HandleFunc("POST /v1/cluster/join-tokens", s.auth(s.joinTokenCreate))
	s.mux.HandleFunc("GET /v1/operator/snapshot", s.auth(s.snapshotSave))
	s.mux.HandleFunc("POST /v1/operator/snapshot", s.auth(s.snapshotRestore))
	s.mux.HandleFunc("GET /v1/operator/state-hash", s.auth(s.stateHash))
	s.mux.HandleFunc("GET /metrics", s.auth(func(w http.ResponseWriter, r *http.Request, _ Scope) { s.metrics.ServeHTTP(w, r) }))
	s.mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type scopedHandler func(w http.ResponseWriter, r *http.Request, sc Scope)

// auth resolves the bearer token to a scope; hashing first makes the lookup
// independent of how much of a guessed token matches.
func (s *Server) auth(h scopedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			writeError(w, http.StatusUnauthorized, "missing bearer token")
			return
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		var found *Scope
		for k, sc := range s.tokens {
			if subtle.ConstantTimeCompare(k[:], sum[:]) == 1 {
				found = &sc
			}
		}
		if found == nil {
			writeError(w, http.StatusForbidden, "invalid token")
			return
		}
		h(w, r, *found)
	}
}

// consistent runs the read barrier unless the caller asked for ?stale.
func (s *Server) consistent(w http.ResponseWriter, r *http.Request) bool {
	if _, stale := r.URL.Query()["stale"]; stale {
		w.Header().Set("X-Vigil-Consistency", "stale")
		return true
	}
	if err := s.b.ReadBarrier(); err != nil {
		// A follower passes a consistent read on to the leader.
		if c, ok := s.b.(Cluster); ok && !c.IsLeader() && c.ProxyToLeader(w, r) {
			return false
		}
		writeError(w, http.StatusServiceUnavailable, "consistent read unavailable: "+err.Error())
		return false
	}
	w.Header().Set("X-Vigil-Consistency", "linearizable")
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ErrorBody is every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorBody{Error: msg})
}

// parseTime accepts RFC 3339, Unix nanoseconds, or a negative duration
// relative to now ("-1h").
func parseTime(v string, now time.Time) (int64, error) {
	if v == "" {
		return 0, nil
	}
	if strings.HasPrefix(v, "-") {
		if d, err := time.ParseDuration(v[1:]); err == nil {
			return now.Add(-d).UnixNano(), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UnixNano(), nil
	}
	var n int64
	if _, err := fmt.Sscanf(v, "%d", &n); err == nil && fmt.Sprint(n) == v {
		return n, nil
	}
	return 0, errors.New("time must be RFC 3339, Unix nanoseconds, or -DURATION")
}
