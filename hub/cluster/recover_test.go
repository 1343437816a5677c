package cluster_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/cluster"
	"github.com/vigil-sec/vigil/hub/raftstore"
)

// listFSM keeps every applied command in order; its snapshots carry the
// whole list, so a node restarted from a snapshot holds everything.
type listFSM struct {
	mu   sync.Mutex
	cmds []string
	open int // snapshots taken and not yet released
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return len(f.cmds)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open++
	return &listSnapshot{f: f, cmds: append([]string(nil), f.cmds...)}, nil
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var cmds []string
	if err := json.NewDecoder(rc).Decode(&cmds); err != nil {
		return err
	}
	f.mu.Lock()
	f.cmds = cmds
	f.mu.Unlock()
	return nil
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

type listSnapshot struct {
	f    *listFSM
	cmds []string
}

func (s *listSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.cmds); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *listSnapshot) Release() {
	s.f.mu.Lock()
	s.f.open--
	s.f.mu.Unlock()
}

// memNode is an in-process Raft node on the directory layout of
// cluster.Start (dir/log, dir/snapshots) with an in-memory transport.
type memNode struct {
	id    raft.ServerID
	dir   string
	raft  *raft.Raft
	fsm   *listFSM
	logs  *raftstore.Store
	trans *raft.InmemTransport
}

func startMemNode(t *testing.T, id raft.ServerID, dir string) *memNode {
	t.Helper()
	logs, err := raftstore.Open(raftstore.Options{Path: filepath.Join(dir, "log"), NoSync: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport(raft.ServerAddress(id + "-addr"))
	rc := raft.DefaultConfig()
	rc.LocalID = id
	rc.LogOutput = io.Discard
	rc.HeartbeatTimeout = 50 * time.Millisecond
	rc.ElectionTimeout = 50 * time.Millisecond
	rc.LeaderLeaseTimeout = 50 * time.Millisecond
	rc.CommitTimeout = 5 * time.Millisecond
	// Snapshots only when the test asks for one.
	rc.SnapshotThreshold = 1 << 40
	rc.SnapshotInterval = time.Hour
	rc.TrailingLogs = 10
	f := &listFSM{}
	r, err := raft.NewRaft(rc, f, logs, logs, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	n := &memNode{id: id, dir: dir, raft: r, fsm: f, logs: logs, trans: trans}
	t.Cleanup(n.shutdown)
	return n
}

func (n *memNode) shutdown() {
	if n.raft == nil {
		return
	}
	_ = n.raft.Shutdown().Error()
	_ = n.trans.Close()
	_ = n.logs.Close()
	n.raft = nil
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leaderOf(t *testing.T, nodes []*memNode) *memNode {
	t.Helper()
	var l *memNode
	waitUntil(t, 10*time.Second, "a leader", func() bool {
		for _, n := range nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// TestRecover_LostQuorum builds a three-node cluster, commits entries
// (some before a snapshot, some after), loses two nodes for good, recovers
// the third alone and checks that it elects itself, holds every committed
// entry and takes new ones.
func TestRecover_LostQuorum(t *testing.T) {
	base := t.TempDir()
	var nodes []*memNode
	var conf raft.Configuration
	for i := 1; i <= 3; i++ {
		n := startMemNode(t, raft.ServerID(fmt.Sprintf("n%d", i)), filepath.Join(base, fmt.Sprintf("n%d", i)))
		nodes = append(nodes, n)
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: n.id, Address: n.trans.LocalAddr()})
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.trans.Connect(b.trans.LocalAddr(), b.trans)
			}
		}
	}
	if err := nodes[0].raft.BootstrapCluster(conf).Error(); err != nil {
		t.Fatal(err)
	}
	l := leaderOf(t, nodes)
	var want []string
	apply := func(n int) {
		for i := 0; i < n; i++ {
			cmd := fmt.Sprintf("cmd-%03d", len(want))
			if err := l.raft.Apply([]byte(cmd), 5*time.Second).Error(); err != nil {
				t.Fatal(err)
			}
			want = append(want, cmd)
		}
	}
	apply(60)
	// Every node snapshots and compacts, so recovery must restore a
	// snapshot and then replay the log after it.
	for _, n := range nodes {
		waitUntil(t, 10*time.Second, string(n.id)+" to apply 60 entries", func() bool { return len(n.fsm.list()) == 60 })
		if err := n.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot %s: %v", n.id, err)
		}
	}
	apply(40)
	survivor := nodes[2]
	if survivor == l {
		survivor = nodes[1]
	}
	waitUntil(t, 10*time.Second, "the survivor to apply every entry", func() bool { return len(survivor.fsm.list()) == len(want) })

	// Recovery refuses to run while the node holds its store.
	err := cluster.Recover(survivor.dir, &listFSM{}, []raft.Server{{Suffrage: raft.Voter, ID: survivor.id, Address: "127.0.0.1:7444"}}, quiet)
	if !errors.Is(err, cluster.ErrNodeRunning) {
		t.Fatalf("Recover on a running node: err = %v, want ErrNodeRunning", err)
	}

	for _, n := range nodes {
		n.shutdown()
	}
	// Alone, the survivor has no quorum: it cannot take a write.
	alone := startMemNode(t, survivor.id, survivor.dir)
	if err := alone.raft.Apply([]byte("no quorum"), 500*time.Millisecond).Error(); err == nil {
		t.Fatal("a node without quorum accepted a write")
	}
	alone.shutdown()

	start := time.Now()
	newConf := []raft.Server{{Suffrage: raft.Voter, ID: survivor.id, Address: survivor.trans.LocalAddr()}}
	rf := &listFSM{}
	if err := cluster.Recover(survivor.dir, rf, newConf, quiet); err != nil {
		t.Fatal(err)
	}
	t.Logf("recovered in %s", time.Since(start))
	if got := rf.list(); !slices.Equal(got, want) {
		t.Fatalf("Recover brought the state machine to %d entries, want %d", len(got), len(want))
	}
	// The state store of the hub cannot close with a snapshot still open.
	if rf.open != 0 {
		t.Fatalf("Recover left %d state machine snapshots unreleased", rf.open)
	}

	n := startMemNode(t, survivor.id, survivor.dir)
	waitUntil(t, 10*time.Second, "the recovered node to lead", func() bool { return n.raft.State() == raft.Leader })
	if err := n.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if got := n.fsm.list(); !slices.Equal(got, want) {
		t.Fatalf("recovered node holds %d entries, want %d (first difference in %v)", len(got), len(want), got)
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		t.Fatal(err)
	}
	if got := cf.Configuration().Servers; len(got) != 1 || got[0].ID != survivor.id || got[0].Suffrage != raft.Voter {
		t.Fatalf("configuration after recovery = %+v, want only %s", got, survivor.id)
	}
	if err := n.raft.Apply([]byte("after"), 5*time.Second).Error(); err != nil {
		t.Fatalf("apply after recovery: %v", err)
	}
	if got := n.fsm.list(); len(got) != len(want)+1 || got[len(got)-1] != "after" {
		t.Fatalf("entry after recovery not applied: %d entries", len(got))
	}

	// Running it again (say, after an interruption) is harmless.
	n.shutdown()
	if err := cluster.Recover(survivor.dir, &listFSM{}, newConf, quiet); err != nil {
		t.Fatalf("second recovery: %v", err)
	}
	n = startMemNode(t, survivor.id, survivor.dir)
	waitUntil(t, 10*time.Second, "the twice-recovered node to lead", func() bool { return n.raft.State() == raft.Leader })
	if err := n.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if got := n.fsm.list(); len(got) != len(want)+1 {
		t.Fatalf("after a second recovery the node holds %d entries, want %d", len(got), len(want)+1)
	}
}

func TestRecover_Refuses(t *testing.T) {
	self := []raft.Server{{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7444"}}
	// No Raft state: nothing is created.
	dir := filepath.Join(t.TempDir(), "raft")
	if err := cluster.Recover(dir, &listFSM{}, self, quiet); err == nil || !strings.Contains(err.Error(), "no Raft log") {
		t.Errorf("Recover without state: err = %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Recover without state created %s", dir)
	}
	// An empty log store is no state either.
	logs, err := raftstore.Open(raftstore.Options{Path: filepath.Join(dir, "log"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	logs.Close()
	if err := cluster.Recover(dir, &listFSM{}, self, quiet); err == nil || !strings.Contains(err.Error(), "no initial state") {
		t.Errorf("Recover on an empty store: err = %v", err)
	}
	for name, servers := range map[string][]raft.Server{
		"empty":        nil,
		"no voter":     {{Suffrage: raft.Nonvoter, ID: "n1", Address: "a:1"}},
		"duplicate id": {{ID: "n1", Address: "a:1"}, {ID: "n1", Address: "b:1"}},
		"no address":   {{ID: "n1"}},
	} {
		if err := cluster.Recover(dir, &listFSM{}, servers, quiet); err == nil {
			t.Errorf("Recover with %s configuration succeeded", name)
		}
	}
}

func TestParsePeers(t *testing.T) {
	got, err := cluster.ParsePeers([]byte(`[{"id":"hub-1","address":"127.0.0.1:7444"},
		{"id":"hub-2","address":"hub2.example.net:7444"}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []raft.Server{
		{Suffrage: raft.Voter, ID: "hub-1", Address: "127.0.0.1:7444"},
		{Suffrage: raft.Voter, ID: "hub-2", Address: "hub2.example.net:7444"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ParsePeers = %+v, want %+v", got, want)
	}
	for _, bad := range []string{
		``,
		`[]`,
		`null`,
		`{"id":"hub-1","address":"127.0.0.1:7444"}`,
		`[{"id":"hub-1"}]`,
		`[{"address":"127.0.0.1:7444"}]`,
		`[{"id":"hub-1","address":"127.0.0.1"}]`,
		`[{"id":"hub-1","address":"127.0.0.1:0"}]`,
		`[{"id":"hub-1","address":"127.0.0.1:7444","voter":false}]`,
		`[{"id":"hub-1","address":"127.0.0.1:7444"},{"id":"hub-1","address":"127.0.0.2:7444"}]`,
		`[{"id":"hub-1","address":"127.0.0.1:7444"},{"id":"hub-2","address":"127.0.0.1:7444"}]`,
		`[{"id":"hub-1","address":"127.0.0.1:7444"}] [`,
		`[{"id":"hub-1","address":"127.0.0.1:7444"},]`,
	} {
		if s, err := cluster.ParsePeers([]byte(bad)); err == nil {
			t.Errorf("ParsePeers(%q) = %+v, want an error", bad, s)
		}
	}
}
