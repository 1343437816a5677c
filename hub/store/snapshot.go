package store

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

// RecordType tags one snapshot record with the table it belongs to. The list
// is append-only; a number is never reused.
type RecordType uint8

const (
	AgentRecord RecordType = 1
	TokenRecord RecordType = 2
	// EventRecord, EventBranchIndexRecord and EventAgentIndexRecord were the
	// per-event tables of format version 1; events are stored in chunks
	// since version 2. The numbers stay reserved.
	EventRecord            RecordType = 3
	EventBranchIndexRecord RecordType = 4
	EventAgentIndexRecord  RecordType = 5
	MemberRecord           RecordType = 6
	// EventChunkRecord is one chunk of events (see store_chunks.go);
	// ChunkEvents reads how many events its value holds.
	EventChunkRecord            RecordType = 7
	EventChunkTimeIndexRecord   RecordType = 8
	EventChunkAgentIndexRecord  RecordType = 9
	EventChunkBranchIndexRecord RecordType = 10
)

// table is one key range persisted as records of one type. Every prefix the
// store writes must be listed here; TestStore_SnapshotCoversEveryPrefix
// fails when one is missing.
type table struct {
	typ    RecordType
	prefix []byte
}

var tables = []table{
	{AgentRecord, []byte{prefixAgent}},
	{TokenRecord, []byte{prefixToken}},
	{EventChunkRecord, chunkPrefix},
	{EventChunkTimeIndexRecord, chunkTimePrefix},
	{EventChunkAgentIndexRecord, chunkAgentPrefix},
	{EventChunkBranchIndexRecord, chunkBranchPrefix},
	{MemberRecord, []byte{prefixMember}},
}

// SnapshotRecordTypes returns the record types a snapshot of this format
// holds, in the order Persist writes them.
func SnapshotRecordTypes() []RecordType {
	out := make([]RecordType, len(tables))
	for i, t := range tables {
		out[i] = t.typ
	}
	return out
}

const snapshotMagic = "VIGILSN1"

// snapshotVersion is the format version in the header. Version 2 stores
// events in chunks (record types 7 to 10) instead of one record per event.
const snapshotVersion = 2

// SnapshotVersion is the snapshot format version this store writes and reads.
const SnapshotVersion = snapshotVersion

// Snapshot is a point-in-time view of the store for a Raft snapshot.
type Snapshot struct {
	snap    *pebble.Snapshot
	applied uint64
}

// Snapshot syncs the store and captures its current state. It is cheap; the
// work happens in Persist, which may run concurrently with later writes.
func (s *Store) Snapshot() (*Snapshot, error) {
	if err := s.Sync(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := s.db.NewSnapshot()
	var applied uint64
	v, closer, err := snap.Get(keyApplied)
	switch {
	case err == nil:
		applied = binary.BigEndian.Uint64(v)
		closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		snap.Close()
		return nil, fmt.Errorf("snapshot applied index: %w", err)
	}
	return &Snapshot{snap: snap, applied: applied}, nil
}

// Applied is the index of the last entry the snapshot contains.
func (sn *Snapshot) Applied() uint64 { return sn.applied }

// Release frees the snapshot.
func (sn *Snapshot) Release() { sn.snap.Close() }

// Persist writes the snapshot: a header, then for each table its records as
// [type:1][key length:uvarint][key without prefix][value length:uvarint][value].
func (sn *Snapshot) Persist(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	hdr, err := proto.Marshal(&raftpb.SnapshotHeader{Version: snapshotVersion, AppliedIndex: sn.applied})
	if err != nil {
		return fmt.Errorf("encode snapshot header: %w", err)
	}
	bw.WriteString(snapshotMagic)
	bw.Write(binary.AppendUvarint(nil, uint64(len(hdr))))
	bw.Write(hdr)
	if err := sn.writeTables(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

func (sn *Snapshot) writeTables(bw *bufio.Writer) error {
	var scratch []byte
	for _, t := range tables {
		it, err := sn.snap.NewIter(&pebble.IterOptions{LowerBound: t.prefix, UpperBound: prefixEnd(t.prefix)})
		if err != nil {
			return fmt.Errorf("snapshot table %d: %w", t.typ, err)
		}
		for it.First(); it.Valid(); it.Next() {
			k, v := it.Key()[len(t.prefix):], it.Value()
			scratch = append(scratch[:0], byte(t.typ))
			scratch = binary.AppendUvarint(scratch, uint64(len(k)))
			scratch = append(scratch, k...)
			scratch = binary.AppendUvarint(scratch, uint64(len(v)))
			if _, err := bw.Write(scratch); err != nil {
				it.Close()
				return fmt.Errorf("write snapshot: %w", err)
			}
			if _, err := bw.Write(v); err != nil {
				it.Close()
				return fmt.Errorf("write snapshot: %w", err)
			}
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return fmt.Errorf("snapshot table %d: %w", t.typ, err)
		}
	}
	return nil
}

// Hash returns the SHA-256 of the snapshot's records (not its header), so two
// stores holding the same state have the same hash whatever their history.
func (sn *Snapshot) Hash() (string, error) {
	h := sha256.New()
	bw := bufio.NewWriter(h)
	if err := sn.writeTables(bw); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// maxSnapshotValue bounds one record's value on restore so a corrupt
// snapshot cannot make the hub allocate without limit.
const maxSnapshotValue = 64 << 20

// Restore replaces the store's whole contents with a snapshot written by
// Persist. Readers wait while it runs. If the process dies part way, the
// restoring marker stays and NeedsRestore reports it on the next start.
func (s *Store) Restore(r io.Reader) (uint64, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return 0, fmt.Errorf("restore: not a vigil state snapshot")
	}
	hl, err := binary.ReadUvarint(br)
	if err != nil || hl > 1<<20 {
		return 0, fmt.Errorf("restore: bad snapshot header")
	}
	hb := make([]byte, hl)
	if _, err := io.ReadFull(br, hb); err != nil {
		return 0, fmt.Errorf("restore: read header: %w", err)
	}
	var hdr raftpb.SnapshotHeader
	if err := proto.Unmarshal(hb, &hdr); err != nil {
		return 0, fmt.Errorf("restore: decode header: %w", err)
	}
	if hdr.Version != snapshotVersion {
		return 0, fmt.Errorf("restore: snapshot format version %d, this hub reads %d", hdr.Version, snapshotVersion)
	}
	prefixes := map[RecordType][]byte{}
	for _, t := range tables {
		prefixes[t.typ] = t.prefix
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Set(keyRestoring, []byte{1}, pebble.NoSync); err != nil {
		return 0, fmt.Errorf("restore: mark: %w", err)
	}
	if err := s.db.Flush(); err != nil { // the mark must be on disk before anything is cleared
		return 0, fmt.Errorf("restore: mark: %w", err)
	}
	clear := s.db.NewBatch()
	_ = clear.DeleteRange([]byte{0}, []byte{0xff}, nil)
	_ = clear.Set(keyRestoring, []byte{1}, nil)
	if err := clear.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("restore: clear: %w", err)
	}
	b := s.db.NewBatch()
	var key, val []byte
	for n := 0; ; n++ {
		typ, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("restore: record %d: %w", n, err)
		}
		prefix, ok := prefixes[RecordType(typ)]
		if !ok {
			return 0, fmt.Errorf("restore: record %d has unknown type %d (snapshot from a newer hub?)", n, typ)
		}
		if key, err = readChunk(br, key, 1<<16); err != nil {
			return 0, fmt.Errorf("restore: record %d key: %w", n, err)
		}
		if val, err = readChunk(br, val, maxSnapshotValue); err != nil {
			return 0, fmt.Errorf("restore: record %d value: %w", n, err)
		}
		full := append(append(make([]byte, 0, len(prefix)+len(key)), prefix...), key...)
		_ = b.Set(full, val, nil)
		if b.Len() > 4<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return 0, fmt.Errorf("restore: write: %w", err)
			}
			b = s.db.NewBatch()
		}
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], hdr.AppliedIndex)
	_ = b.Set(keyApplied, v[:], nil)
	_ = b.Delete(keyRestoring, nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("restore: write: %w", err)
	}
	if err := s.db.Flush(); err != nil {
		return 0, fmt.Errorf("restore: write: %w", err)
	}
	return hdr.AppliedIndex, nil
}

func readChunk(br *bufio.Reader, buf []byte, max uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("length %d over limit %d", n, max)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err = io.ReadFull(br, buf)
	return buf, err
}
