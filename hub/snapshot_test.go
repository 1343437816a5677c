package hub

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/hub/api"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// storeStream builds a store snapshot stream by hand: a header of the given
// version and index, then records.
func storeStream(t *testing.T, version uint32, applied uint64, recs ...[]byte) []byte {
	t.Helper()
	hb, err := proto.Marshal(&raftpb.SnapshotHeader{Version: version, AppliedIndex: applied})
	if err != nil {
		t.Fatal(err)
	}
	b := binary.AppendUvarint([]byte(storeSnapshotMagic), uint64(len(hb)))
	b = append(b, hb...)
	for _, r := range recs {
		b = append(b, r...)
	}
	return b
}

// withTrailer makes a snapshot file of a stream.
func withTrailer(stream []byte) []byte {
	sum := sha256.New()
	sum.Write(stream)
	return append(append([]byte(nil), stream...), trailer(uint64(len(stream)), sum)...)
}

// sampleRecords has records of every table, in store order: i+1 records
// of the table at position i. Each event chunk holds i+1 events, as its
// header says.
func sampleRecords() [][]byte {
	var recs [][]byte
	for i, tb := range snapshotTables {
		for j := 0; j < i+1; j++ {
			value := bytes.Repeat([]byte{byte(i)}, 10*j+1)
			if tb.typ == store.EventChunkRecord {
				value = sampleChunk(i+1, value)
			}
			recs = append(recs, encodeRecord(tb.typ, []byte(fmt.Sprintf("%s-%03d", tb.name, j)), value))
		}
	}
	return recs
}

// sampleChunk is an event chunk value whose header says it holds count
// events (hub/store/store_chunks.go: version 1, encoding 0, maxTs, now,
// count, raw length, branch), followed by records that do not decode.
func sampleChunk(count int, records []byte) []byte {
	v := append([]byte{1, 0}, make([]byte, 16)...)
	v = binary.AppendUvarint(v, uint64(count))
	v = binary.AppendUvarint(v, uint64(len(records)))
	v = binary.AppendUvarint(v, 1)
	v = append(v, 'b')
	return append(v, records...)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), quietLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// sampleStore is a store holding sampleRecords at applied index 4242.
func sampleStore(t *testing.T) *store.Store {
	t.Helper()
	st := openStore(t)
	if _, err := st.Restore(bytes.NewReader(storeStream(t, storeSnapshotVer, 4242, sampleRecords()...))); err != nil {
		t.Fatal(err)
	}
	return st
}

func saveFile(t *testing.T, st *store.Store) []byte {
	t.Helper()
	sn, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	var buf bytes.Buffer
	n, err := WriteSnapshotFile(&buf, sn)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteSnapshotFile = %d, %v; wrote %d", n, err, buf.Len())
	}
	return buf.Bytes()
}

func storeHash(t *testing.T, st *store.Store) string {
	t.Helper()
	sn, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	h, err := sn.Hash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSnapshotFile_RoundTrip(t *testing.T) {
	src := sampleStore(t)
	file := saveFile(t, src)
	want := storeHash(t, src)

	sc, err := readSnapshotFile(bytes.NewReader(file), int64(len(file)), nil)
	if err != nil {
		t.Fatal(err)
	}
	info := sc.info
	if info.AppliedIndex != 4242 || info.FormatVersion != storeSnapshotVer || info.Size != int64(len(file)) {
		t.Errorf("info = %+v", info)
	}
	if info.Hash != want {
		t.Errorf("file state hash %s, store Snapshot.Hash() %s", info.Hash, want)
	}
	sum := sha256.Sum256(file[:len(file)-trailerLen])
	if info.Checksum != hex.EncodeToString(sum[:]) {
		t.Errorf("checksum %s, want %x", info.Checksum, sum)
	}
	for i, tb := range snapshotTables {
		want := uint64(i + 1)
		if tb.typ == store.EventChunkRecord {
			want *= want // events, not chunks: i+1 chunks of i+1 events
		}
		if info.Records[tb.name] != want {
			t.Errorf("%s: %d records, want %d", tb.name, info.Records[tb.name], want)
		}
	}
	// The data hash is the hash of every record but the members'.
	d := sha256.New()
	for _, r := range sampleRecords() {
		if store.RecordType(r[0]) != store.MemberRecord {
			d.Write(r)
		}
	}
	if info.DataHash != hex.EncodeToString(d.Sum(nil)) || info.DataHash == info.Hash {
		t.Errorf("data hash %s, hash %s", info.DataHash, info.Hash)
	}

	// describeStore agrees with the file and with Snapshot.Hash().
	sn, _ := src.Snapshot()
	live, err := describeStore(sn)
	sn.Release()
	if err != nil || live.Hash != want || live.DataHash != info.DataHash || live.AppliedIndex != 4242 {
		t.Errorf("describeStore = %+v, %v", live, err)
	}

	// Everything before the trailer is exactly a store snapshot: restored
	// into an empty store it gives the same state.
	dst := openStore(t)
	idx, err := dst.Restore(bytes.NewReader(file[:len(file)-trailerLen]))
	if err != nil || idx != 4242 {
		t.Fatalf("store.Restore = %d, %v", idx, err)
	}
	if got := storeHash(t, dst); got != want {
		t.Errorf("restored hash %s, want %s", got, want)
	}

	// InspectSnapshotFile reads the same from disk.
	path := filepath.Join(t.TempDir(), "s.snap")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := InspectSnapshotFile(path)
	if err != nil || fi.Hash != want || fi.Checksum != info.Checksum {
		t.Errorf("InspectSnapshotFile = %+v, %v", fi, err)
	}
}

func TestSnapshotFile_EmptyStore(t *testing.T) {
	st := openStore(t)
	file := saveFile(t, st)
	sc, err := readSnapshotFile(bytes.NewReader(file), int64(len(file)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sc.info.AppliedIndex != 0 || total(sc.info.Records) != 0 || sc.info.Hash != storeHash(t, st) {
		t.Errorf("empty store: %+v", sc.info)
	}
}

func total(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

func TestSnapshotFile_Refused(t *testing.T) {
	good := saveFile(t, sampleStore(t))
	stream := good[:len(good)-trailerLen]
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		return b
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not a vigil snapshot file"},
		{"text", []byte(strings.Repeat("hello, this is not a snapshot\n", 10)), "not a vigil snapshot file"},
		{"bare store stream", stream, "no vigil snapshot trailer"},
		{"truncated", good[:len(good)-100], "no vigil snapshot trailer"},
		{"byte flipped in a record", flip(len(stream) - 5), "checksum mismatch"},
		{"byte flipped in the header", flip(len(storeSnapshotMagic) + 2), "checksum mismatch"},
		{"byte flipped in the checksum", flip(len(good) - 1), "checksum mismatch"},
		{"length in trailer wrong", func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint64(b[len(stream)+8:], uint64(len(stream)-1))
			return b
		}(), "truncated or corrupt"},
		{"extra bytes", append(append(append([]byte(nil), stream...), 0), good[len(stream):]...), "truncated or corrupt"},
		// Valid checksums over contents this hub cannot restore.
		{"newer format", withTrailer(storeStream(t, storeSnapshotVer+1, 1)), fmt.Sprintf("format version %d", storeSnapshotVer+1)},
		{"format 1 (one record per event)", withTrailer(storeStream(t, 1, 1)), "format version 1"},
		{"unknown record type", withTrailer(storeStream(t, storeSnapshotVer, 1, encodeRecord(store.RecordType(99), []byte("k"), []byte("v")))), "unknown type 99"},
		{"truncated record", withTrailer(storeStream(t, storeSnapshotVer, 1, encodeRecord(store.AgentRecord, []byte("k"), []byte("value"))[:6])), "truncated"},
		{"oversized key", withTrailer(storeStream(t, storeSnapshotVer, 1, encodeRecord(store.AgentRecord, make([]byte, maxSnapshotKey+1), nil))), "over limit"},
		{"index out of range", withTrailer(storeStream(t, storeSnapshotVer, 1<<63)), "out of range"},
	}
	for _, c := range cases {
		_, err := readSnapshotFile(bytes.NewReader(c.file), int64(len(c.file)), nil)
		if !errors.Is(err, api.ErrBadSnapshot) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want ErrBadSnapshot with %q", c.name, err, c.want)
		}
	}
}

// Every record type the store writes is one the scanner accepts; a new
// table in the store must be added to snapshotTables.
func TestSnapshotTables_MatchStore(t *testing.T) {
	types := store.SnapshotRecordTypes()
	if len(snapshotTables) != len(types) {
		t.Errorf("%d tables known, the store writes %d", len(snapshotTables), len(types))
	}
	for i, tb := range snapshotTables {
		if i < len(types) && tb.typ != types[i] {
			t.Errorf("table %s has type %d at position %d; the store writes type %d there", tb.name, tb.typ, i, types[i])
		}
	}
}
