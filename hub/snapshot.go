package hub

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/api"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

// Snapshot files: what `vigil-hub snapshot save` writes and `snapshot
// restore` and `snapshot inspect` read.
//
// A snapshot file is the state store's own snapshot stream (the format Raft
// snapshots use, written by store.Snapshot.Persist) followed by a 48-byte
// trailer:
//
//	offset 0     the store snapshot stream, N bytes:
//	               "VIGILSN1"                    magic, 8 bytes
//	               uvarint L, then L bytes       raftpb.SnapshotHeader (format
//	                                             version 2, applied index)
//	               records to the end, table by table, each
//	                 [type:1][key length:uvarint][key without table prefix]
//	                 [value length:uvarint][value]
//	               types: 1 agents, 2 tokens, 7 event chunks, 8 event time
//	               index, 9 event agent index, 10 event branch index,
//	               6 members (store.RecordType; 3 to 5 were format 1's
//	               per-event tables)
//	offset N     trailer, 48 bytes:
//	               "VIGILEND"                    magic, 8 bytes
//	               N                             uint64, big-endian
//	               SHA-256 of bytes [0, N)       32 bytes
//
// The trailer is written last, so a save is streamed without buffering and
// a truncated file has none. Everything before it is exactly a store
// snapshot, which is what a restore hands to Raft (raft.Raft.Restore).
//
// Two hashes describe the state, both SHA-256 over the records (not the
// header) in the order above: the state hash, equal to store
// Snapshot.Hash() of a store holding the state, and the data hash, the same
// without the member records. Members are the hub nodes of the cluster that
// holds the state, not part of it: a restore keeps the target cluster's
// member records in place of the file's, so it is the data hash that a
// restored cluster shares with the file, and its state hash differs exactly
// by the member table.
//
// A restore is checked in full before Raft sees it (trailer, checksum,
// header version, every record's type and lengths), because Raft takes a
// state machine that fails to restore a snapshot it already stored as fatal.

const (
	storeSnapshotMagic = "VIGILSN1" // store.snapshotMagic
	storeSnapshotVer   = store.SnapshotVersion
	trailerMagic       = "VIGILEND"
	trailerLen         = 48
	// Limits store.Restore enforces; a file beyond them is refused here
	// before it can reach the state machine.
	maxSnapshotHeader = 1 << 20
	maxSnapshotKey    = 1 << 16
	maxSnapshotValue  = 64 << 20
	// maxAppliedIndex keeps raft.Restore's index arithmetic far from overflow.
	maxAppliedIndex = 1 << 62
)

// snapshotTables names the record types a snapshot may hold, in store order.
// The count reported for "events" is the number of events the event chunk
// records hold (read from each chunk's header), not the number of chunks;
// there are as many chunks as event_time_index records.
var snapshotTables = []struct {
	typ  store.RecordType
	name string
}{
	{store.AgentRecord, "agents"},
	{store.TokenRecord, "tokens"},
	{store.EventChunkRecord, "events"},
	{store.EventChunkTimeIndexRecord, "event_time_index"},
	{store.EventChunkAgentIndexRecord, "event_agent_index"},
	{store.EventChunkBranchIndexRecord, "event_branch_index"},
	{store.MemberRecord, "members"},
}

func tableName(t store.RecordType) (string, bool) {
	for _, st := range snapshotTables {
		if st.typ == t {
			return st.name, true
		}
	}
	return "", false
}

func badSnapshot(format string, args ...any) error {
	return fmt.Errorf("%w: %s", api.ErrBadSnapshot, fmt.Sprintf(format, args...))
}

// streamScan is what scanStream learns of a store snapshot stream.
type streamScan struct {
	header []byte // magic, length and header, as to be written again
	hdr    *raftpb.SnapshotHeader
	info   api.SnapshotInfo
}

// scanStream reads and checks a store snapshot stream to its end, hashing
// its records. rec, when not nil, sees each record's encoding.
func scanStream(r io.Reader, rec func(t store.RecordType, enc []byte) error) (*streamScan, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(storeSnapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != storeSnapshotMagic {
		return nil, badSnapshot("not a vigil state snapshot")
	}
	hl, err := binary.ReadUvarint(br)
	if err != nil || hl > maxSnapshotHeader {
		return nil, badSnapshot("bad snapshot header")
	}
	hb := make([]byte, hl)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, badSnapshot("truncated snapshot header")
	}
	sc := &streamScan{hdr: &raftpb.SnapshotHeader{}}
	if err := proto.Unmarshal(hb, sc.hdr); err != nil {
		return nil, badSnapshot("decode snapshot header: %v", err)
	}
	if sc.hdr.Version != storeSnapshotVer {
		return nil, badSnapshot("snapshot format version %d, this hub reads %d", sc.hdr.Version, storeSnapshotVer)
	}
	if sc.hdr.AppliedIndex > maxAppliedIndex {
		return nil, badSnapshot("applied index %d out of range", sc.hdr.AppliedIndex)
	}
	sc.header = append(binary.AppendUvarint([]byte(storeSnapshotMagic), hl), hb...)
	full, data := sha256.New(), sha256.New()
	counts := map[string]uint64{}
	for _, t := range snapshotTables {
		counts[t.name] = 0
	}
	var enc []byte
	for n := 0; ; n++ {
		typ, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read snapshot record %d: %w", n, err)
		}
		name, ok := tableName(store.RecordType(typ))
		if !ok {
			return nil, badSnapshot("record %d has unknown type %d (a snapshot from a newer hub?)", n, typ)
		}
		enc = append(enc[:0], typ)
		if enc, err = appendChunk(br, enc, maxSnapshotKey); err != nil {
			return nil, badSnapshot("record %d key: %v", n, err)
		}
		valueAt := len(enc)
		if enc, err = appendChunk(br, enc, maxSnapshotValue); err != nil {
			return nil, badSnapshot("record %d value: %v", n, err)
		}
		full.Write(enc)
		if store.RecordType(typ) != store.MemberRecord {
			data.Write(enc)
		}
		if store.RecordType(typ) == store.EventChunkRecord {
			_, l := binary.Uvarint(enc[valueAt:])
			events, _ := store.ChunkEvents(enc[valueAt+l:])
			counts[name] += events
		} else {
			counts[name]++
		}
		if rec != nil {
			if err := rec(store.RecordType(typ), enc); err != nil {
				return nil, err
			}
		}
	}
	sc.info = api.SnapshotInfo{AppliedIndex: sc.hdr.AppliedIndex, FormatVersion: sc.hdr.Version,
		Hash: hex.EncodeToString(full.Sum(nil)), DataHash: hex.EncodeToString(data.Sum(nil)), Records: counts}
	return sc, nil
}

// appendChunk reads [length:uvarint][bytes] and appends it, re-encoded, to
// buf. Unexpected EOF is reported as truncation.
func appendChunk(br *bufio.Reader, buf []byte, max uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return buf, errors.New("truncated")
	}
	if n > max {
		return buf, fmt.Errorf("length %d over limit %d", n, max)
	}
	buf = binary.AppendUvarint(buf, n)
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	if _, err := io.ReadFull(br, buf[start:]); err != nil {
		return buf, errors.New("truncated")
	}
	return buf, nil
}

// encodeRecord encodes one snapshot record.
func encodeRecord(t store.RecordType, key, value []byte) []byte {
	b := []byte{byte(t)}
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}

// countWriter counts what passes through.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteSnapshotFile writes sn as a snapshot file: the store snapshot
// stream, then the trailer with its length and SHA-256.
func WriteSnapshotFile(w io.Writer, sn *store.Snapshot) (int64, error) {
	sum := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, sum)}
	if err := sn.Persist(cw); err != nil {
		return cw.n, err
	}
	n, err := w.Write(trailer(uint64(cw.n), sum))
	return cw.n + int64(n), err
}

func trailer(n uint64, sum hash.Hash) []byte {
	t := append([]byte(trailerMagic), binary.BigEndian.AppendUint64(nil, n)...)
	return sum.Sum(t)
}

// readSnapshotFile checks a snapshot file's trailer and checksum and scans
// its stream; rec is as for scanStream.
func readSnapshotFile(f io.ReaderAt, size int64, rec func(t store.RecordType, enc []byte) error) (*streamScan, error) {
	if size < trailerLen+int64(len(storeSnapshotMagic)) {
		return nil, badSnapshot("not a vigil snapshot file (%d bytes)", size)
	}
	var tr [trailerLen]byte
	if _, err := f.ReadAt(tr[:], size-trailerLen); err != nil {
		return nil, fmt.Errorf("read snapshot trailer: %w", err)
	}
	var head [len(storeSnapshotMagic)]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	if string(head[:]) != storeSnapshotMagic {
		return nil, badSnapshot("not a vigil snapshot file")
	}
	if string(tr[:8]) != trailerMagic {
		return nil, badSnapshot("no vigil snapshot trailer: the file is truncated, or is not a file written by vigil-hub snapshot save")
	}
	n := binary.BigEndian.Uint64(tr[8:16])
	if n != uint64(size-trailerLen) {
		return nil, badSnapshot("the trailer gives %d bytes of state, the file holds %d: truncated or corrupt", n, size-trailerLen)
	}
	sum := sha256.New()
	sc, err := scanStream(io.TeeReader(io.NewSectionReader(f, 0, int64(n)), sum), rec)
	if got := sum.Sum(nil); !bytes.Equal(got, tr[16:]) {
		// Corruption explains any scan error too: report it first.
		return nil, badSnapshot("checksum mismatch (SHA-256 %x, trailer says %x): the file is corrupt", got, tr[16:])
	}
	if err != nil {
		return nil, err
	}
	sc.info.Size = size
	sc.info.Checksum = hex.EncodeToString(tr[16:])
	return sc, nil
}

// InspectSnapshotFile verifies a snapshot file and describes it. It needs
// no running hub.
func InspectSnapshotFile(path string) (*api.SnapshotInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sc, err := readSnapshotFile(f, fi.Size(), nil)
	if err != nil {
		return nil, err
	}
	return &sc.info, nil
}

// describeStore hashes a store snapshot: it streams the snapshot through
// scanStream, so the state hash is Snapshot.Hash() by construction.
func describeStore(sn *store.Snapshot) (api.SnapshotInfo, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(sn.Persist(pw))
	}()
	sc, err := scanStream(pr, nil)
	pr.CloseWithError(errors.New("scan ended")) // unblocks Persist after an error
	<-done                                      // sn must not be released while Persist runs
	if err != nil {
		return api.SnapshotInfo{}, err
	}
	return sc.info, nil
}

// snapshotStream implements api.SnapshotStream.
type snapshotStream struct {
	sn   *store.Snapshot
	info api.SnapshotInfo
}

func (s *snapshotStream) Info() api.SnapshotInfo             { return s.info }
func (s *snapshotStream) WriteTo(w io.Writer) (int64, error) { return WriteSnapshotFile(w, s.sn) }
func (s *snapshotStream) Close()                             { s.sn.Release() }

// OpenSnapshot implements api.Snapshotter. The store snapshot is taken
// after a read barrier, so it holds every write acknowledged before the
// call; it is the same snapshot Raft would take (FSM.Snapshot), without
// compacting the Raft log as raft.Raft.Snapshot would.
func (s *Server) OpenSnapshot() (api.SnapshotStream, error) {
	if err := s.ReadBarrier(); err != nil {
		return nil, err
	}
	sn, err := s.st.Snapshot()
	if err != nil {
		return nil, err
	}
	info, err := describeStore(sn)
	if err != nil {
		sn.Release()
		return nil, err
	}
	return &snapshotStream{sn: sn, info: info}, nil
}

// StateHash implements api.Snapshotter.
func (s *Server) StateHash(stale bool) (*api.StateHash, error) {
	consistency := "stale"
	if !stale {
		if s.IsLeader() {
			if err := s.ReadBarrier(); err != nil {
				return nil, err
			}
			consistency = "linearizable"
		} else {
			if err := s.waitApplied(s.node.Raft.CommitIndex(), 5*time.Second); err != nil {
				return nil, err
			}
			consistency = "applied"
		}
	}
	return s.localStateHash(consistency)
}

func (s *Server) localStateHash(consistency string) (*api.StateHash, error) {
	sn, err := s.st.Snapshot()
	if err != nil {
		return nil, err
	}
	defer sn.Release()
	info, err := describeStore(sn)
	if err != nil {
		return nil, err
	}
	return &api.StateHash{NodeID: s.cfg.NodeID, SnapshotInfo: info, Consistency: consistency}, nil
}

// waitApplied waits until Raft applied index (and so the store) reaches idx.
func (s *Server) waitApplied(idx uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for s.node.Raft.AppliedIndex() < idx {
		if time.Now().After(deadline) {
			return fmt.Errorf("applied index %d has not reached commit index %d after %s", s.node.Raft.AppliedIndex(), idx, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// RestoreSnapshot implements api.Snapshotter. The file is received into the
// data directory and verified in full; then its store snapshot, with this
// cluster's member records in place of the file's, goes to
// raft.Raft.Restore, which installs it on the leader, burns a log index past
// both the cluster's last and the snapshot's applied index, and so makes
// every follower install it too. The store's applied index becomes the
// file's; Raft's lies above it, so entries after the restore are applied.
func (s *Server) RestoreSnapshot(body io.Reader) (*api.RestoreResult, error) {
	if s.node.Raft.State() != raft.Leader {
		return nil, raft.ErrNotLeader
	}
	// Refuse anything else before storing it.
	magic := make([]byte, len(storeSnapshotMagic))
	if n, _ := io.ReadFull(body, magic); string(magic[:n]) != storeSnapshotMagic {
		return nil, badSnapshot("not a vigil snapshot file")
	}
	f, err := os.CreateTemp(s.cfg.DataDir, "snapshot-restore-*.tmp")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	size, err := io.Copy(f, io.MultiReader(bytes.NewReader(magic), body))
	if err != nil {
		return nil, fmt.Errorf("receive snapshot: %w", err)
	}

	// This cluster's members, as the leader knows them after a barrier,
	// take the place of the file's.
	if err := s.ReadBarrier(); err != nil {
		return nil, err
	}
	ms, err := s.st.Members()
	if err != nil {
		return nil, err
	}
	var members []byte
	kept := []string{}
	for _, m := range ms {
		v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			return nil, err
		}
		members = append(members, encodeRecord(store.MemberRecord, []byte(m.NodeId), v)...)
		kept = append(kept, m.NodeId)
	}
	// rewrite scans the file (verifying it again) and passes on the
	// records, the file's members replaced by this cluster's, to w.
	rewrite := func(header []byte, w io.Writer) (*streamScan, int64, error) {
		cw := &countWriter{w: w}
		bw := bufio.NewWriterSize(cw, 256<<10)
		bw.Write(header)
		placed := false
		sc, err := readSnapshotFile(f, size, func(t store.RecordType, enc []byte) error {
			if t == store.MemberRecord {
				enc = nil
				if !placed {
					enc, placed = members, true
				}
			}
			_, err := bw.Write(enc)
			return err
		})
		if err != nil {
			return nil, cw.n, err
		}
		if !placed {
			bw.Write(members)
		}
		err = bw.Flush()
		return sc, cw.n, err
	}
	// First pass: verify the file in full and measure what Raft will get
	// (the header is measured apart: it is known only after the scan).
	file, n, err := rewrite(nil, io.Discard)
	if err != nil {
		return nil, err
	}
	n += int64(len(file.header))
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, err := rewrite(file.header, pw)
		pw.CloseWithError(err)
	}()
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: file.hdr.AppliedIndex, Size: n}
	s.log.Info("restoring snapshot", "applied_index", file.info.AppliedIndex, "hash", file.info.Hash,
		"data_hash", file.info.DataHash, "bytes", size, "kept_members", kept)
	// No timeout: Restore's timer also runs over the restore itself and
	// would report a restore that took long but succeeded as failed. Raft
	// copies the stream into its snapshot store and checks its size before
	// the state machine sees any of it.
	err = s.node.Raft.Restore(meta, pr, 0)
	pr.CloseWithError(errors.New("restore ended"))
	<-done
	if err != nil {
		return nil, err
	}
	st, err := s.localStateHash("linearizable")
	if err != nil {
		return nil, err
	}
	return &api.RestoreResult{Snapshot: file.info, State: *st, KeptMembers: kept}, nil
}

// ProxySlowToLeader implements api.Snapshotter: proxyToLeader without the
// peer client's response-header timeout, since the leader may take minutes
// to hash or restore a large state before it answers.
func (s *Server) ProxySlowToLeader(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("X-Vigil-Forwarded") != "" {
		return false // already forwarded once: answer locally
	}
	base, err := s.leaderAPI()
	if err != nil {
		return false
	}
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	pt, ok := s.peers.Transport.(*http.Transport)
	if !ok {
		return s.proxyToLeader(w, r)
	}
	tr := pt.Clone()
	tr.ResponseHeaderTimeout = 0
	defer tr.CloseIdleConnections()
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = tr
	p.FlushInterval = -1 // stream the snapshot as it comes
	r.Header.Set("X-Vigil-Forwarded", s.cfg.NodeID)
	p.ServeHTTP(w, r)
	return true
}

var _ api.Snapshotter = (*Server)(nil)
