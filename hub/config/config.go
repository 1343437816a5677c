// Package config owns the hub's configuration file (hub.yaml): its fields,
// their defaults, and validation. It never opens sockets or files other than
// the configuration itself.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is hub.yaml. Merge order: DefaultConfig() < file < command-line flags.
type Config struct {
	// NodeID names this node in the cluster. Required; "vigil-hub init"
	// writes it into the hub.yaml it creates.
	NodeID string `yaml:"node_id"`
	// DataDir holds the CA, the node certificate, the admin token, the Raft
	// log and the state. Required.
	DataDir string `yaml:"data_dir"`
	// IngestAddr is the UDP address of the QUIC listener for agents.
	// Defaults to "0.0.0.0:7443".
	IngestAddr string `yaml:"ingest_addr"`
	// AdvertiseIngest is the address agents are told to use for this node.
	// Defaults to IngestAddr.
	AdvertiseIngest string `yaml:"advertise_ingest"`
	// RaftAddr is the TCP address of the Raft transport. Defaults to "0.0.0.0:7444".
	RaftAddr string `yaml:"raft_addr"`
	// AdvertiseRaft is the Raft address peers dial. Defaults to RaftAddr.
	AdvertiseRaft string `yaml:"advertise_raft"`
	// APIAddr is the TCP address of the HTTPS API. Defaults to "127.0.0.1:8443".
	APIAddr string `yaml:"api_addr"`
	// AdvertiseAPI is the API address other nodes use for this node.
	// Defaults to APIAddr.
	AdvertiseAPI string `yaml:"advertise_api"`
	// Join lists API addresses of existing cluster nodes. A node with no
	// Raft state asks them to add it as a voter (it must have been
	// initialised with a server join token: vigil-hub init -join).
	Join []string `yaml:"join"`
	// Bootstrap forms a new single-node cluster when this node has no Raft
	// state. Defaults to true unless BootstrapExpect is set.
	Bootstrap *bool `yaml:"bootstrap"`
	// BootstrapExpect, when above zero, forms a new cluster once this node
	// reaches that many servers, itself included, through Join, none of
	// which holds Raft state yet: every one of them then bootstraps the same
	// configuration of all of them. The servers must share the cluster CA
	// (vigil-hub init -ca-from). A node that finds an existing cluster joins
	// it instead.
	BootstrapExpect int `yaml:"bootstrap_expect"`
	// LogLevel is debug, info, warn or error. Defaults to info.
	LogLevel string `yaml:"log_level"`

	Limits    Limits    `yaml:"limits"`
	Raft      Raft      `yaml:"raft"`
	Retention Retention `yaml:"retention"`
	Autopilot Autopilot `yaml:"autopilot"`
}

// Autopilot is the leader's automatic care of the server set.
type Autopilot struct {
	// CleanupDeadServers removes a voter the leader has not reached for
	// DeadServerAfter, so that a server that is gone for good does not count
	// against the quorum forever. Defaults to true. A removed server that
	// comes back registers itself again and is re-added.
	CleanupDeadServers *bool `yaml:"cleanup_dead_servers"`
	// DeadServerAfter is how long a voter must have failed every heartbeat
	// before it is removed. Defaults to 10m (also when 0).
	DeadServerAfter time.Duration `yaml:"dead_server_after"`
	// MinQuorum is the fewest voters cleanup may leave. Defaults to
	// bootstrap_expect, or 3 when that is not set. Cleanup also never
	// removes a server while the healthy voters would not be a majority of
	// what remains.
	MinQuorum int `yaml:"min_quorum"`
}

// CleanupEnabled reports the effective cleanup_dead_servers setting.
func (a Autopilot) CleanupEnabled() bool { return a.CleanupDeadServers == nil || *a.CleanupDeadServers }

// Retention bounds the event store. The leader checks it every Interval and
// proposes a retention entry through Raft, so every node deletes the same
// events.
type Retention struct {
	// MaxAge deletes events whose event time is older. Defaults to 720h
	// (30 days); 0 keeps events forever.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes bounds the events' size on disk (estimated). 0, the default,
	// means no size limit.
	MaxBytes uint64 `yaml:"max_bytes"`
	// Interval is how often the leader checks. Defaults to 1m.
	Interval time.Duration `yaml:"interval"`
}

// Limits bound what one agent can make the hub hold.
type Limits struct {
	// MaxFrameBytes bounds one protocol frame. Defaults to 4 MiB.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// MaxBatchRawBytes bounds one batch uncompressed. Defaults to 16 MiB.
	MaxBatchRawBytes int `yaml:"max_batch_raw_bytes"`
	// InflightPerStream bounds batches awaiting commit per agent stream. Defaults to 32.
	InflightPerStream int `yaml:"inflight_per_stream"`
}

// Raft tunes consensus timing. Zero values take the defaults: hashicorp/raft's
// for the timeouts, and Vigil's for snapshots (threshold 8192 entries,
// interval 30s, 10240 trailing entries).
type Raft struct {
	HeartbeatTimeout  time.Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout   time.Duration `yaml:"election_timeout"`
	SnapshotThreshold uint64        `yaml:"snapshot_threshold"`
	SnapshotInterval  time.Duration `yaml:"snapshot_interval"`
	TrailingLogs      uint64        `yaml:"trailing_logs"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		IngestAddr: "0.0.0.0:7443",
		RaftAddr:   "0.0.0.0:7444",
		APIAddr:    "127.0.0.1:8443",
		LogLevel:   "info",
		Retention:  Retention{MaxAge: 720 * time.Hour, Interval: time.Minute},
		Autopilot:  Autopilot{DeadServerAfter: 10 * time.Minute},
	}
}

// Load reads path over the defaults. Unknown keys are an error, so a typo
// does not silently fall back to a default.
func Load(path string) (Config, error) {
	c := DefaultConfig()
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("parse config %s: %w", path, err)
	}
	if c.Autopilot.MinQuorum == 0 {
		c.Autopilot.MinQuorum = max(c.BootstrapExpect, 3)
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		// Relative to the config file, so a config travels with its data.
		c.DataDir = filepath.Join(filepath.Dir(path), c.DataDir)
	}
	return c, nil
}

// Validate reports a configuration that cannot run.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is required"))
	}
	if c.NodeID == "" {
		errs = append(errs, errors.New("node_id is required (run vigil-hub init)"))
	}
	for _, a := range []struct{ name, v string }{{"ingest_addr", c.IngestAddr}, {"raft_addr", c.RaftAddr}, {"api_addr", c.APIAddr}} {
		if a.v == "" {
			errs = append(errs, fmt.Errorf("%s is required", a.name))
		}
	}
	if c.BootstrapExpect < 0 {
		errs = append(errs, errors.New("bootstrap_expect must not be negative"))
	}
	if c.BootstrapExpect > 0 {
		if c.BootstrapEnabled() {
			errs = append(errs, errors.New("bootstrap_expect and bootstrap: true exclude each other: bootstrap forms a one-node cluster at once"))
		}
		if len(c.Join) < c.BootstrapExpect-1 {
			errs = append(errs, fmt.Errorf("bootstrap_expect %d needs the API addresses of the other %d servers in join (have %d)", c.BootstrapExpect, c.BootstrapExpect-1, len(c.Join)))
		}
	}
	if c.Autopilot.DeadServerAfter < 0 {
		errs = append(errs, errors.New("autopilot.dead_server_after must not be negative"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// BootstrapEnabled reports the effective bootstrap setting: on unless set
// off or replaced by bootstrap_expect.
func (c Config) BootstrapEnabled() bool {
	if c.Bootstrap != nil {
		return *c.Bootstrap
	}
	return c.BootstrapExpect == 0
}

// Paths inside the data directory.
func (c Config) TLSDir() string         { return filepath.Join(c.DataDir, "tls") }
func (c Config) NodeCertFile() string   { return filepath.Join(c.DataDir, "tls", "node.crt") }
func (c Config) NodeKeyFile() string    { return filepath.Join(c.DataDir, "tls", "node.key") }
func (c Config) AdminTokenFile() string { return filepath.Join(c.DataDir, "admin.token") }
func (c Config) NodeIDFile() string     { return filepath.Join(c.DataDir, "node-id") }
func (c Config) RaftDir() string        { return filepath.Join(c.DataDir, "raft") }
func (c Config) StateDir() string       { return filepath.Join(c.DataDir, "state") }
