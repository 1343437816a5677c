package api

import (
	"net/http"
	"time"
)

// Agent is one entry of GET /v1/agents.
type Agent struct {
	ID         string `json:"id"`
	Branch     string `json:"branch"`
	Hostname   string `json:"hostname"`
	Version    string `json:"version"`
	Epoch      uint64 `json:"epoch"`
	AckedSeq   uint64 `json:"acked_seq"`
	HeadSeq    uint64 `json:"head_seq,omitempty"`
	LagEvents  uint64 `json:"lag_events"`
	EnrolledAt string `json:"enrolled_at"`
	LastSeen   string `json:"last_seen,omitempty"`
	Events     uint64 `json:"events"`
	Batches    uint64 `json:"batches"`
	Duplicates uint64 `json:"duplicate_batches"`
}

func (s *Server) agentsList(w http.ResponseWriter, r *http.Request, sc Scope) {
	branch := r.URL.Query().Get("branch")
	if sc.Branch != AllBranches {
		if branch != "" && branch != sc.Branch {
			writeError(w, http.StatusForbidden, "token is scoped to branch "+sc.Branch)
			return
		}
		branch = sc.Branch
	}
	if !s.consistent(w, r) {
		return
	}
	recs, err := s.b.Store().Agents(branch)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]Agent, 0, len(recs))
	for _, a := range recs {
		ag := Agent{
			ID: a.Id, Branch: a.Branch, Hostname: a.Hostname, Version: a.Version, Epoch: a.Epoch,
			AckedSeq: a.AckedSeq, EnrolledAt: fmtTime(a.EnrolledAt), LastSeen: fmtTime(a.LastSeen),
			Events: a.Events, Batches: a.Batches, Duplicates: a.DuplicateBatches,
		}
		if head, ok := s.b.HeadSeq(a.Id); ok {
			ag.HeadSeq = head
			if head > a.AckedSeq {
				ag.LagEvents = head - a.AckedSeq
			}
		}
		out = append(out, ag)
	}
	writeJSON(w, http.StatusOK, out)
}

func fmtTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}
