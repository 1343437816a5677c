package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/agentpb"
)

// EventsResponse is GET /v1/events.
type EventsResponse struct {
	Events  []map[string]any `json:"events"`
	Next    string           `json:"next,omitempty"`
	Scanned int              `json:"scanned"`
}

// eventsList serves GET /v1/events?from=&to=&agent=&branch=&limit=&cursor=&field.NAME=VALUE.
func (s *Server) eventsList(w http.ResponseWriter, r *http.Request, sc Scope) {
	q := r.URL.Query()
	now := time.Now()
	from, err := parseTime(q.Get("from"), now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "from: "+err.Error())
		return
	}
	to, err := parseTime(q.Get("to"), now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "to: "+err.Error())
		return
	}
	eq := store.EventQuery{From: from, To: to, Agent: q.Get("agent"), Branch: q.Get("branch"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		if eq.Limit, err = strconv.Atoi(v); err != nil || eq.Limit < 1 {
			writeError(w, http.StatusBadRequest, "limit must be a positive integer")
			return
		}
	}
	if sc.Branch != AllBranches {
		if eq.Branch != "" && eq.Branch != sc.Branch {
			writeError(w, http.StatusForbidden, "token is scoped to branch "+sc.Branch)
			return
		}
		eq.Branch = sc.Branch
	}
	for k, vs := range q {
		if name, ok := strings.CutPrefix(k, "field."); ok && len(vs) > 0 {
			if eq.Fields == nil {
				eq.Fields = map[string]string{}
			}
			eq.Fields[name] = vs[0]
		}
	}
	if !s.consistent(w, r) {
		return
	}
	res, err := s.b.Store().Events(eq)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	branches := map[string]string{}
	out := EventsResponse{Events: make([]map[string]any, 0, len(res.Events)), Next: res.Next, Scanned: res.Scanned}
	for _, e := range res.Events {
		br, ok := branches[e.AgentID]
		if !ok {
			if rec, err := s.b.Store().Agent(e.AgentID); err == nil && rec != nil {
				br = rec.Branch
			}
			branches[e.AgentID] = br
		}
		out.Events = append(out.Events, RenderEvent(e, br))
	}
	writeJSON(w, http.StatusOK, out)
}

// RenderEvent turns a stored event into flat ECS-named JSON.
func RenderEvent(e store.StoredEvent, branch string) map[string]any {
	ev := e.Event
	m := make(map[string]any, len(ev.Fields)+10)
	m["@timestamp"] = time.Unix(0, e.Timestamp).UTC().Format(time.RFC3339Nano)
	if ev.CreatedUnixNano != 0 {
		m["event.created"] = time.Unix(0, ev.CreatedUnixNano).UTC().Format(time.RFC3339Nano)
	}
	m["event.original"] = ev.Original
	if ev.Original == "" && len(ev.OriginalBytes) > 0 {
		// The raw record was not UTF-8: JSON shows it with replacement
		// characters; the exact bytes stay in the store.
		m["event.original"] = strings.ToValidUTF8(string(ev.OriginalBytes), "\uFFFD")
	}
	m["agent.id"] = e.AgentID
	m["vigil.branch"] = branch
	m["vigil.epoch"] = strconv.FormatUint(e.Epoch, 10) // beyond 2^53: a string survives JSON readers
	m["vigil.seq"] = e.Seq
	if ev.Input != "" {
		m["input.type"] = ev.Input
	}
	if ev.Parser != "" {
		m["vigil.parser"] = ev.Parser
	}
	if len(ev.Tags) > 0 {
		m["tags"] = ev.Tags
	}
	if slices.Contains(ev.Tags, "parse_error") {
		// An unparsed record is its own message; the agent does not store
		// it twice.
		m["message"] = m["event.original"]
	}
	for _, f := range ev.Fields {
		switch v := f.Value.(type) {
		case *agentpb.Field_Str:
			m[f.Key] = v.Str
		case *agentpb.Field_Int:
			m[f.Key] = v.Int
		case *agentpb.Field_Float:
			m[f.Key] = v.Float
		case *agentpb.Field_Bool:
			m[f.Key] = v.Bool
		}
	}
	return m
}

// CountsResponse is GET /v1/events/counts.
type CountsResponse struct {
	Total   uint64            `json:"total"`
	ByAgent map[string]uint64 `json:"by_agent"`
	ByInput map[string]uint64 `json:"by_input"`
}

// eventsCounts serves GET /v1/events/counts: stored events per agent and per
// input (source) within the caller's scope. It scans the store; meant for
// demos and checks rather than dashboards.
func (s *Server) eventsCounts(w http.ResponseWriter, r *http.Request, sc Scope) {
	if !s.consistent(w, r) {
		return
	}
	out := CountsResponse{ByAgent: map[string]uint64{}, ByInput: map[string]uint64{}}
	eq := store.EventQuery{Limit: 10000, MaxScan: 1 << 30}
	if sc.Branch != AllBranches {
		eq.Branch = sc.Branch
	}
	for {
		res, err := s.b.Store().Events(eq)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		for _, e := range res.Events {
			out.Total++
			out.ByAgent[e.AgentID]++
			out.ByInput[e.Event.Input]++
		}
		if res.Next == "" {
			break
		}
		eq.Cursor = res.Next
	}
	writeJSON(w, http.StatusOK, out)
}
