// Package raftstore implements hashicorp/raft's LogStore and StableStore on
// a single Pebble database.
//
// # What it owns
//
// A Store exclusively owns one Pebble directory (Options.Path). Pebble holds
// a file lock on it, so a second Open of the same directory fails instead of
// corrupting it. Nothing else may write to that directory. The Store keeps
// two keyspaces in it:
//
//	'l' + uint64 index, 8 bytes big-endian  -> encoded raft.Log  (the log)
//	's' + key bytes, verbatim               -> value             (stable store)
//
// Big-endian indexes sort in numeric order under Pebble's bytewise
// comparator, so the first and last log entries are the first and last keys
// in the 'l' range. Set and SetUint64 share the 's' keyspace, as in
// raft-boltdb: SetUint64 stores 8 big-endian bytes, so Get on that key
// returns those 8 bytes. All other key prefixes are reserved.
//
// # Log encoding
//
// Each value in the 'l' range is a compact binary record written and read
// by this package, not msgpack or gob:
//
//	byte     format version (currently 1)
//	uvarint  Index (must match the key; checked on read)
//	uvarint  Term
//	byte     Type
//	uvarint  len(Data), then Data
//	uvarint  len(Extensions), then Extensions
//	byte     1 if AppendedAt is set, 0 if it is the zero time; if 1:
//	varint   AppendedAt Unix seconds
//	uvarint  AppendedAt nanoseconds (0..999999999)
//
// Records with an unknown version, trailing bytes or lengths that run past
// the end are rejected as corrupt rather than decoded. Empty Data and
// Extensions read back as nil; AppendedAt reads back in UTC, keeping the
// instant but not the original Location or monotonic clock reading.
//
// # Durability
//
// Unless Options.NoSync is set, every StoreLog, StoreLogs, DeleteRange, Set
// and SetUint64 is committed with pebble.Sync: the write-ahead log is
// fsynced before the call returns. The store must never report success for
// a write that is not yet durable, because raft acknowledges entries to the
// leader, and counts votes, on the strength of that return. NoSync exists
// only for tests and benchmarks; a node using it can lose acknowledged
// entries or forget a vote after a crash and break raft's safety.
//
// StoreLogs writes all its entries in one Pebble batch, so after a crash
// either all of them are present or none are. DeleteRange is a single
// range tombstone, so it is atomic too.
//
// FirstIndex and LastIndex are served from in-memory atomics. They are
// loaded from the database on Open and updated only after a write has been
// committed, so they never announce an entry that is not durable. Writes
// are serialised inside the Store; reads run concurrently with them, which
// raft relies on (replication goroutines read while the main loop
// appends). The store tolerates gaps in the log, as raft allows after a
// snapshot restore: the indexes reported are always those of the lowest and
// highest entries actually stored, so it does not claim to be a
// raft.MonotonicLogStore.
//
// # Missing entries
//
// GetLog of an absent index returns raft.ErrLogNotFound. Get and GetUint64
// of an absent key return ErrKeyNotFound, unwrapped, whose text is exactly
// "not found": raft compares err.Error() with that string when it reads
// CurrentTerm, LastVoteTerm and LastVoteCand on a fresh node. GetUint64
// returns 0 alongside it.
package raftstore
