package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/raftstore"
)

// ErrNodeRunning is returned by Recover when the node's Raft log is locked
// by another open instance: the node is still running.
var ErrNodeRunning = errors.New("the node's data is in use: stop vigil-hub on this node first (recovery runs offline)")

// IsLocked reports whether err is Pebble's refusal to open a database whose
// lock another process (or this one) holds.
func IsLocked(err error) bool {
	return err != nil && (errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process"))
}

// PeerEntry is one server of a peers file.
type PeerEntry struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

// ParsePeers decodes a peers file: a JSON array of {"id", "address"}
// objects, every one a voter of the new configuration. It refuses an empty
// list, unknown fields, empty or duplicate IDs and addresses, and addresses
// that are not host:port.
func ParsePeers(data []byte) ([]raft.Server, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var entries []PeerEntry
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("peers file: want a JSON array of {\"id\": ..., \"address\": \"host:port\"}: %w", err)
	}
	if dec.More() {
		return nil, errors.New("peers file: unexpected data after the JSON array")
	}
	if len(entries) == 0 {
		return nil, errors.New("peers file: no servers listed")
	}
	servers := make([]raft.Server, 0, len(entries))
	for i, e := range entries {
		srv := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(strings.TrimSpace(e.ID)), Address: raft.ServerAddress(strings.TrimSpace(e.Address))}
		if srv.ID == "" {
			return nil, fmt.Errorf("peers file: server %d has no id", i+1)
		}
		if err := checkAddress(string(srv.Address)); err != nil {
			return nil, fmt.Errorf("peers file: server %s: %w", srv.ID, err)
		}
		servers = append(servers, srv)
	}
	if err := checkServers(servers); err != nil {
		return nil, fmt.Errorf("peers file: %w", err)
	}
	return servers, nil
}

func checkAddress(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("address %q: want host:port", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || host == "" {
		return fmt.Errorf("address %q: want host:port with a port in 1-65535", a)
	}
	return nil
}

// checkServers is raft's own configuration check, done up front so that a
// bad configuration is refused before any store is opened.
func checkServers(servers []raft.Server) error {
	if len(servers) == 0 {
		return errors.New("the new configuration has no servers")
	}
	ids := map[raft.ServerID]bool{}
	addrs := map[raft.ServerAddress]bool{}
	voters := 0
	for _, s := range servers {
		switch {
		case s.ID == "":
			return errors.New("a server has an empty id")
		case s.Address == "":
			return fmt.Errorf("server %s has an empty address", s.ID)
		case ids[s.ID]:
			return fmt.Errorf("server id %s is listed twice", s.ID)
		case addrs[s.Address]:
			return fmt.Errorf("address %s is listed twice", s.Address)
		}
		ids[s.ID], addrs[s.Address] = true, true
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	if voters == 0 {
		return errors.New("the new configuration has no voter")
	}
	return nil
}

// Recover rewrites the Raft state of a stopped node so that it forms a
// cluster of exactly servers: the way out when a cluster has permanently
// lost its majority (in the spirit of Consul's peers.json). dir is the
// node's Raft directory (Config.Dir: the log store in dir/log, snapshots in
// dir/snapshots); fsm is the node's state machine, which Recover brings up
// to the last entry of the local log.
//
// It replays every entry of the local log into fsm, committed or not, takes
// a snapshot that carries the new configuration, and empties the log (see
// raft.RecoverCluster). Whatever this node's log holds becomes the cluster's
// history; entries it never received are lost. Run it with the same servers
// on every surviving server before starting any of them, and never start a
// server left out of servers with its old data.
//
// Recover refuses to run (ErrNodeRunning) while the node holds its log
// store open, and when dir has no Raft state. Running it again after an
// interruption is safe.
func Recover(dir string, fsm raft.FSM, servers []raft.Server, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if err := checkServers(servers); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	logDir := filepath.Join(dir, "log")
	if fi, err := os.Stat(logDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("recover: no Raft log at %s: nothing to recover", logDir)
	}
	logs, err := raftstore.Open(raftstore.Options{Path: logDir, Logger: log})
	if err != nil {
		if IsLocked(err) {
			return fmt.Errorf("recover: %w: %s is locked: %v", ErrNodeRunning, logDir, err)
		}
		return fmt.Errorf("recover: %w", err)
	}
	defer logs.Close()
	hl := newHCLogger(log.With("component", "raft"))
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hl)
	if err != nil {
		return fmt.Errorf("recover: open snapshot store: %w", err)
	}

	first, _ := logs.FirstIndex()
	last, _ := logs.LastIndex()
	term, _ := logs.GetUint64([]byte("CurrentTerm"))
	attrs := []any{"log_first_index", first, "log_last_index", last, "current_term", term}
	if metas, err := snaps.List(); err == nil && len(metas) > 0 {
		attrs = append(attrs, "snapshot", metas[0].ID, "snapshot_index", metas[0].Index,
			"old_configuration", describe(metas[0].Configuration.Servers))
	}
	log.Info("recovering raft state", attrs...)

	conf := raft.DefaultConfig()
	// RecoverCluster only validates the configuration; the ID is not stored.
	conf.LocalID = servers[0].ID
	conf.Logger = hl
	_, trans := raft.NewInmemTransport("")
	defer trans.Close()
	if err := raft.RecoverCluster(conf, releasingFSM{fsm}, logs, logs, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if metas, err := snaps.List(); err == nil && len(metas) > 0 {
		log.Info("raft state recovered", "snapshot", metas[0].ID, "index", metas[0].Index, "term", metas[0].Term,
			"configuration", describe(metas[0].Configuration.Servers))
	}
	if err := logs.Close(); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	return nil
}

// releasingFSM releases the snapshot RecoverCluster takes once it is
// persisted: raft v1.7.2's RecoverCluster never calls Release, which would
// leave the state store's snapshot open (and Pebble refuses to close a
// database with open snapshots).
type releasingFSM struct{ raft.FSM }

func (f releasingFSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.FSM.Snapshot()
	if err != nil {
		return nil, err
	}
	return &releasingSnapshot{FSMSnapshot: s}, nil
}

type releasingSnapshot struct {
	raft.FSMSnapshot
	once sync.Once
}

func (s *releasingSnapshot) Persist(sink raft.SnapshotSink) error {
	defer s.Release()
	return s.FSMSnapshot.Persist(sink)
}

func (s *releasingSnapshot) Release() { s.once.Do(s.FSMSnapshot.Release) }

func describe(servers []raft.Server) string {
	parts := make([]string, len(servers))
	for i, s := range servers {
		parts[i] = fmt.Sprintf("%s@%s(%s)", s.ID, s.Address, s.Suffrage)
	}
	return strings.Join(parts, ",")
}
