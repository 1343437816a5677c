package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
)

// TestE2E_ClusterBootstrapExpectAndDeadServerCleanup forms a three-node
// cluster with bootstrap_expect (no node bootstraps alone, and two are not
// enough), then kills a follower for good: the leader's autopilot removes it
// once it has been dead for dead_server_after, and adds it back when it
// returns.
func TestE2E_ClusterBootstrapExpectAndDeadServerCleanup(t *testing.T) {
	needBinaries(t)
	ports := [3]int{freePort(t), freePort(t), freePort(t)}
	ips := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	apiAddr := func(ip string) string { return fmt.Sprintf("%s:%d", ip, ports[2]) }
	root := t.TempDir()
	var nodes []*clusterNode
	for i, ip := range ips {
		dir := filepath.Join(root, fmt.Sprintf("hub-%d", i+1))
		var others []string
		for _, o := range ips {
			if o != ip {
				others = append(others, apiAddr(o))
			}
		}
		args := []string{"init", "-data", dir, "-node-id", fmt.Sprintf("hub-%d", i+1), "-ip", ip,
			"-ingest-addr", fmt.Sprintf("%s:%d", ip, ports[0]), "-raft-addr", fmt.Sprintf("%s:%d", ip, ports[1]),
			"-api-addr", apiAddr(ip), "-bootstrap-expect", "3", "-join", strings.Join(others, ",")}
		if i > 0 {
			args = append(args, "-ca-from", nodes[0].dir)
		}
		if out, err := command(nil, "vigil-hub", args...).CombinedOutput(); err != nil {
			t.Fatalf("init hub-%d: %v\n%s", i+1, err, out)
		}
		n := newClusterNode(t, i+1, ip, dir, ports, nil)
		f, err := os.OpenFile(filepath.Join(dir, "hub.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		// min_quorum 2 lets a three-node cluster shed one dead server.
		fmt.Fprintf(f, "autopilot:\n  dead_server_after: 2s\n  min_quorum: 2\n")
		f.Close()
		nodes = append(nodes, n)
	}

	nodes[0].start()
	nodes[1].start()
	time.Sleep(3 * time.Second)
	for _, n := range nodes[:2] {
		var st struct {
			State    string `json:"state"`
			LeaderID string `json:"leader_id"`
		}
		if err := n.client.Do("GET", "/v1/status", nil, nil, &st); err != nil {
			t.Fatalf("status of %s: %v", n.id, err)
		}
		if st.LeaderID != "" || st.State == "Leader" {
			t.Fatalf("%s is %s with leader %q with two of three expected servers up", n.id, st.State, st.LeaderID)
		}
	}
	t.Logf("two of three servers up for 3s: no cluster formed")
	formed := time.Now()
	nodes[2].start()
	l := leader(t, nodes)
	waitVoters(t, nodes, 3)
	t.Logf("third server up: %s leads, 3 voters after %s", l.id, time.Since(formed).Round(10*time.Millisecond))

	a := startAgent(t, nodes[2].hub, agentOpts{})
	sysloggen(t, "-tcp", a.tcp, "-count", "1000", "-prefix", "bx")
	a.drained(30 * time.Second)
	exactlyOnce(t, l.events(a.id), "bx", 1000)

	var dead *clusterNode
	for _, n := range nodes {
		if n != l {
			dead = n
			break
		}
	}
	dead.kill9()
	killed := time.Now()
	peerIDs := func() []string {
		var peers []api.Peer
		if l.client.Do("GET", "/v1/operator/raft/peers", nil, nil, &peers) != nil {
			return nil
		}
		var ids []string
		for _, p := range peers {
			ids = append(ids, p.ID)
		}
		slices.Sort(ids)
		return ids
	}
	waitFor(t, 30*time.Second, dead.id+" removed", func() bool {
		ids := peerIDs()
		return len(ids) == 2 && !slices.Contains(ids, dead.id)
	})
	waitFor(t, 10*time.Second, dead.id+"'s member record removed", func() bool {
		var ms []api.Member
		return l.client.Do("GET", "/v1/members", nil, nil, &ms) == nil && len(ms) == 2 &&
			!slices.ContainsFunc(ms, func(m api.Member) bool { return m.NodeID == dead.id })
	})
	t.Logf("autopilot removed %s %s after it was killed (dead_server_after 2s)", dead.id, time.Since(killed).Round(100*time.Millisecond))
	// min_quorum 2: the two that are left are never pruned further.
	time.Sleep(3 * time.Second)
	if ids := peerIDs(); len(ids) != 2 {
		t.Fatalf("peers after the cleanup: %v", ids)
	}
	sysloggen(t, "-tcp", a.tcp, "-count", "500", "-prefix", "by")
	a.drained(30 * time.Second)

	dead.start()
	waitVoters(t, []*clusterNode{l}, 3)
	t.Logf("%s came back and was added again: %v", dead.id, peerIDs())
	exactlyOnce(t, l.events(a.id), "by", 500)
}
