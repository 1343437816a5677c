package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
)

// hubCLI runs the vigil-hub binary and returns its combined output.
func hubCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(binDir, "vigil-hub"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("vigil-hub %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (h *hub) stateHash() (api.StateHash, error) {
	var sh api.StateHash
	err := h.client.Do("GET", "/v1/operator/state-hash", nil, nil, &sh)
	return sh, err
}

func (h *hub) mustStateHash() api.StateHash {
	h.t.Helper()
	sh, err := h.stateHash()
	if err != nil {
		h.t.Fatalf("state hash: %v", err)
	}
	return sh
}

func (h *hub) members() []api.Member {
	h.t.Helper()
	var ms []api.Member
	if err := h.client.Do("GET", "/v1/members", nil, nil, &ms); err != nil {
		h.t.Fatalf("members: %v", err)
	}
	return ms
}

// TestE2E_SnapshotSaveRestore saves the state of a hub that stored 3000
// lines with `vigil-hub snapshot save`, restores the file into a fresh hub
// (its own CA) with `vigil-hub snapshot restore`, and checks that the
// fresh hub holds the same state: the same data hash, every event exactly
// once, and its own member record.
func TestE2E_SnapshotSaveRestore(t *testing.T) {
	src := startHub(t)
	// The snapshot then holds a member record, which the restore replaces.
	waitFor(t, 10*time.Second, "the source hub's member record", func() bool { return len(src.members()) == 1 })
	a := startAgent(t, src, agentOpts{})
	sysloggen(t, "-tcp", a.tcp, "-count", "3000", "-prefix", "snap")
	a.drained(60 * time.Second)

	file := filepath.Join(t.TempDir(), "state.snap")
	start := time.Now()
	out := hubCLI(t, "snapshot", "save", file, "-data", src.dir)
	t.Logf("save took %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	srcState := src.mustStateHash()
	if !strings.Contains(out, "State hash: "+srcState.Hash) || srcState.Records["events"] != 3000 || srcState.Records["members"] != 1 {
		t.Fatalf("save printed %q; source state %+v", out, srcState)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", fi, err)
	}
	out = hubCLI(t, "snapshot", "inspect", file)
	for _, want := range []string{srcState.Hash, srcState.DataHash, "(verified)", "events              3000"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}

	dst := startHub(t)
	waitFor(t, 10*time.Second, "the fresh hub's member record", func() bool { return len(dst.members()) == 1 })
	ownMembers := dst.members()
	start = time.Now()
	out = hubCLI(t, "snapshot", "restore", file, "-data", dst.dir)
	t.Logf("restore took %s:\n%s", time.Since(start).Round(time.Millisecond), out)

	got := dst.mustStateHash()
	// The member table is the cluster's own, so the state hash differs by
	// it; every other table is the source's.
	if got.DataHash != srcState.DataHash {
		t.Errorf("restored data hash %s, source %s", got.DataHash, srcState.DataHash)
	}
	for table, n := range srcState.Records {
		if table != "members" && got.Records[table] != n {
			t.Errorf("%s: %d records restored, source has %d", table, got.Records[table], n)
		}
	}
	if ms := dst.members(); len(ms) != 1 || ms[0].APIAddr != ownMembers[0].APIAddr || ms[0].RaftAddr != ownMembers[0].RaftAddr {
		t.Errorf("members after restore %+v, want the hub's own %+v", ms, ownMembers)
	}
	var counts api.CountsResponse
	if err := dst.client.Do("GET", "/v1/events/counts", nil, nil, &counts); err != nil || counts.Total != 3000 {
		t.Fatalf("restored hub counts %d events (%v), want 3000", counts.Total, err)
	}
	exactlyOnce(t, dst.events(a.id), "snap", 3000)

	// A file that is not a snapshot is refused with a clear error.
	junk := filepath.Join(t.TempDir(), "junk.snap")
	if err := os.WriteFile(junk, []byte(strings.Repeat("junk\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(binDir, "vigil-hub"), "snapshot", "restore", junk, "-data", dst.dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "not a vigil snapshot file") {
		t.Errorf("restore of junk: %v\n%s", err, out)
	}
}

// TestE2E_SnapshotClusterThroughFollowers saves a three-node cluster's
// state through a follower's API (proxied to the leader), restores it into
// a fresh three-node cluster through a follower, and checks that every node
// of the target reaches the source's data hash, holds every event, and
// keeps the target's members.
func TestE2E_SnapshotClusterThroughFollowers(t *testing.T) {
	srcNodes := startCluster(t, 3)
	a := startAgent(t, srcNodes[0].hub, agentOpts{})
	sysloggen(t, "-tcp", a.tcp, "-count", "3000", "-prefix", "csnap")
	a.drained(60 * time.Second)
	follower := func(nodes []*clusterNode) *clusterNode {
		l := leader(t, nodes)
		for _, n := range nodes {
			if n != l {
				return n
			}
		}
		return nil
	}

	file := filepath.Join(t.TempDir(), "cluster.snap")
	f := follower(srcNodes)
	out := hubCLI(t, "snapshot", "save", file, "-data", f.dir)
	t.Logf("saved through follower %s:\n%s", f.ip, out)
	srcState := leader(t, srcNodes).mustStateHash()
	if !strings.Contains(out, "State hash: "+srcState.Hash) {
		t.Fatalf("save printed %q; source state hash %s", out, srcState.Hash)
	}

	dstNodes := startCluster(t, 3)
	ownMembers := dstNodes[0].members()
	f = follower(dstNodes)
	start := time.Now()
	out = hubCLI(t, "snapshot", "restore", file, "-data", f.dir)
	t.Logf("restored through follower %s in %s:\n%s", f.ip, time.Since(start).Round(time.Millisecond), out)

	var hashes []string
	for _, n := range dstNodes {
		var got api.StateHash
		waitFor(t, 30*time.Second, "node "+n.ip+" to hold the restored state", func() bool {
			var err error
			got, err = n.stateHash()
			return err == nil && got.DataHash == srcState.DataHash
		})
		hashes = append(hashes, got.Hash)
		var counts api.CountsResponse
		if err := n.client.Do("GET", "/v1/events/counts", map[string][]string{"stale": {""}}, nil, &counts); err != nil || counts.Total != 3000 {
			t.Errorf("node %s counts %d events (%v), want 3000", n.ip, counts.Total, err)
		}
	}
	if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
		t.Errorf("target nodes disagree on the state hash: %v", hashes)
	}
	ms := dstNodes[0].members()
	if len(ms) != 3 {
		t.Fatalf("members after restore: %+v", ms)
	}
	for i, m := range ms {
		if m.APIAddr != ownMembers[i].APIAddr || m.RaftAddr != ownMembers[i].RaftAddr || !m.Voter {
			t.Errorf("member %d after restore %+v, want the target's own %+v", i, m, ownMembers[i])
		}
	}
	exactlyOnce(t, dstNodes[2].events(a.id), "csnap", 3000)
}
