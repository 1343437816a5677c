package hub_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
	"github.com/vigil-sec/vigil/hub/hubtest"
)

func adminClient(t *testing.T, h *hubtest.Hub) *api.Client {
	t.Helper()
	c, err := api.NewClient("https://"+h.Cfg.APIAddr, h.Admin, filepath.Join(h.Cfg.TLSDir(), "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func raw(t *testing.T, c *api.Client, method, path string, body []byte) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.Addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, b
}

func stateHash(t *testing.T, c *api.Client) api.StateHash {
	t.Helper()
	var sh api.StateHash
	if err := c.Do("GET", "/v1/operator/state-hash", nil, nil, &sh); err != nil {
		t.Fatal(err)
	}
	return sh
}

func members(t *testing.T, c *api.Client) []api.Member {
	t.Helper()
	var ms []api.Member
	if err := c.Do("GET", "/v1/members", nil, nil, &ms); err != nil {
		t.Fatal(err)
	}
	return ms
}

// waitMember waits until the node has recorded itself as a member.
func waitMember(t *testing.T, c *api.Client) {
	t.Helper()
	hubtest.WaitFor(t, 10*time.Second, "the node's member record", func() bool {
		var ms []api.Member
		return c.Do("GET", "/v1/members", nil, nil, &ms) == nil && len(ms) == 1
	})
}

func tokenCount(t *testing.T, c *api.Client) int {
	t.Helper()
	var toks []api.TokenInfo
	if err := c.Do("GET", "/v1/enroll-tokens", nil, nil, &toks); err != nil {
		t.Fatal(err)
	}
	return len(toks)
}

// TestSnapshotAPI_SaveRestore saves a hub's state over the API, restores it
// into a second hub with its own CA, and checks the state, the members the
// target keeps, that refused files change nothing, and that writes after a
// restore apply (whether the snapshot's index is above or below the
// target's Raft index) and survive a restart.
func TestSnapshotAPI_SaveRestore(t *testing.T) {
	src := hubtest.New(t, nil)
	sc := adminClient(t, src)
	waitMember(t, sc)
	agent := src.Enroll("north")
	for i := 0; i < 40; i++ {
		src.CreateToken("north", time.Now().Add(time.Hour))
	}
	resp, file := raw(t, sc, "GET", "/v1/operator/snapshot", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save: %s %s", resp.Status, file)
	}
	srcState := stateHash(t, sc)
	if srcState.Consistency != "linearizable" || srcState.Records["agents"] != 1 || srcState.Records["tokens"] != 41 {
		t.Errorf("source state = %+v", srcState)
	}
	if got := resp.Header.Get(api.HeaderStateHash); got != srcState.Hash {
		t.Errorf("%s = %q, state hash %s", api.HeaderStateHash, got, srcState.Hash)
	}
	if got := resp.Header.Get(api.HeaderAppliedIndex); got == "" || got == "0" {
		t.Errorf("%s = %q", api.HeaderAppliedIndex, got)
	}

	dst := hubtest.New(t, nil)
	dc := adminClient(t, dst)
	waitMember(t, dc)
	dst.CreateToken("south", time.Now().Add(time.Hour))
	dstMembers := members(t, dc)
	before := stateHash(t, dc)

	// Refused: not a snapshot, and a corrupt one.
	for name, body := range map[string][]byte{
		"text":    []byte(strings.Repeat("not a snapshot\n", 20)),
		"corrupt": func() []byte { b := bytes.Clone(file); b[len(b)/2] ^= 1; return b }(),
		"short":   file[:len(file)-1],
	} {
		resp, b := raw(t, dc, "POST", "/v1/operator/snapshot", body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "not a usable vigil snapshot") {
			t.Errorf("restore %s: %s %s; want 400", name, resp.Status, b)
		}
	}
	if after := stateHash(t, dc); after.Hash != before.Hash {
		t.Fatalf("a refused restore changed the state")
	}

	var res api.RestoreResult
	for round := 1; round <= 2; round++ {
		// Round 1: the snapshot's index is above the target's Raft index;
		// round 2: below it.
		resp, b := raw(t, dc, "POST", "/v1/operator/snapshot", file)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("restore %d: %s %s", round, resp.Status, b)
		}
		if err := jsonDecode(b, &res); err != nil {
			t.Fatal(err)
		}
		got := stateHash(t, dc)
		if got.DataHash != srcState.DataHash || res.Snapshot.DataHash != srcState.DataHash || res.Snapshot.Hash != srcState.Hash {
			t.Errorf("round %d: data hash %s, source %s; result %+v", round, got.DataHash, srcState.DataHash, res)
		}
		if got.Hash != res.State.Hash {
			t.Errorf("round %d: state hash %s, restore reported %s", round, got.Hash, res.State.Hash)
		}
		if ms := members(t, dc); len(ms) != 1 || ms[0].APIAddr != dstMembers[0].APIAddr || ms[0].IngestAddr != dstMembers[0].IngestAddr {
			t.Errorf("round %d: members %+v, want the target's own %+v", round, ms, dstMembers)
		}
		if len(res.KeptMembers) != 1 || res.KeptMembers[0] != "hub-1" {
			t.Errorf("kept members %v", res.KeptMembers)
		}
		var agents []api.Agent
		if err := dc.Do("GET", "/v1/agents", nil, nil, &agents); err != nil || len(agents) != 1 || agents[0].ID != agent.ID.AgentID {
			t.Errorf("round %d: agents %+v (%v)", round, agents, err)
		}
		// Writes after the restore apply.
		if n := tokenCount(t, dc); n != 41 {
			t.Errorf("round %d: %d tokens after restore, want 41", round, n)
		}
		for i := 0; i < 30; i++ {
			dst.CreateToken("south", time.Now().Add(time.Hour))
		}
		if n := tokenCount(t, dc); n != 71 {
			t.Fatalf("round %d: %d tokens after 30 more, want 71", round, n)
		}
	}

	// The restored state and later writes survive a restart.
	want := stateHash(t, dc)
	dst.Stop()
	dst.Start()
	hubtest.WaitFor(t, 10*time.Second, "the restarted hub to answer", func() bool {
		var sh api.StateHash
		return dc.Do("GET", "/v1/operator/state-hash", nil, nil, &sh) == nil
	})
	if got := stateHash(t, dc); got.Hash != want.Hash {
		t.Errorf("after restart: hash %s, want %s", got.Hash, want.Hash)
	}
	dst.CreateToken("south", time.Now().Add(time.Hour))
	if n := tokenCount(t, dc); n != 72 {
		t.Errorf("after restart: %d tokens, want 72", n)
	}
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }
