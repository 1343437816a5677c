package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
)

// clusterNode is one hub node of a multi-node cluster, on its own loopback
// address (127.0.0.N).
type clusterNode struct {
	*hub
	ip string
}

// startCluster starts n hub nodes on 127.0.0.1..n: the first bootstraps,
// the others join it with server join tokens.
func startCluster(t *testing.T, n int) []*clusterNode {
	t.Helper()
	needBinaries(t)
	port := func() int { return freePort(t) }
	ingestPort, raftPort, apiPort := port(), port(), port()
	var nodes []*clusterNode
	for i := 1; i <= n; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i)
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("hub-%d", i))
		args := []string{"init", "-data", dir, "-node-id", fmt.Sprintf("hub-%d", i), "-ip", ip,
			"-ingest-addr", fmt.Sprintf("%s:%d", ip, ingestPort), "-raft-addr", fmt.Sprintf("%s:%d", ip, raftPort),
			"-api-addr", fmt.Sprintf("%s:%d", ip, apiPort)}
		if i > 1 {
			var res api.TokenResponse
			if err := nodes[0].client.Do("POST", "/v1/cluster/join-tokens", nil, api.JoinTokenRequest{TTL: "10m"}, &res); err != nil {
				t.Fatalf("join token: %v", err)
			}
			args = append(args, "-join", fmt.Sprintf("%s:%d", nodes[0].ip, apiPort), "-token", res.Token)
		}
		if out, err := exec.Command(filepath.Join(binDir, "vigil-hub"), args...).CombinedOutput(); err != nil {
			t.Fatalf("init hub-%d: %v\n%s", i, err, out)
		}
		f, err := os.OpenFile(filepath.Join(dir, "hub.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "raft:\n  heartbeat_timeout: 300ms\n  election_timeout: 300ms\n")
		f.Close()
		h := &hub{dir: dir, ingest: ingestPort, raft: raftPort, apiP: apiPort}
		h.proc = &proc{t: t, name: "vigil-hub", args: []string{"serve", "-data", dir}, log: filepath.Join(filepath.Dir(dir), fmt.Sprintf("hub-%d.log", i))}
		tok, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
		if h.client, err = api.NewClient(fmt.Sprintf("https://%s:%d", ip, apiPort), strings.TrimSpace(string(tok)), filepath.Join(dir, "tls", "ca.crt")); err != nil {
			t.Fatal(err)
		}
		node := &clusterNode{hub: h, ip: ip}
		t.Cleanup(func() {
			if t.Failed() {
				h.dumpLog()
			}
			h.stop()
		})
		h.startAndWait()
		nodes = append(nodes, node)
	}
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
	return nodes
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
						if "hub-"+strings.TrimPrefix(m.ip, "127.0.0.") == p.ID && m.cmd != nil {
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
	const n = 15000
	var gens []*exec.Cmd
	for _, a := range agents {
		gen := exec.Command(filepath.Join(binDir, "sysloggen"), "-tcp", a.tcp, "-count", fmt.Sprint(n), "-rate", "2500", "-prefix", "ck")
		if err := gen.Start(); err != nil {
			t.Fatal(err)
		}
		gens = append(gens, gen)
	}
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
		t.Logf("kill %d of leader %s: agent acknowledgements resumed after %s", i+1, l.ip, time.Since(killed).Round(10*time.Millisecond))
		l.startAndWait()
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
