package fsm_test

import (
	"slices"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestFSM_Token_CreateConsume(t *testing.T) {
	h := newHarness(t)
	cr := h.createToken("t1", "h1", "branch-7", 1000, 100)
	want := &raftpb.TokenRecord{Id: "t1", SecretHash: "h1", Branch: "branch-7", CreatedAt: 100, ExpiresAt: 1000, Description: "test"}
	if cr.Err != nil || !proto.Equal(cr.Token, want) || cr.Agent != nil {
		t.Fatalf("create: %+v", cr)
	}
	if got := h.token("t1"); !proto.Equal(got, want) {
		t.Fatalf("stored token %v", got)
	}

	r := h.consumeToken("t1", "h1", "agent-1", 999)
	if r.Err != nil {
		t.Fatalf("consume: %v", r.Err)
	}
	wantAgent := &raftpb.AgentRecord{Id: "agent-1", Branch: "branch-7", Hostname: "host-agent-1", Version: "0.1", EnrolledAt: 999}
	if !proto.Equal(r.Agent, wantAgent) {
		t.Fatalf("consume result agent %v, want %v", r.Agent, wantAgent)
	}
	if got := h.agent("agent-1"); !proto.Equal(got, wantAgent) {
		t.Fatalf("stored agent %v, want %v", got, wantAgent)
	}
	used := h.token("t1")
	if used.UsedAt != 999 || used.UsedBy != "agent-1" || r.Token.UsedAt != 999 {
		t.Fatalf("token after consume %v", used)
	}

	// Spent: a second consume is refused, even for another agent id, and
	// changes nothing.
	before := h.hash()
	r = h.consumeToken("t1", "h1", "agent-2", 999)
	if r.Err == nil || r.Err.Code != fsm.TokenErrUsed || !contains(r.Err.Message, "agent-1") || r.Agent != nil {
		t.Fatalf("second consume: %+v", r)
	}
	if h.agent("agent-2") != nil || h.hash() != before {
		t.Fatal("a refused consume changed the store")
	}
	if h.applied() != 3 {
		t.Fatalf("applied %d, want 3", h.applied())
	}
}

func TestFSM_Token_Refusals(t *testing.T) {
	h := newHarness(t)
	h.createToken("t1", "h1", "b", 1000, 100)
	h.createToken("t2", "h2", "b", 1000, 100)
	h.enroll("taken", "b")
	before := h.hash()
	cases := []struct {
		name                 string
		token, secret, agent string
		now                  int64
		code                 string
	}{
		{"wrong secret", "t1", "h2", "a1", 500, fsm.TokenErrInvalid},
		{"empty secret", "t1", "", "a1", 500, fsm.TokenErrInvalid},
		{"secret prefix", "t1", "h", "a1", 500, fsm.TokenErrInvalid},
		{"unknown token", "t9", "h1", "a1", 500, fsm.TokenErrUnknown},
		{"expired exactly", "t1", "h1", "a1", 1000, fsm.TokenErrExpired},
		{"expired later", "t1", "h1", "a1", 5000, fsm.TokenErrExpired},
		{"agent id taken", "t1", "h1", "taken", 500, fsm.TokenErrExists},
	}
	for _, c := range cases {
		r := h.consumeToken(c.token, c.secret, c.agent, c.now)
		if r.Err == nil || r.Err.Code != c.code || r.Agent != nil || r.Err.Error() != r.Err.Message {
			t.Errorf("%s: %+v, want code %s", c.name, r, c.code)
		}
	}
	if h.hash() != before {
		t.Fatal("refused consumes changed the store")
	}
	// The token is still good just before expiry.
	if r := h.consumeToken("t1", "h1", "a1", 999); r.Err != nil || r.Agent.GetBranch() != "b" {
		t.Fatalf("consume before expiry: %+v", r)
	}
	// A duplicate token id is refused and the original kept.
	if r := h.createToken("t2", "other", "other", 5, 5); r.Err == nil || r.Err.Code != fsm.TokenErrExists {
		t.Fatalf("duplicate create: %+v", r)
	}
	if tk := h.token("t2"); tk.SecretHash != "h2" || tk.Branch != "b" {
		t.Fatalf("duplicate create replaced the token: %v", tk)
	}
}

func TestFSM_Token_SameBatch(t *testing.T) {
	h := newHarness(t)
	logs := []*raft.Log{
		h.entry(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "t", SecretHash: "s", Branch: "br", ExpiresAt: 100, Now: 1}),
		h.entry(fsm.TokenConsumeType, &raftpb.TokenConsume{TokenId: "t", SecretHash: "bad", AgentId: "x", Now: 2}),
		h.entry(fsm.TokenConsumeType, &raftpb.TokenConsume{TokenId: "t", SecretHash: "s", AgentId: "a", Hostname: "ha", Now: 3}),
		h.entry(fsm.TokenConsumeType, &raftpb.TokenConsume{TokenId: "t", SecretHash: "s", AgentId: "b", Now: 4}),
		h.entry(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "t", SecretHash: "s2", Branch: "br2", ExpiresAt: 100, Now: 5}),
		// The agent registered earlier in this batch can ship at once.
		h.entry(fsm.IngestBatchType, seqBatch("a", 1, 1, 3, 6)),
	}
	out := h.batch(logs...)
	codes := []string{}
	for _, r := range out[:5] {
		tr := tokenResult(t, r)
		if tr.Err != nil {
			codes = append(codes, tr.Err.Code)
		} else {
			codes = append(codes, "ok")
		}
	}
	if want := []string{"ok", fsm.TokenErrInvalid, "ok", fsm.TokenErrUsed, fsm.TokenErrExists}; !slices.Equal(codes, want) {
		t.Fatalf("codes %v want %v", codes, want)
	}
	if a := tokenResult(t, out[2]).Agent; a.GetBranch() != "br" || a.GetEnrolledAt() != 3 {
		t.Fatalf("agent %v", a)
	}
	if ir := ingestResult(t, out[5]); ir.Status != fsm.IngestStored || ir.Stored != 3 || ir.AckedSeq != 3 {
		t.Fatalf("ingest in the enrolling batch: %+v", ir)
	}
	a := h.agent("a")
	if a.GetBranch() != "br" || a.GetAckedSeq() != 3 || a.GetEvents() != 3 || a.GetHostname() != "ha" || a.GetEnrolledAt() != 3 {
		t.Fatalf("stored agent %v", a)
	}
	if h.agent("b") != nil || h.agent("x") != nil {
		t.Fatal("a refused consume registered an agent")
	}
	if tk := h.token("t"); tk.UsedBy != "a" || tk.UsedAt != 3 || tk.SecretHash != "s" {
		t.Fatalf("token %v", tk)
	}
	if h.applied() != 6 || h.count("a") != 3 {
		t.Fatalf("applied %d count %d", h.applied(), h.count("a"))
	}
}
