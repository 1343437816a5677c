package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
)

// TestE2E_ClusterLostQuorumRecover loses two nodes of a three-node cluster
// for good (kill -9, never restarted): the survivor has no quorum and takes
// no writes. The survivor is stopped, recovered offline with
// 'vigil-hub operator recover' into a cluster of itself alone, and started
// again: it elects itself, holds every event exactly once, and takes writes
// and events again.
func TestE2E_ClusterLostQuorumRecover(t *testing.T) {
	nodes := startCluster(t, 3)
	l := leader(t, nodes)
	var survivor *clusterNode
	var lost []*clusterNode
	for _, n := range nodes {
		if n != l && survivor == nil {
			survivor = n
		} else {
			lost = append(lost, n)
		}
	}
	survivorID := survivor.id
	// The survivor snapshots often, so that recovery replays its log on top
	// of a snapshot, as it would after a long run.
	f, err := os.OpenFile(filepath.Join(survivor.dir, "hub.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "  snapshot_threshold: 50\n  snapshot_interval: 200ms\n  trailing_logs: 20\n")
	f.Close()
	survivor.stop()
	survivor.startAndWait()

	a := startAgent(t, l.hub, agentOpts{maxBatchEvents: 20})
	sysloggen(t, "-tcp", a.tcp, "-count", "2000", "-prefix", "lost")
	a.drained(60 * time.Second)
	// Committed means stored by a majority, not by every node: wait until
	// the survivor has it all (an operator would pick the survivor with
	// the highest last_log_index).
	var counts api.CountsResponse
	waitFor(t, 30*time.Second, "the survivor to hold every event", func() bool {
		return survivor.client.Do("GET", "/v1/events/counts", map[string][]string{"stale": {""}}, nil, &counts) == nil && counts.Total == 2000
	})
	waitFor(t, 30*time.Second, "the survivor to take a snapshot", func() bool { return raftStat(t, survivor, "last_snapshot_index") > 0 })
	t.Logf("survivor %s: last_log_index %d, last_snapshot_index %d", survivorID,
		raftStat(t, survivor, "last_log_index"), raftStat(t, survivor, "last_snapshot_index"))

	for _, n := range lost {
		n.kill9()
	}
	lostAt := time.Now()
	// Without a quorum the survivor takes no writes.
	short := *survivor.client
	short.HTTP = &http.Client{Transport: survivor.client.HTTP.Transport, Timeout: 15 * time.Second}
	var tok api.TokenResponse
	err = short.Do("POST", "/v1/enroll-tokens", nil, api.TokenRequest{Branch: "north", TTL: "10m"}, &tok)
	if err == nil {
		t.Fatal("the survivor of a lost majority created a token")
	}
	t.Logf("write without quorum refused after %s: %v", time.Since(lostAt).Round(10*time.Millisecond), err)
	// Its local status still answers: this is how an operator picks the
	// most up-to-date survivor.
	t.Logf("survivor without quorum: last_log_term %d, last_log_index %d",
		raftStat(t, survivor, "last_log_term"), raftStat(t, survivor, "last_log_index"))

	peers := filepath.Join(t.TempDir(), "peers.json")
	recoverCmd := func(peersJSON string) (string, error) {
		if err := os.WriteFile(peers, []byte(peersJSON), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(filepath.Join(binDir, "vigil-hub"), "operator", "recover", "-data", survivor.dir, "-peers", peers).CombinedOutput()
		return string(out), err
	}
	good := fmt.Sprintf(`[{"id": %q, "address": "%s:%d"}]`, survivorID, survivor.ip, survivor.raft)

	// Refused while the node runs.
	if out, err := recoverCmd(good); err == nil || !strings.Contains(out, "stop vigil-hub") {
		t.Fatalf("recover on a running node: err = %v\n%s", err, out)
	}
	survivor.stop()
	// Refused: malformed, empty, and without this node.
	for _, bad := range []struct{ peers, want string }{
		{`[{"id": "` + survivorID + `"`, "peers file"},
		{`[]`, "no servers"},
		{fmt.Sprintf(`[{"id": "hub-9", "address": "127.0.0.9:%d"}]`, survivor.raft), "not in the peers file"},
	} {
		if out, err := recoverCmd(bad.peers); err == nil || !strings.Contains(out, bad.want) {
			t.Fatalf("recover with peers %s: err = %v, want %q in\n%s", bad.peers, err, bad.want, out)
		}
	}
	start := time.Now()
	out, err := recoverCmd(good)
	if err != nil {
		t.Fatalf("recover: %v\n%s", err, out)
	}
	t.Logf("recover took %s:\n%s", time.Since(start).Round(time.Millisecond), out)

	start = time.Now()
	survivor.startAndWait()
	t.Logf("recovered node serving consistent reads %s after start", time.Since(start).Round(10*time.Millisecond))
	var st struct {
		State    string `json:"state"`
		LeaderID string `json:"leader_id"`
	}
	if err := survivor.client.Do("GET", "/v1/status", nil, nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.State != "Leader" || st.LeaderID != survivorID {
		t.Fatalf("after recovery: state %s, leader %q; want Leader %s", st.State, st.LeaderID, survivorID)
	}
	var ps []api.Peer
	if err := survivor.client.Do("GET", "/v1/operator/raft/peers", nil, nil, &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].ID != survivorID {
		t.Fatalf("peers after recovery = %+v, want only %s", ps, survivorID)
	}
	exactlyOnce(t, survivor.events(a.id), "lost", 2000)
	if tok := survivor.token("north", "10m"); tok == "" {
		t.Fatal("no token after recovery")
	}
	// Agents' events flow again, to the one node left.
	sysloggen(t, "-tcp", a.tcp, "-count", "100", "-prefix", "after")
	a.drained(60 * time.Second)
	exactlyOnce(t, survivor.events(a.id), "after", 100)

	// A lost server comes back only with a wiped data directory, joining
	// again with a server join token; it catches up with everything.
	back := lost[0]
	backID := back.id
	var jt api.TokenResponse
	if err := survivor.client.Do("POST", "/v1/cluster/join-tokens", nil, api.JoinTokenRequest{TTL: "10m"}, &jt); err != nil {
		t.Fatalf("join token: %v", err)
	}
	if err := os.RemoveAll(back.dir); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(binDir, "vigil-hub"), "init", "-data", back.dir, "-node-id", backID, "-ip", back.ip,
		"-ingest-addr", fmt.Sprintf("%s:%d", back.ip, back.ingest), "-raft-addr", fmt.Sprintf("%s:%d", back.ip, back.raft),
		"-api-addr", fmt.Sprintf("%s:%d", back.ip, back.apiP),
		"-join", fmt.Sprintf("%s:%d", survivor.ip, survivor.apiP), "-token", jt.Token).CombinedOutput(); err != nil {
		t.Fatalf("init %s again: %v\n%s", backID, err, out)
	}
	f, err = os.OpenFile(filepath.Join(back.dir, "hub.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "raft:\n  heartbeat_timeout: 300ms\n  election_timeout: 300ms\n")
	f.Close()
	back.startAndWait()
	waitFor(t, 30*time.Second, backID+" to be a voter again", func() bool {
		var ps []api.Peer
		return survivor.client.Do("GET", "/v1/operator/raft/peers", nil, nil, &ps) == nil && len(ps) == 2 &&
			ps[0].Suffrage == "Voter" && ps[1].Suffrage == "Voter"
	})
	waitFor(t, 30*time.Second, backID+" to hold every event", func() bool {
		return back.client.Do("GET", "/v1/events/counts", map[string][]string{"stale": {""}}, nil, &counts) == nil && counts.Total == 2100
	})
	var ms []api.Member
	if err := survivor.client.Do("GET", "/v1/members", nil, nil, &ms); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		t.Logf("member after recovery and re-join: %s raft=%s voter=%v leader=%v", m.NodeID, m.RaftAddr, m.Voter, m.Leader)
	}
}
