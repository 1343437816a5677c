package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/config"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfig_Defaults(t *testing.T) {
	c := config.DefaultConfig()
	if c.IngestAddr != "0.0.0.0:7443" || c.RaftAddr != "0.0.0.0:7444" || c.APIAddr != "127.0.0.1:8443" || c.LogLevel != "info" {
		t.Errorf("defaults = %+v", c)
	}
	if !c.BootstrapEnabled() {
		t.Error("bootstrap is off by default")
	}
	// Defaults alone are not runnable: data_dir and node_id come from init.
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "data_dir is required") || !strings.Contains(err.Error(), "node_id is required") {
		t.Errorf("Validate(defaults) = %v", err)
	}
	c.DataDir, c.NodeID = "/var/lib/vigil/hub", "hub-1"
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if c.NodeKeyFile() != "/var/lib/vigil/hub/tls/node.key" || c.AdminTokenFile() != "/var/lib/vigil/hub/admin.token" ||
		c.RaftDir() != "/var/lib/vigil/hub/raft" || c.StateDir() != "/var/lib/vigil/hub/state" {
		t.Errorf("paths: %s %s %s %s", c.NodeKeyFile(), c.AdminTokenFile(), c.RaftDir(), c.StateDir())
	}
}

func TestConfig_LoadOverridesDefaults(t *testing.T) {
	p := writeFile(t, t.TempDir(), "hub.yaml", `
node_id: hub-2
data_dir: /data/hub
ingest_addr: 10.1.1.1:7443
bootstrap: false
log_level: debug
limits:
  max_frame_bytes: 1048576
  inflight_per_stream: 4
raft:
  heartbeat_timeout: 100ms
  election_timeout: 150ms
  snapshot_threshold: 100
`)
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID != "hub-2" || c.DataDir != "/data/hub" || c.IngestAddr != "10.1.1.1:7443" || c.LogLevel != "debug" {
		t.Errorf("loaded = %+v", c)
	}
	if c.RaftAddr != "0.0.0.0:7444" || c.APIAddr != "127.0.0.1:8443" {
		t.Errorf("unset addresses = %q %q, want defaults", c.RaftAddr, c.APIAddr)
	}
	if c.BootstrapEnabled() {
		t.Error("bootstrap: false was ignored")
	}
	if c.Limits.MaxFrameBytes != 1<<20 || c.Limits.InflightPerStream != 4 || c.Limits.MaxBatchRawBytes != 0 {
		t.Errorf("limits = %+v", c.Limits)
	}
	if c.Raft.HeartbeatTimeout != 100*time.Millisecond || c.Raft.ElectionTimeout != 150*time.Millisecond || c.Raft.SnapshotThreshold != 100 {
		t.Errorf("raft = %+v", c.Raft)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestConfig_LoadUnknownKeyNamesIt(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"top.yaml":   "node_id: hub-1\ndata_dir: /x\napi_adr: 1.2.3.4:1\n",
		"raft.yaml":  "raft:\n  heartbeat: 1s\n",
		"limit.yaml": "limits:\n  max_frame: 10\n",
	}
	want := map[string]string{"top.yaml": "api_adr", "raft.yaml": "heartbeat", "limit.yaml": "max_frame"}
	for name, body := range cases {
		_, err := config.Load(writeFile(t, dir, name, body))
		if err == nil || !strings.Contains(err.Error(), "field "+want[name]+" not found") {
			t.Errorf("%s: error = %v, want it to name %q", name, err, want[name])
		}
	}
}

func TestConfig_RelativeDataDirResolvedAgainstConfigFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "hub.yaml", "node_id: hub-1\ndata_dir: .\n")
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != dir {
		t.Errorf("data_dir = %q, want %q", c.DataDir, dir)
	}
	if c.AdminTokenFile() != filepath.Join(dir, "admin.token") {
		t.Errorf("admin token file = %q", c.AdminTokenFile())
	}
	p = writeFile(t, dir, "rel.yaml", "data_dir: state/hub\n")
	if c, err = config.Load(p); err != nil || c.DataDir != filepath.Join(dir, "state", "hub") {
		t.Errorf("data_dir = %q, %v", c.DataDir, err)
	}
}

func TestConfig_ValidateCollectsAllProblems(t *testing.T) {
	c := config.Config{LogLevel: "verbose"}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	want := []string{
		"data_dir is required",
		"node_id is required (run vigil-hub init)",
		"ingest_addr is required",
		"raft_addr is required",
		"api_addr is required",
		`log_level "verbose": want debug, info, warn or error`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate error lacks %q:\n%v", w, err)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n != len(want) {
		t.Errorf("Validate reported %d problems, want %d", n, len(want))
	}
}

func TestConfig_ValidateDeterministicOrder(t *testing.T) {
	c := config.Config{DataDir: "/x", NodeID: "n", LogLevel: "info"}
	first := c.Validate().Error()
	for i := 0; i < 20; i++ {
		if got := c.Validate().Error(); got != first {
			t.Fatalf("Validate message changes between calls:\n%s\n---\n%s", first, got)
		}
	}
}

func TestConfig_BootstrapExpect(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Load(writeFile(t, dir, "expect.yaml", "node_id: hub-1\ndata_dir: .\nbootstrap_expect: 3\njoin: [10.0.0.2:8443, 10.0.0.3:8443]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.BootstrapEnabled() {
		t.Error("bootstrap_expect left the one-node bootstrap on")
	}
	if c.Autopilot.MinQuorum != 3 || !c.Autopilot.CleanupEnabled() || c.Autopilot.DeadServerAfter != 10*time.Minute {
		t.Errorf("autopilot = %+v, want cleanup on after 10m with min_quorum 3", c.Autopilot)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	cases := map[string]string{
		"both.yaml":     "node_id: hub-1\ndata_dir: .\nbootstrap: true\nbootstrap_expect: 3\njoin: [a:1, b:1]\n",
		"few.yaml":      "node_id: hub-1\ndata_dir: .\nbootstrap_expect: 3\njoin: [a:1]\n",
		"negative.yaml": "node_id: hub-1\ndata_dir: .\nbootstrap_expect: -1\n",
	}
	want := map[string]string{
		"both.yaml":     "bootstrap_expect and bootstrap: true exclude each other",
		"few.yaml":      "bootstrap_expect 3 needs the API addresses of the other 2 servers in join (have 1)",
		"negative.yaml": "bootstrap_expect must not be negative",
	}
	for name, body := range cases {
		c, err := config.Load(writeFile(t, dir, name, body))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: Validate = %v, want %q", name, err, want[name])
		}
	}
	c, err = config.Load(writeFile(t, dir, "ap.yaml", "node_id: hub-1\ndata_dir: .\nautopilot:\n  cleanup_dead_servers: false\n  min_quorum: 5\n  dead_server_after: 2s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Autopilot.CleanupEnabled() || c.Autopilot.MinQuorum != 5 || c.Autopilot.DeadServerAfter != 2*time.Second {
		t.Errorf("autopilot = %+v", c.Autopilot)
	}
}
