package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
)

// clusterNode is one hub node of a multi-node cluster, on its own loopback
// address (127.0.0.N).
type clusterNode struct {
	*hub
	ip string
	id string // node id, hub-N
}

// startCluster starts n hub nodes on 127.0.0.1..n: the first bootstraps,
// the others join it with server join tokens.
func startCluster(t *testing.T, n int) []*clusterNode {
	t.Helper()
	var ips []string
	for i := 1; i <= n; i++ {
		ips = append(ips, fmt.Sprintf("127.0.0.%d", i))
	}
	return startClusterOn(t, ips, nil)
}

// startClusterOn starts one hub node per address; prefix, when not nil,
// gives the command each node runs through (its network namespace).
func startClusterOn(t *testing.T, ips []string, prefix func(i int) []string) []*clusterNode {
	t.Helper()
	needBinaries(t)
	port := func() int { return freePort(t) }
	ingestPort, raftPort, apiPort := port(), port(), port()
	var nodes []*clusterNode
	for i := 1; i <= len(ips); i++ {
		ip := ips[i-1]
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("hub-%d", i))
		args := []string{"init", "-data", dir, "-node-id", fmt.Sprintf("hub-%d", i), "-ip", ip,
			"-ingest-addr", fmt.Sprintf("%s:%d", ip, ingestPort), "-raft-addr", fmt.Sprintf("%s:%d", ip, raftPort),
			"-api-addr", fmt.Sprintf("%s:%d", ip, apiPort)}
		if i > 1 {
			var res api.TokenResponse
			if err := nodes[0].client.Do("POST", "/v1/cluster/join-tokens", nil, api.JoinTokenRequest{TTL: "10m"}, &res); err != nil {
				t.Fatalf("join token: %v", err)
			}
			// Each node joins through the one before it: node 3 through a
			// follower, which passes the registration on to the leader.
			args = append(args, "-join", fmt.Sprintf("%s:%d", nodes[i-2].ip, apiPort), "-token", res.Token)
		}
		var pre []string
		if prefix != nil {
			pre = prefix(i - 1)
		}
		if out, err := command(pre, "vigil-hub", args...).CombinedOutput(); err != nil {
			t.Fatalf("init hub-%d: %v\n%s", i, err, out)
		}
		node := newClusterNode(t, i, ip, dir, [3]int{ingestPort, raftPort, apiPort}, pre)
		node.startAndWait()
		nodes = append(nodes, node)
	}
	waitVoters(t, nodes, len(ips))
	return nodes
}

// newClusterNode prepares (does not start) node i of a cluster whose data
// directory dir was initialised: it appends the tests' tight Raft timing to
// hub.yaml and makes an API client.
func newClusterNode(t *testing.T, i int, ip, dir string, ports [3]int, prefix []string) *clusterNode {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "hub.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "raft:\n  heartbeat_timeout: 300ms\n  election_timeout: 300ms\n")
	f.Close()
	h := &hub{ip: ip, dir: dir, ingest: ports[0], raft: ports[1], apiP: ports[2]}
	h.proc = &proc{t: t, name: "vigil-hub", args: []string{"serve", "-data", dir}, log: filepath.Join(filepath.Dir(dir), fmt.Sprintf("hub-%d.log", i)), prefix: prefix}
	tok, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	if h.client, err = api.NewClient(fmt.Sprintf("https://%s:%d", ip, ports[2]), strings.TrimSpace(string(tok)), filepath.Join(dir, "tls", "ca.crt")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			h.dumpLog()
		}
		h.stop()
	})
	return &clusterNode{hub: h, ip: ip, id: fmt.Sprintf("hub-%d", i)}
}

// waitVoters waits until the first node lists n members, all voters.
func waitVoters(t *testing.T, nodes []*clusterNode, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d voters", n), func() bool {
		var ms []api.Member
		if nodes[0].client.Do("GET", "/v1/members", nil, nil, &ms) != nil || len(ms) != n {
			return false
		}
		for _, m := range ms {
			if !m.Voter {
				return false
			}
		}
		return true
	})
}

// leader asks the live nodes who leads.
func leader(t *testing.T, nodes []*clusterNode) *clusterNode {
	t.Helper()
	var found *clusterNode
	waitFor(t, 30*time.Second, "a leader", func() bool {
		for _, n := range nodes {
			if n.cmd == nil {
				continue
			}
			var peers []api.Peer
			if n.client.Do("GET", "/v1/operator/raft/peers", nil, nil, &peers) != nil {
				continue
			}
			for _, p := range peers {
				if p.Leader {
					for _, m := range nodes {
						if m.id == p.ID && m.cmd != nil {
							found = m
							return true
						}
					}
				}
			}
		}
		return false
	})
	return found
}

// TestE2E_ClusterKillLeaderUnderLoad runs a three-node hub on 127.0.0.1-3
// with two agents sending, kills the leader with SIGKILL three times (each
// time restarting it), and checks that every line is stored exactly once.
func TestE2E_ClusterKillLeaderUnderLoad(t *testing.T) {
	nodes := startCluster(t, 3)
	agents := []*agentProc{
		startAgent(t, nodes[1].hub, agentOpts{branch: "north"}),
		startAgent(t, nodes[2].hub, agentOpts{branch: "south"}),
	}
	// 40 000 lines each at 2 500/s: the senders outlast the three kills.
	const n = 40000
	var gens []*exec.Cmd
	for _, a := range agents {
		gen := exec.Command(filepath.Join(binDir, "sysloggen"), "-tcp", a.tcp, "-count", fmt.Sprint(n), "-rate", "2500", "-prefix", "ck")
		if err := gen.Start(); err != nil {
			t.Fatal(err)
		}
		gens = append(gens, gen)
	}
	var failovers []time.Duration
	for i := 0; i < 3; i++ {
		time.Sleep(1200 * time.Millisecond)
		l := leader(t, nodes)
		acked := agents[0].statusNow().Buffer.AckedSeq
		killed := time.Now()
		l.kill9()
		waitFor(t, 30*time.Second, "acknowledgements to resume", func() bool {
			st, err := agents[0].tryStatus()
			return err == nil && st.Buffer.AckedSeq > acked
		})
		failovers = append(failovers, time.Since(killed))
		t.Logf("kill %d of leader %s: agent acknowledgements resumed after %s", i+1, l.ip, time.Since(killed).Round(10*time.Millisecond))
		l.startAndWait()
	}
	slices.Sort(failovers)
	t.Logf("failover as the agent sees it: median %s, max %s", failovers[len(failovers)/2].Round(10*time.Millisecond), failovers[len(failovers)-1].Round(10*time.Millisecond))
	if last := agents[0].statusNow().Buffer.LastSeq; last >= n {
		t.Fatalf("the sender finished (%d lines) before the kills did: the test measured nothing", last)
	}
	for _, gen := range gens {
		if err := gen.Wait(); err != nil {
			t.Fatalf("sysloggen: %v", err)
		}
	}
	for _, a := range agents {
		a.drained(60 * time.Second)
		exactlyOnce(t, nodes[0].events(a.id), "ck", n)
	}
	// Every node holds the same events once the cluster settles.
	for _, node := range nodes {
		var counts api.CountsResponse
		waitFor(t, 30*time.Second, "node "+node.ip+" caught up", func() bool {
			return node.client.Do("GET", "/v1/events/counts", map[string][]string{"stale": {""}}, nil, &counts) == nil && counts.Total == 2*n
		})
	}
}

// TestE2E_ClusterFollowerCatchesUpBySnapshot kills a follower, writes enough
// that the leader compacts its log past the follower's position, restarts
// the follower and checks it catches up (through a snapshot install) to
// exactly the same events.
func TestE2E_ClusterFollowerCatchesUpBySnapshot(t *testing.T) {
	nodes := startCluster(t, 3)
	for _, n := range nodes {
		f, err := os.OpenFile(filepath.Join(n.dir, "hub.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Snapshot often and keep few entries, so the log is compacted
		// past a stopped follower quickly.
		fmt.Fprintf(f, "  snapshot_threshold: 50\n  snapshot_interval: 200ms\n  trailing_logs: 20\n")
		f.Close()
		n.stop()
	}
	for _, n := range nodes {
		n.start()
	}
	l := leader(t, nodes)
	var follower *clusterNode
	for _, n := range nodes {
		if n != l {
			follower = n
			break
		}
	}
	a := startAgent(t, l.hub, agentOpts{maxBatchEvents: 20})
	followerLast := raftStat(t, follower, "last_log_index")
	follower.kill9()
	// 6000 lines in batches of at most 20: at least 300 entries, many
	// times the snapshot threshold.
	sysloggen(t, "-tcp", a.tcp, "-count", "6000", "-prefix", "snap")
	a.drained(60 * time.Second)
	// The leader's log no longer reaches back to where the follower stopped:
	// only a snapshot can bring it up to date.
	var leaderFirst uint64
	waitFor(t, 30*time.Second, "the leader to compact its log past the follower", func() bool {
		snap := raftStat(t, l, "last_snapshot_index")
		if snap < 20 {
			return false
		}
		leaderFirst = snap - 20 // trailing_logs
		return leaderFirst > followerLast+1
	})
	t.Logf("follower stopped at index %d; leader's log now starts after %d", followerLast, leaderFirst)
	follower.startAndWait()
	var counts api.CountsResponse
	waitFor(t, 60*time.Second, "the restarted follower to hold every event", func() bool {
		return follower.client.Do("GET", "/v1/events/counts", map[string][]string{"stale": {""}}, nil, &counts) == nil && counts.Total == 6000
	})
	exactlyOnce(t, follower.events(a.id), "snap", 6000)
}

// TestE2E_ClusterPausedLeader stops the leader with SIGSTOP for longer than
// the election timeout: the others elect a new leader and the agent carries
// on; when the old leader resumes it must not accept writes as leader, and
// nothing is lost or duplicated.
func TestE2E_ClusterPausedLeader(t *testing.T) {
	nodes := startCluster(t, 3)
	a := startAgent(t, nodes[0].hub, agentOpts{})
	gen := exec.Command(filepath.Join(binDir, "sysloggen"), "-tcp", a.tcp, "-count", "12000", "-rate", "3000", "-prefix", "pause")
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	old := leader(t, nodes)
	start := time.Now()
	if err := old.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var others []*clusterNode
	for _, n := range nodes {
		if n != old {
			others = append(others, n)
		}
	}
	newLeader := leader(t, others)
	// A write the paused node cannot know of.
	var written api.TokenResponse
	if err := newLeader.client.Do("POST", "/v1/enroll-tokens", nil, api.TokenRequest{Branch: "during-pause", TTL: "10m"}, &written); err != nil {
		t.Fatalf("token create at the new leader: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := old.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The first read and write through the resumed node, at once: a
	// linearizable read either fails or sees the write made during the
	// pause; a write either fails or is committed by the new leader.
	var (
		read       []api.TokenInfo
		readErr    error
		created    api.TokenResponse
		writeErr   error
		readerDone = make(chan struct{})
		writerDone = make(chan struct{})
	)
	go func() {
		defer close(readerDone)
		readErr = old.client.Do("GET", "/v1/enroll-tokens", nil, nil, &read)
	}()
	go func() {
		defer close(writerDone)
		writeErr = old.client.Do("POST", "/v1/enroll-tokens", nil, api.TokenRequest{Branch: "after-resume", TTL: "10m"}, &created)
	}()
	<-readerDone
	<-writerDone
	if readErr == nil && !slices.ContainsFunc(read, func(ti api.TokenInfo) bool { return ti.ID == written.ID }) {
		t.Fatalf("stale read: the resumed node answered without the token %s created while it was paused", written.ID)
	}
	if writeErr == nil {
		var all []api.TokenInfo
		if err := newLeader.client.Do("GET", "/v1/enroll-tokens", nil, nil, &all); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(all, func(ti api.TokenInfo) bool { return ti.ID == created.ID }) {
			t.Fatalf("the resumed node acknowledged token %s, which the cluster does not hold", created.ID)
		}
	}
	t.Logf("first read through the resumed node: err=%v, saw the pause-time write: %v; first write: err=%v", readErr, readErr == nil, writeErr)
	// Once resumed, the old leader learns of the newer term and follows.
	waitFor(t, 20*time.Second, "the resumed node to follow", func() bool {
		var peers []api.Peer
		if old.client.Do("GET", "/v1/operator/raft/peers", nil, nil, &peers) != nil {
			return false
		}
		for _, p := range peers {
			if p.Leader {
				return p.ID != old.id
			}
		}
		return false
	})
	t.Logf("leader %s paused; %s took over; resumed node follows after %s", old.ip, newLeader.ip, time.Since(start))
	if err := gen.Wait(); err != nil {
		t.Fatalf("sysloggen: %v", err)
	}
	t.Logf("sender done after %s", time.Since(start))
	a.drained(60 * time.Second)
	t.Logf("drained after %s", time.Since(start))
	exactlyOnce(t, newLeader.events(a.id), "pause", 12000)
}

// raftStat reads one numeric Raft statistic from a node's /v1/status.
func raftStat(t *testing.T, n *clusterNode, name string) uint64 {
	t.Helper()
	var st struct {
		Raft map[string]string `json:"raft"`
	}
	if err := n.client.Do("GET", "/v1/status", nil, nil, &st); err != nil {
		t.Fatalf("status of %s: %v", n.ip, err)
	}
	var v uint64
	if _, err := fmt.Sscan(st.Raft[name], &v); err != nil {
		t.Fatalf("status of %s: %s = %q", n.ip, name, st.Raft[name])
	}
	return v
}

// TestE2E_ClusterRollingRestartAndFullRestart restarts the nodes one at a
// time while an agent sends (handing leadership away before the leader goes
// down), then kills every node at once and starts them again: nothing is
// lost or duplicated, and every node ends with the same events.
func TestE2E_ClusterRollingRestartAndFullRestart(t *testing.T) {
	nodes := startCluster(t, 3)
	a := startAgent(t, nodes[0].hub, agentOpts{})
	gen := exec.Command(filepath.Join(binDir, "sysloggen"), "-tcp", a.tcp, "-count", "12000", "-rate", "2500", "-prefix", "roll")
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if l := leader(t, nodes); l == n {
			var res map[string]string
			if err := n.client.Do("POST", "/v1/operator/raft/transfer-leadership", nil, api.TransferRequest{}, &res); err != nil {
				t.Fatalf("transfer leadership away from %s: %v", n.ip, err)
			}
			t.Logf("leadership moved from %s to %s", n.ip, res["leader"])
		}
		n.stop()
		n.startAndWait()
	}
	if err := gen.Wait(); err != nil {
		t.Fatalf("sysloggen: %v", err)
	}
	a.drained(60 * time.Second)
	exactlyOnce(t, nodes[0].events(a.id), "roll", 12000)

	// The whole cluster goes down hard and comes back.
	for _, n := range nodes {
		n.kill9()
	}
	for _, n := range nodes {
		n.start()
	}
	for _, n := range nodes {
		var counts api.CountsResponse
		waitFor(t, 60*time.Second, "node "+n.ip+" back with every event", func() bool {
			return n.client.Do("GET", "/v1/events/counts", map[string][]string{"stale": {""}}, nil, &counts) == nil && counts.Total == 12000
		})
	}
	l := leader(t, nodes)
	exactlyOnce(t, l.events(a.id), "roll", 12000)
	// And the cluster takes writes again.
	sysloggen(t, "-tcp", a.tcp, "-count", "100", "-prefix", "after")
	a.drained(30 * time.Second)
	exactlyOnce(t, l.events(a.id), "after", 100)
}
