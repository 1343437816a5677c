package store

import "bytes"

// KV is one raw key and value of the underlying Pebble database.
type KV struct{ Key, Value []byte }

// RawKVs returns every key and value of the database in key order,
// bypassing the typed API. Test-only.
func (s *Store) RawKVs() ([]KV, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []KV
	for it.First(); it.Valid(); it.Next() {
		out = append(out, KV{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	return out, it.Error()
}

// TablePrefixes returns the key prefix of every table a snapshot persists.
func TablePrefixes() [][]byte {
	out := make([][]byte, len(tables))
	for i, t := range tables {
		out[i] = bytes.Clone(t.prefix)
	}
	return out
}

// TableRecordTypes returns the record type of every table, in table order.
func TableRecordTypes() []RecordType {
	out := make([]RecordType, len(tables))
	for i, t := range tables {
		out[i] = t.typ
	}
	return out
}

// MetaPrefix is the first byte of the store's own bookkeeping keys.
const MetaPrefix = 'm'

// SnapshotMagic is the magic string that opens a persisted snapshot.
const SnapshotMagic = snapshotMagic
