package hub

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestDeadServers_NeverBelowQuorum(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	voters := func(ids ...string) []raft.Server {
		var out []raft.Server
		for _, id := range ids {
			out = append(out, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id)})
		}
		return out
	}
	long, short := now.Add(-time.Hour), now.Add(-time.Second)
	cases := []struct {
		name      string
		servers   []raft.Server
		failed    map[raft.ServerID]time.Time
		minQuorum int
		want      []string
	}{
		{"nothing failing", voters("a", "b", "c"), nil, 2, nil},
		{"failing, not for long", voters("a", "b", "c"), map[raft.ServerID]time.Time{"c": short}, 2, nil},
		{"one dead of three, min 2", voters("a", "b", "c"), map[raft.ServerID]time.Time{"c": long}, 2, []string{"c"}},
		{"one dead of three, min 3", voters("a", "b", "c"), map[raft.ServerID]time.Time{"c": long}, 3, nil},
		{"two dead of five, min 3", voters("a", "b", "c", "d", "e"), map[raft.ServerID]time.Time{"d": long, "e": long}, 3, []string{"d", "e"}},
		// Removing d leaves 4 voters, 3 of them healthy; removing e as well
		// would leave 3, fewer than min_quorum 4.
		{"two dead of five, min 4", voters("a", "b", "c", "d", "e"), map[raft.ServerID]time.Time{"d": long, "e": long}, 4, []string{"d"}},
		// Two healthy of five (c has just started failing): removing d would
		// leave 4 voters of which only 2 are healthy, not a majority.
		{"healthy not a majority", voters("a", "b", "c", "d", "e"), map[raft.ServerID]time.Time{"c": short, "d": long, "e": long}, 2, nil},
		{"self never removed", voters("a", "b", "c"), map[raft.ServerID]time.Time{"a": long}, 1, nil},
		{"non-voters ignored", append(voters("a", "b", "c"), raft.Server{Suffrage: raft.Nonvoter, ID: "x"}), map[raft.ServerID]time.Time{"x": long}, 1, nil},
	}
	for _, tc := range cases {
		got := deadServers(tc.servers, "a", tc.failed, now, 10*time.Minute, tc.minQuorum)
		var ids []string
		for _, id := range got {
			ids = append(ids, string(id))
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s: removed %v, want %v", tc.name, ids, tc.want)
		}
	}
}

func TestPlanBootstrap(t *testing.T) {
	self := BootstrapInfo{NodeID: "hub-2", RaftAddr: "10.0.0.2:7444", BootstrapExpect: 3}
	p1 := BootstrapInfo{NodeID: "hub-1", RaftAddr: "10.0.0.1:7444", BootstrapExpect: 3}
	p3 := BootstrapInfo{NodeID: "hub-3", RaftAddr: "10.0.0.3:7444", BootstrapExpect: 3}

	if s, err := planBootstrap(self, []BootstrapInfo{p1}); s != nil || err != nil {
		t.Errorf("two of three: %v, %v; want to wait", s, err)
	}
	s, err := planBootstrap(self, []BootstrapInfo{p3, p1})
	if err != nil {
		t.Fatal(err)
	}
	want := []raft.Server{
		{Suffrage: raft.Voter, ID: "hub-1", Address: "10.0.0.1:7444"},
		{Suffrage: raft.Voter, ID: "hub-2", Address: "10.0.0.2:7444"},
		{Suffrage: raft.Voter, ID: "hub-3", Address: "10.0.0.3:7444"},
	}
	if !slices.Equal(s, want) {
		t.Errorf("servers = %v, want %v", s, want)
	}
	// The same set seen from another server gives the same configuration.
	if s2, _ := planBootstrap(p3, []BootstrapInfo{self, p1}); !slices.Equal(s2, want) {
		t.Errorf("from hub-3: %v, want %v", s2, want)
	}
	withState := p3
	withState.HasState = true
	if _, err := planBootstrap(self, []BootstrapInfo{p1, withState}); err == nil || !errors.Is(err, errExistingCluster) {
		t.Errorf("peer with state: %v, want errExistingCluster", err)
	}
	other := p3
	other.BootstrapExpect = 5
	if _, err := planBootstrap(self, []BootstrapInfo{p1, other}); err == nil || errors.Is(err, errExistingCluster) {
		t.Errorf("expect mismatch: %v, want an error", err)
	}
	twin := p3
	twin.NodeID = "hub-1"
	if _, err := planBootstrap(self, []BootstrapInfo{p1, twin}); err == nil {
		t.Error("two servers named hub-1 accepted")
	}
}
