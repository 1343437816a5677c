package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
)

// writeLines appends n syslog lines marked [marker-i] to path at about rate
// lines a second, as a device logging to a file would.
func writeLines(t *testing.T, path, marker string, n, rate int) <-chan error {
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		const chunk = 20
		tick := time.Duration(chunk) * time.Second / time.Duration(rate)
		next := time.Now()
		for i := 0; i < n; i++ {
			if _, err := fmt.Fprintf(f, "<38>Dec  2 10:00:00 branch-host sshd[42]: Failed password for root from 203.0.113.9 port 4022 ssh2 [%s-%d]\n", marker, i); err != nil {
				done <- err
				return
			}
			if i%chunk == chunk-1 {
				next = next.Add(tick)
				time.Sleep(time.Until(next))
			}
		}
		done <- nil
	}()
	return done
}

// execContext rebuilds cmd so that it is killed when ctx ends.
func execContext(ctx context.Context, cmd *exec.Cmd) *exec.Cmd {
	return exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
}

// leaderClaims records, for every Raft term, which nodes said they led in
// it. Two names for one term would mean two leaders could commit in it.
type leaderClaims struct {
	mu     sync.Mutex
	byTerm map[uint64]map[string]bool
	polls  int
}

func (c *leaderClaims) add(term uint64, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byTerm[term] == nil {
		c.byTerm[term] = map[string]bool{}
	}
	c.byTerm[term][node] = true
}

// watchLeaders polls every node's status from inside its own namespace (so
// a cut-off node is still seen) until ctx ends.
func watchLeaders(ctx context.Context, lab *netLab, nodes []*clusterNode) *leaderClaims {
	c := &leaderClaims{byTerm: map[uint64]map[string]bool{}}
	for i, n := range nodes {
		go func() {
			for ctx.Err() == nil {
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				cmd := command(lab.exec(i), "vigil-hub", "status", "-data", n.dir)
				out, err := execContext(cctx, cmd).Output()
				cancel()
				var st struct {
					State string            `json:"state"`
					Raft  map[string]string `json:"raft"`
				}
				if err == nil && json.Unmarshal(out, &st) == nil {
					term, _ := strconv.ParseUint(st.Raft["term"], 10, 64)
					c.mu.Lock()
					c.polls++
					c.mu.Unlock()
					if st.State == "Leader" {
						c.add(term, n.id)
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	return c
}

// TestE2E_ClusterPartitionedLeader runs a three-node hub with each node in
// its own network namespace and cuts the leader's link while two agents
// send: one agent beside the leader (same namespace, so it still reaches
// it), one outside. The cut-off leader must stop acknowledging and refuse
// writes and linearizable reads, the other two must elect a leader and go
// on acknowledging, and once the link is back every acknowledged line is
// stored exactly once, every node holds the same state, and no term ever had
// two leaders.
func TestE2E_ClusterPartitionedLeader(t *testing.T) {
	lab := newNetLab(t, 3)
	nodes := startClusterOn(t, lab.ips, lab.exec)
	if l := leader(t, nodes); l != nodes[0] {
		var res map[string]string
		if err := l.client.Do("POST", "/v1/operator/raft/transfer-leadership", nil, api.TransferRequest{ID: nodes[0].id}, &res); err != nil {
			t.Fatalf("transfer leadership to %s: %v", nodes[0].id, err)
		}
		waitFor(t, 20*time.Second, nodes[0].id+" to lead", func() bool { return leader(t, nodes) == nodes[0] })
	}
	old := nodes[0]
	ctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	claims := watchLeaders(ctx, lab, nodes)

	dir := t.TempDir()
	inFile, outFile := filepath.Join(dir, "beside-leader.log"), filepath.Join(dir, "outside.log")
	for _, f := range []string{inFile, outFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	beside := startAgent(t, old.hub, agentOpts{branch: "beside", prefix: lab.exec(0), files: []string{inFile}})
	outside := startAgent(t, nodes[1].hub, agentOpts{branch: "outside", files: []string{outFile}})
	const n, rate = 10000, 800
	inDone, outDone := writeLines(t, inFile, "in", n, rate), writeLines(t, outFile, "out", n, rate)

	waitFor(t, 20*time.Second, "both agents acknowledged", func() bool {
		a, errA := beside.tryStatus()
		b, errB := outside.tryStatus()
		return errA == nil && errB == nil && a.Buffer.AckedSeq > 500 && b.Buffer.AckedSeq > 500
	})
	lab.cut(0)
	cut := time.Now()
	t.Logf("cut %s (%s) off while it leads", old.id, old.ip)

	newLeader := leader(t, nodes[1:])
	t.Logf("%s leads after %s", newLeader.id, time.Since(cut).Round(10*time.Millisecond))
	// The old leader's lease ran out long ago: nothing more is acknowledged
	// to the agent that can still reach it, though it keeps sending.
	time.Sleep(time.Second)
	before := beside.statusNow().Buffer
	outBefore := outside.statusNow().Buffer.AckedSeq
	time.Sleep(3 * time.Second)
	after := beside.statusNow().Buffer
	if after.AckedSeq != before.AckedSeq {
		t.Fatalf("the cut-off node acknowledged seqs %d..%d", before.AckedSeq+1, after.AckedSeq)
	}
	if after.LastSeq <= before.LastSeq {
		t.Fatalf("the agent beside the cut-off node buffered nothing new (last seq %d): the test proved nothing", after.LastSeq)
	}
	if got := outside.statusNow().Buffer.AckedSeq; got <= outBefore {
		t.Fatalf("the majority acknowledged nothing while %s was cut off (acked seq %d)", old.id, got)
	}
	t.Logf("while cut off: agent beside it stuck at acked seq %d with %d buffered; the agent outside went on", after.AckedSeq, after.LastSeq)

	// A write and a linearizable read through the cut-off node are refused
	// (or never answered), never served from its stale state.
	for _, args := range [][]string{
		{"token", "create", "-data", old.dir, "-branch", "stale", "-ttl", "5m", "-quiet"},
		{"agent", "list", "-data", old.dir, "-json"},
	} {
		cctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		out, err := execContext(cctx, command(lab.exec(0), "vigil-hub", args...)).CombinedOutput()
		cancel()
		if err == nil {
			t.Fatalf("vigil-hub %v on the cut-off node succeeded:\n%s", args[:2], out)
		}
		t.Logf("vigil-hub %v on the cut-off node: refused (%v)", args[:2], err)
	}

	lab.heal(0)
	t.Logf("link of %s back after %s", old.id, time.Since(cut).Round(10*time.Millisecond))
	for _, done := range []<-chan error{inDone, outDone} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	beside.drained(60 * time.Second)
	outside.drained(60 * time.Second)
	cur := leader(t, nodes)
	exactlyOnce(t, cur.events(beside.id), "in", n)
	exactlyOnce(t, cur.events(outside.id), "out", n)

	// Every node converges on one state: the logs did not diverge.
	var hashes []string
	waitFor(t, 30*time.Second, "every node at the same state", func() bool {
		hashes = hashes[:0]
		for _, node := range nodes {
			var sh api.StateHash
			if node.client.Do("GET", "/v1/operator/state-hash", map[string][]string{"stale": {""}}, nil, &sh) != nil {
				return false
			}
			hashes = append(hashes, fmt.Sprintf("%d/%s", sh.AppliedIndex, sh.Hash))
		}
		return hashes[0] == hashes[1] && hashes[1] == hashes[2]
	})
	stopWatch()
	claims.mu.Lock()
	defer claims.mu.Unlock()
	terms := slices.Sorted(maps.Keys(claims.byTerm))
	for _, term := range terms {
		if len(claims.byTerm[term]) > 1 {
			t.Errorf("term %d had two leaders: %v", term, claims.byTerm[term])
		}
	}
	t.Logf("state %s on every node; leaders by term over %d status polls: %v", hashes[0], claims.polls, claims.byTerm)
	if len(terms) < 2 {
		t.Fatalf("saw leaders in %d terms; the cut should have caused a new term", len(terms))
	}
}
