package command

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/cluster"
	"github.com/vigil-sec/vigil/hub/config"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/store"
)

// runOperatorRecover rewrites a stopped node's Raft configuration from a
// peers file, for a cluster that has lost its majority for good.
func runOperatorRecover(env Env, args []string) error {
	fs := newFlags("operator recover", env)
	data := fs.String("data", "", "data directory of this (stopped) node; uses DIR/hub.yaml when -c is not given")
	cfgPath := fs.String("c", "", "configuration file (hub.yaml) of this node")
	peersPath := fs.String("peers", "", `JSON file listing every server of the new configuration (required):
[{"id": "hub-1", "address": "10.0.0.1:7444"}, ...]; all are voters`)
	logLevel := fs.String("log-level", "warn", "log level of the progress messages on stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: vigil-hub operator recover -data DIR -peers FILE

Recovers a cluster that has permanently lost its majority. Run it OFFLINE
(vigil-hub stopped) on every surviving server, with the same peers file,
before starting any of them. Each node's own Raft log becomes its history:
entries it had not received are lost. Servers left out of the file must
never be started again with their old data.`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" && *data != "" {
		*cfgPath = filepath.Join(*data, "hub.yaml")
	}
	if *cfgPath == "" {
		return &usageError{"-data DIR (or -c hub.yaml) is required"}
	}
	if *peersPath == "" {
		return &usageError{"-peers FILE is required"}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.NodeID == "" || cfg.DataDir == "" {
		return fmt.Errorf("%s: node_id and data_dir are required", *cfgPath)
	}
	raw, err := os.ReadFile(*peersPath)
	if err != nil {
		return fmt.Errorf("read peers file: %w", err)
	}
	servers, err := cluster.ParsePeers(raw)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(servers, func(s raft.Server) bool { return string(s.ID) == cfg.NodeID })
	if i < 0 {
		ids := make([]string, len(servers))
		for j, s := range servers {
			ids[j] = string(s.ID)
		}
		return fmt.Errorf("this node, %s, is not in the peers file (%s): a node recovers only into a configuration that contains it",
			cfg.NodeID, strings.Join(ids, ", "))
	}
	if adv := advertisedRaft(cfg); adv != "" && adv != string(servers[i].Address) {
		fmt.Fprintf(env.Stderr, "Warning: the peers file gives %s the address %s, but its hub.yaml advertises %s; peers will dial %s.\n",
			cfg.NodeID, servers[i].Address, adv, servers[i].Address)
	}
	for _, d := range []string{filepath.Join(cfg.RaftDir(), "log"), cfg.StateDir()} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return fmt.Errorf("%s does not exist: %s holds no Raft state to recover (wrong -data?)", d, cfg.DataDir)
		}
	}
	if err := checkOwner(cfg.RaftDir()); err != nil {
		return err
	}

	log := newLogger(env.Stderr, *logLevel)
	st, err := store.Open(cfg.StateDir(), log)
	if err != nil {
		if cluster.IsLocked(err) {
			return fmt.Errorf("%w: %s is locked", cluster.ErrNodeRunning, cfg.StateDir())
		}
		return err
	}
	defer st.Close()
	applied, err := st.Applied()
	if err != nil {
		return err
	}
	needRestore, err := st.NeedsRestore()
	if err != nil {
		return err
	}
	f, err := fsm.New(st, log)
	if err != nil {
		return err
	}
	var machine raft.FSM = f
	// Like serve: the store is persistent, so a snapshot need not be
	// restored into it when it already holds everything the snapshot
	// does; Raft then replays only the entries after what it has applied.
	if !needRestore && applied > 0 && applied >= newestSnapshotIndex(cfg.RaftDir()) {
		machine = keepStore{f}
	}

	out := env.Stdout
	fmt.Fprintf(out, "Recovering node %s (%s), state applied up to index %d.\n", cfg.NodeID, cfg.DataDir, applied)
	fmt.Fprintf(out, "New Raft configuration (%d voter%s):\n", len(servers), plural(len(servers)))
	for _, s := range servers {
		me := ""
		if string(s.ID) == cfg.NodeID {
			me = "  (this node)"
		}
		fmt.Fprintf(out, "  %-20s %s%s\n", s.ID, s.Address, me)
	}
	if err := cluster.Recover(cfg.RaftDir(), machine, servers, log); err != nil {
		return err
	}
	after, err := st.Applied()
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("close state store: %w", err)
	}
	if snap := newestSnapshot(cfg.RaftDir()); snap != nil {
		fmt.Fprintf(out, "Recovered at Raft index %d, term %d (state applied up to %d): snapshot %s holds the state and the new configuration; the Raft log was emptied.\n",
			snap.Index, snap.Term, after, snap.ID)
	} else {
		fmt.Fprintf(out, "Recovered: state applied up to index %d; the Raft log was emptied.\n", after)
	}
	fmt.Fprintln(out, "Next:")
	if len(servers) > 1 {
		fmt.Fprintln(out, "  - run this command with the same peers file on every other server listed, before starting any of them;")
	}
	fmt.Fprintf(out, "  - start this node: vigil-hub serve -c %s (or systemctl start vigil-hub);\n", *cfgPath)
	fmt.Fprintln(out, "  - NEVER start a server that is not in the peers file with its old data: wipe its data directory")
	fmt.Fprintln(out, "    and join it again (vigil-hub operator join-token create, then vigil-hub init -join ... -token ...).")
	return nil
}

// keepStore is the hub's state machine without its snapshot restore: used
// when the persistent store already holds at least the newest snapshot.
type keepStore struct{ *fsm.FSM }

func (keepStore) Restore(rc io.ReadCloser) error { return rc.Close() }

func advertisedRaft(cfg config.Config) string {
	if cfg.AdvertiseRaft != "" {
		return cfg.AdvertiseRaft
	}
	return cfg.RaftAddr
}

func newestSnapshot(raftDir string) *raft.SnapshotMeta {
	snaps, err := raft.NewFileSnapshotStore(raftDir, 2, io.Discard)
	if err != nil {
		return nil
	}
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 {
		return nil
	}
	return metas[0]
}

func newestSnapshotIndex(raftDir string) uint64 {
	if m := newestSnapshot(raftDir); m != nil {
		return m.Index
	}
	return 0
}

// checkOwner refuses to write files another user could not open: run as
// root against a directory the service user owns, recovery would leave
// root-owned files that keep vigil-hub from starting.
func checkOwner(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	uid, ok := ownerUID(fi)
	euid := os.Geteuid()
	if !ok || euid < 0 || uid == euid {
		return nil
	}
	return fmt.Errorf("%s belongs to uid %d but this command runs as uid %d: run it as the user vigil-hub runs as "+
		"(e.g. sudo -u vigil vigil-hub operator recover ...), or the node could not open the files recovery writes", dir, uid, euid)
}

// ownerUID reads the owner from the platform's stat structure, where it has
// one (syscall.Stat_t exists only on Unix).
func ownerUID(fi os.FileInfo) (int, bool) {
	v := reflect.ValueOf(fi.Sys())
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return 0, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return 0, false
	}
	f := v.FieldByName("Uid")
	if !f.IsValid() || !f.CanUint() {
		return 0, false
	}
	return int(f.Uint()), true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
