package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// countFSM applies 8-byte command IDs. It ignores an ID it has already
// applied (a client retry after lost leadership can commit one twice) and
// folds the IDs, in log order, into an order-sensitive hash, so two
// replicas agree only if they applied the same commands in the same order.
type countFSM struct {
	mu   sync.Mutex
	ids  []uint64
	seen map[uint64]bool
	hash uint64
}

func newCountFSM() *countFSM { return &countFSM{seen: map[uint64]bool{}} }

func (f *countFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || len(l.Data) != 8 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := binary.BigEndian.Uint64(l.Data)
	if !f.seen[id] {
		f.apply(id)
	}
	return len(f.ids)
}

func (f *countFSM) apply(id uint64) {
	f.seen[id] = true
	f.ids = append(f.ids, id)
	f.hash = (f.hash ^ id) * 1099511628211
}

// state returns the number of distinct commands applied and the hash.
func (f *countFSM) state() (int, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ids), f.hash
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	buf := make([]byte, 0, 8*len(f.ids))
	for _, id := range f.ids {
		buf = binary.BigEndian.AppendUint64(buf, id)
	}
	return fsmSnapshot(buf), nil
}

func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	buf, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if len(buf)%8 != 0 {
		return fmt.Errorf("snapshot of %d bytes", len(buf))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids, f.seen, f.hash = nil, map[uint64]bool{}, 0
	for ; len(buf) > 0; buf = buf[8:] {
		f.apply(binary.BigEndian.Uint64(buf))
	}
	return nil
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (fsmSnapshot) Release() {}

// syncBuffer collects raft's log output so a failing test can show it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type node struct {
	id    raft.ServerID
	dir   string
	store *Store
	fsm   *countFSM
	trans *raft.InmemTransport
	raft  *raft.Raft
}

type cluster struct {
	t      *testing.T
	nodes  []*node
	logOut *syncBuffer
}

const trailingLogs = 50

func (c *cluster) config(id raft.ServerID) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = id
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	// Snapshots only when the test asks; keep few trailing entries so that
	// compaction deletes most of the log.
	conf.SnapshotThreshold = 1 << 40
	conf.SnapshotInterval = time.Hour
	conf.TrailingLogs = trailingLogs
	conf.LogOutput = c.logOut
	conf.LogLevel = "INFO"
	return conf
}

// start opens n's store in its directory and starts raft on it.
func (c *cluster) start(n *node) {
	c.t.Helper()
	n.store = openAt(c.t, filepath.Join(n.dir, "raft"))
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(n.dir, "snapshots"), 2, c.logOut)
	if err != nil {
		c.t.Fatal(err)
	}
	n.fsm = newCountFSM()
	_, n.trans = raft.NewInmemTransport(raft.ServerAddress(n.id))
	for _, o := range c.nodes {
		if o != n && o.trans != nil {
			o.trans.Connect(n.trans.LocalAddr(), n.trans)
			n.trans.Connect(o.trans.LocalAddr(), o.trans)
		}
	}
	n.raft, err = raft.NewRaft(c.config(n.id), n.fsm, n.store, n.store, snaps, n.trans)
	if err != nil {
		c.t.Fatalf("NewRaft(%s): %v", n.id, err)
	}
}

// stop shuts n's raft down, cuts it off the network and closes its store.
func (c *cluster) stop(n *node) {
	c.t.Helper()
	if n.raft == nil {
		return
	}
	if err := n.raft.Shutdown().Error(); err != nil {
		c.t.Errorf("shutdown %s: %v", n.id, err)
	}
	n.raft = nil
	for _, o := range c.nodes {
		if o != n && o.trans != nil {
			o.trans.Disconnect(n.trans.LocalAddr())
		}
	}
	_ = n.trans.Close()
	n.trans = nil
	if err := n.store.Close(); err != nil {
		c.t.Errorf("close store %s: %v", n.id, err)
	}
}

func (c *cluster) leader() *node {
	for _, n := range c.nodes {
		if n.raft != nil && n.raft.State() == raft.Leader {
			return n
		}
	}
	return nil
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// apply commits command IDs lo..hi, pipelined, retrying any that fail
// because leadership moved.
func (c *cluster) apply(lo, hi uint64) {
	c.t.Helper()
	pending := make([]uint64, 0, hi-lo+1)
	for id := lo; id <= hi; id++ {
		pending = append(pending, id)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			c.t.Fatalf("could not apply %d commands", len(pending))
		}
		var l *node
		waitFor(c.t, "a leader", 10*time.Second, func() bool { l = c.leader(); return l != nil })
		futures := make([]raft.ApplyFuture, len(pending))
		for i, id := range pending {
			futures[i] = l.raft.Apply(binary.BigEndian.AppendUint64(nil, id), 5*time.Second)
		}
		var retry []uint64
		for i, f := range futures {
			if err := f.Error(); err != nil {
				if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) &&
					!errors.Is(err, raft.ErrEnqueueTimeout) {
					c.t.Fatalf("apply %d: %v", pending[i], err)
				}
				retry = append(retry, pending[i])
			}
		}
		if len(retry) > 0 {
			c.t.Logf("retrying %d commands after leadership change", len(retry))
		}
		pending = retry
	}
}

// waitConverged waits until every running node has applied want distinct
// commands in the same order.
func (c *cluster) waitConverged(want int) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("all FSMs to apply %d commands and agree", want), 30*time.Second, func() bool {
		var hash0 uint64
		for i, n := range c.nodes {
			if n.raft == nil {
				continue
			}
			got, hash := n.fsm.state()
			if got != want {
				return false
			}
			if i == 0 {
				hash0 = hash
			} else if hash != hash0 {
				return false
			}
		}
		return true
	})
}

func (c *cluster) snapshotAll() {
	c.t.Helper()
	for _, n := range c.nodes {
		if err := n.raft.Snapshot().Error(); err != nil {
			c.t.Fatalf("snapshot %s: %v", n.id, err)
		}
	}
}

type persisted struct {
	term, voteTerm uint64
	voteCand       []byte
	first, last    uint64
	lastLog        raft.Log
}

func readPersisted(t *testing.T, s *Store) persisted {
	t.Helper()
	var p persisted
	var err error
	if p.term, err = s.GetUint64([]byte("CurrentTerm")); err != nil {
		t.Fatalf("CurrentTerm: %v", err)
	}
	if p.voteTerm, err = s.GetUint64([]byte("LastVoteTerm")); err != nil && err != ErrKeyNotFound {
		t.Fatalf("LastVoteTerm: %v", err)
	}
	if p.voteCand, err = s.Get([]byte("LastVoteCand")); err != nil && err != ErrKeyNotFound {
		t.Fatalf("LastVoteCand: %v", err)
	}
	p.first, _ = s.FirstIndex()
	p.last, _ = s.LastIndex()
	if err := s.GetLog(p.last, &p.lastLog); err != nil {
		t.Fatalf("GetLog(last=%d): %v", p.last, err)
	}
	return p
}

// TestCluster_RaftStoreReplicatesCompactsAndRestarts runs three raft nodes on Stores: replication, snapshot
// driven compaction (DeleteRange of a prefix), and a node restarted from
// its own Pebble directory that must recover its term, vote and log and
// then catch up by snapshot installation.
func TestCluster_RaftStoreReplicatesCompactsAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a raft cluster")
	}
	c := &cluster{t: t, logOut: &syncBuffer{}}
	base := t.TempDir()
	var servers []raft.Server
	for i := range 3 {
		id := raft.ServerID(fmt.Sprintf("node%d", i))
		c.nodes = append(c.nodes, &node{id: id, dir: filepath.Join(base, string(id))})
		servers = append(servers, raft.Server{ID: id, Address: raft.ServerAddress(id)})
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.stop(n)
		}
		if t.Failed() {
			out := c.logOut.String()
			t.Logf("raft log (last 8 KiB):\n%s", out[max(0, len(out)-8192):])
		}
	})
	for _, n := range c.nodes {
		c.start(n)
	}
	if err := c.nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatal(err)
	}

	// Replicate 500 commands.
	c.apply(1, 500)
	c.waitConverged(500)

	// Snapshot everywhere; compaction must call DeleteRange on a prefix.
	c.snapshotAll()
	for _, n := range c.nodes {
		first, _ := n.store.FirstIndex()
		last, _ := n.store.LastIndex()
		if first <= 1 || last-first+1 < trailingLogs {
			t.Fatalf("%s after snapshot: log [%d, %d], want compaction leaving >= %d entries",
				n.id, first, last, trailingLogs)
		}
		var l raft.Log
		if err := n.store.GetLog(first-1, &l); err != raft.ErrLogNotFound {
			t.Fatalf("%s: compacted entry %d still readable: %v", n.id, first-1, err)
		}
	}

	// Stop a follower and remember what it had persisted.
	leader := c.leader()
	if leader == nil {
		waitFor(t, "a leader", 10*time.Second, func() bool { leader = c.leader(); return leader != nil })
	}
	victim := c.nodes[slices.IndexFunc(c.nodes, func(n *node) bool { return n != leader })]
	c.stop(victim)
	s := openAt(t, filepath.Join(victim.dir, "raft"))
	before := readPersisted(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s stopped: term %d, vote %d/%q, log [%d, %d]",
		victim.id, before.term, before.voteTerm, before.voteCand, before.first, before.last)

	// The rest of the cluster moves on and compacts past the victim's log,
	// so it will need a snapshot to catch up.
	c.apply(501, 800)
	c.waitConverged(800)
	for _, n := range c.nodes {
		if n.raft != nil {
			if err := n.raft.Snapshot().Error(); err != nil {
				t.Fatalf("snapshot %s: %v", n.id, err)
			}
		}
	}

	// Restart the victim from its own directory.
	c.start(victim)
	after := readPersisted(t, victim.store)
	if after.first != before.first || after.last != before.last ||
		after.term < before.term || after.voteTerm < before.voteTerm {
		t.Fatalf("%s recovered %+v, had %+v", victim.id, after, before)
	}
	if after.term == before.term && after.voteTerm == before.voteTerm && !bytes.Equal(after.voteCand, before.voteCand) {
		t.Fatalf("%s: vote changed from %q to %q within term %d", victim.id, before.voteCand, after.voteCand, before.voteTerm)
	}
	assertLogEqual(t, &before.lastLog, &after.lastLog)

	c.waitConverged(800)
	c.apply(801, 850)
	c.waitConverged(850)
	waitFor(t, "logs to reach the same last index", 10*time.Second, func() bool {
		var want uint64
		for i, n := range c.nodes {
			last, _ := n.store.LastIndex()
			if i == 0 {
				want = last
			} else if last != want {
				return false
			}
		}
		return true
	})
	// Every entry after a node's latest snapshot must be readable: raft
	// replays them on restart. Older ones may be absent: a follower that
	// installs a snapshot keeps its stale entries below the snapshot and
	// appends above it, leaving a gap (see TestStore_LogGaps), because Store is
	// not a raft.MonotonicLogStore.
	for _, n := range c.nodes {
		first, _ := n.store.FirstIndex()
		last, _ := n.store.LastIndex()
		var snapIdx uint64
		if _, err := fmt.Sscan(n.raft.Stats()["last_snapshot_index"], &snapIdx); err != nil {
			t.Fatal(err)
		}
		present := 0
		for i := first; i <= last; i++ {
			var l raft.Log
			err := n.store.GetLog(i, &l)
			switch {
			case err == nil:
				present++
				if l.Index != i {
					t.Fatalf("%s: GetLog(%d) returned index %d", n.id, i, l.Index)
				}
			case err != raft.ErrLogNotFound || i > snapIdx:
				t.Fatalf("%s: GetLog(%d), log [%d, %d], snapshot %d: %v", n.id, i, first, last, snapIdx, err)
			}
		}
		t.Logf("%s: log [%d, %d] holds %d entries, snapshot at %d", n.id, first, last, present, snapIdx)
	}
}
