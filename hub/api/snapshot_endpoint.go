package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Snapshot endpoints (admin tokens only):
//
//	GET  /v1/operator/snapshot    a snapshot file of the cluster's state, taken
//	                              on the leader after a read barrier
//	POST /v1/operator/snapshot    restore a snapshot file (the request body)
//	                              into the cluster through Raft
//	GET  /v1/operator/state-hash  this node's applied index and state hash
//
// The file format is described in package hub (hub/snapshot.go). A follower
// passes save and restore on to the leader; the state hash is always the
// answering node's own, so nodes can be compared with each other.

// ErrBadSnapshot marks an uploaded file that is not a usable vigil
// snapshot (not one at all, corrupt, or of a format this hub cannot read);
// the API answers it with 400.
var ErrBadSnapshot = errors.New("not a usable vigil snapshot")

// Headers of GET /v1/operator/snapshot.
const (
	HeaderAppliedIndex = "X-Vigil-Applied-Index"
	HeaderStateHash    = "X-Vigil-State-Hash"
	HeaderDataHash     = "X-Vigil-Data-Hash"
)

// SnapshotInfo describes a snapshot file or a store's state.
type SnapshotInfo struct {
	// AppliedIndex is the Raft index of the last entry the state contains.
	AppliedIndex uint64 `json:"applied_index"`
	// FormatVersion is the store snapshot format version.
	FormatVersion uint32 `json:"format_version"`
	// Size is the file's size in bytes, trailer included (files only).
	Size int64 `json:"size,omitempty"`
	// Checksum is the SHA-256 of the file before its trailer (files only).
	Checksum string `json:"checksum,omitempty"`
	// Hash is the state hash: what the store's Snapshot.Hash() returns for
	// this state.
	Hash string `json:"hash"`
	// DataHash is the same hash over every table but the member table,
	// which describes the cluster that holds the state rather than the
	// state: a restore keeps the target cluster's members, so it is this
	// hash that a restored cluster shares with the snapshot.
	DataHash string `json:"data_hash"`
	// Records counts the records of each table.
	Records map[string]uint64 `json:"records"`
}

// StateHash is the answer of GET /v1/operator/state-hash.
type StateHash struct {
	NodeID string `json:"node_id"`
	SnapshotInfo
	// Consistency is "linearizable" (the leader, after a read barrier),
	// "applied" (a follower that applied every entry it knew to be
	// committed) or "stale" (asked for with ?stale).
	Consistency string `json:"consistency"`
}

// RestoreResult is the answer of POST /v1/operator/snapshot.
type RestoreResult struct {
	// Snapshot describes the file restored.
	Snapshot SnapshotInfo `json:"snapshot"`
	// State is the leader's state right after the restore.
	State StateHash `json:"state"`
	// KeptMembers are this cluster's hub nodes, whose member records the
	// restore kept in place of the snapshot's.
	KeptMembers []string `json:"kept_members"`
}

// SnapshotStream is a consistent snapshot being sent.
type SnapshotStream interface {
	Info() SnapshotInfo
	// WriteTo writes the snapshot file.
	WriteTo(w io.Writer) (int64, error)
	// Close releases the snapshot.
	Close()
}

// Snapshotter is what the snapshot endpoints need from the hub, in
// addition to Cluster.
type Snapshotter interface {
	// OpenSnapshot takes a snapshot of the state after a read barrier; it
	// runs on the leader.
	OpenSnapshot() (SnapshotStream, error)
	// RestoreSnapshot verifies a snapshot file and restores it through
	// Raft; it runs on the leader. A file that is not a usable snapshot is
	// an error wrapping ErrBadSnapshot.
	RestoreSnapshot(r io.Reader) (*RestoreResult, error)
	// StateHash hashes this node's state; unless stale, it first makes sure
	// the node applied every entry committed when it was asked.
	StateHash(stale bool) (*StateHash, error)
	// ProxySlowToLeader is Cluster.ProxyToLeader for requests whose answer
	// may take minutes to start (building or restoring a large snapshot).
	ProxySlowToLeader(w http.ResponseWriter, r *http.Request) bool
}

func (s *Server) snapshotter(w http.ResponseWriter, sc Scope) (Cluster, Snapshotter, bool) {
	c, ok := s.cluster(w, sc)
	if !ok {
		return nil, nil, false
	}
	sn, ok := s.b.(Snapshotter)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this hub does not support snapshots")
		return nil, nil, false
	}
	return c, sn, true
}

// onSnapshotLeader is onLeader for the snapshot calls, whose proxied
// answer may take long to start.
func (s *Server) onSnapshotLeader(c Cluster, sn Snapshotter, w http.ResponseWriter, r *http.Request) bool {
	if c.IsLeader() {
		return true
	}
	if !sn.ProxySlowToLeader(w, r) {
		writeError(w, http.StatusServiceUnavailable, "no cluster leader")
	}
	return false
}

func (s *Server) snapshotSave(w http.ResponseWriter, r *http.Request, sc Scope) {
	c, sn, ok := s.snapshotter(w, sc)
	if !ok || !s.onSnapshotLeader(c, sn, w, r) {
		return
	}
	st, err := sn.OpenSnapshot()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "snapshot: "+err.Error())
		return
	}
	defer st.Close()
	info := st.Info()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="vigil-%d.snap"`, info.AppliedIndex))
	h.Set(HeaderAppliedIndex, strconv.FormatUint(info.AppliedIndex, 10))
	h.Set(HeaderStateHash, info.Hash)
	h.Set(HeaderDataHash, info.DataHash)
	w.WriteHeader(http.StatusOK)
	if _, err := st.WriteTo(w); err != nil {
		// The status is sent: cut the connection so the client sees a
		// truncated file (without its trailer) rather than a short one.
		s.log.Warn("snapshot stream failed", "error", err)
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) snapshotRestore(w http.ResponseWriter, r *http.Request, sc Scope) {
	c, sn, ok := s.snapshotter(w, sc)
	if !ok || !s.onSnapshotLeader(c, sn, w, r) {
		return
	}
	res, err := sn.RestoreSnapshot(r.Body)
	if err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrBadSnapshot) {
			code = http.StatusBadRequest
		}
		writeError(w, code, "restore: "+err.Error())
		return
	}
	s.log.Info("snapshot restored", "applied_index", res.Snapshot.AppliedIndex, "hash", res.State.Hash, "data_hash", res.State.DataHash)
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) stateHash(w http.ResponseWriter, r *http.Request, sc Scope) {
	_, sn, ok := s.snapshotter(w, sc)
	if !ok {
		return
	}
	_, stale := r.URL.Query()["stale"]
	res, err := sn.StateHash(stale)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "state hash: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}
