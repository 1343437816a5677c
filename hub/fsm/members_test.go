package fsm_test

import (
	"testing"

	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

func TestFSM_Member_UpsertKeepsJoinTime(t *testing.T) {
	h := newHarness(t)
	r := h.apply(fsm.MemberUpsertType, &raftpb.MemberUpsert{Now: 10, Member: &raftpb.MemberRecord{NodeId: "hub-2", RaftAddr: "a:1", IngestAddr: "a:2", ApiAddr: "a:3"}}).(*fsm.MemberResult)
	if r.Member.JoinedAt != 10 || r.Member.UpdatedAt != 10 {
		t.Fatalf("first upsert %v", r.Member)
	}
	if r := h.apply(fsm.MemberUpsertType, &raftpb.MemberUpsert{Now: 20, Member: &raftpb.MemberRecord{NodeId: "hub-2", RaftAddr: "b:1", IngestAddr: "b:2"}}).(*fsm.MemberResult); r.Member.UpdatedAt != 20 {
		t.Fatalf("second upsert %v", r.Member)
	}
	ms, err := h.st.Members()
	if err != nil || len(ms) != 1 || ms[0].RaftAddr != "b:1" || ms[0].JoinedAt != 10 || ms[0].UpdatedAt != 20 {
		t.Fatalf("members %v %v", ms, err)
	}
}

// TestFSM_ServerJoin_TokenKinds checks that a server token admits a hub node
// once, and that agent and server tokens cannot stand in for each other.
func TestFSM_ServerJoin_TokenKinds(t *testing.T) {
	h := newHarness(t)
	h.apply(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "srv", SecretHash: "s", Kind: fsm.TokenKindServer, ExpiresAt: 100, Now: 1})
	h.createToken("agt", "a", "north", 100, 1)
	join := func(id, hash string, now int64) *fsm.TokenResult {
		return tokenResult(t, h.apply(fsm.ServerJoinType, &raftpb.ServerJoin{TokenId: id, SecretHash: hash, NodeId: "hub-2", Now: now}))
	}
	if r := join("agt", "a", 5); r.Err == nil || r.Err.Code != fsm.TokenErrInvalid {
		t.Fatalf("agent token joined a server: %+v", r)
	}
	if r := h.consumeToken("srv", "s", "agent-x", 5); r.Err == nil || r.Err.Code != fsm.TokenErrInvalid {
		t.Fatalf("server token enrolled an agent: %+v", r)
	}
	if r := join("srv", "wrong", 5); r.Err == nil || r.Err.Code != fsm.TokenErrInvalid {
		t.Fatalf("wrong secret: %+v", r)
	}
	if r := join("srv", "s", 5); r.Err != nil || r.Token.UsedBy != "hub-2" {
		t.Fatalf("server join: %+v", r)
	}
	if r := join("srv", "s", 6); r.Err == nil || r.Err.Code != fsm.TokenErrUsed {
		t.Fatalf("second join: %+v", r)
	}
	h.apply(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: "old", SecretHash: "o", Kind: fsm.TokenKindServer, ExpiresAt: 100, Now: 1})
	if r := join("old", "o", 100); r.Err == nil || r.Err.Code != fsm.TokenErrExpired {
		t.Fatalf("expired join: %+v", r)
	}
}

func TestFSM_SnapshotRestore_Members(t *testing.T) {
	testSnapshotRestore(t, func(h *harness) {
		for _, id := range []string{"hub-1", "hub-2", "hub-3"} {
			h.apply(fsm.MemberUpsertType, &raftpb.MemberUpsert{Now: 3, Member: &raftpb.MemberRecord{NodeId: id, RaftAddr: id + ":7444", IngestAddr: id + ":7443"}})
		}
	}, func(t *testing.T, src, dst *harness) {
		got, err := dst.st.Members()
		if err != nil || len(got) != 3 || got[2].NodeId != "hub-3" || got[2].IngestAddr != "hub-3:7443" {
			t.Fatalf("members after restore: %v %v", got, err)
		}
	})
}
