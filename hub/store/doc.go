// Package store owns the hub's replicated state on Pebble: agents, enrollment
// tokens and events, plus the index of the last Raft entry applied to it.
//
// # Key layout
//
//	a <agent_id>                                  AgentRecord (protobuf)
//	t <token_id>                                  TokenRecord (protobuf)
//	n <node_id>                                   MemberRecord (protobuf): hub nodes
//	e c <minTs:8> <agent_id> 0x00 <epoch:8> <firstSeq:8>  event chunk: header + records
//	e T <minTs:8> <agent_id> 0x00 <epoch:8> <firstSeq:8>  chunk time index: chunk meta
//	e A <agent_id> 0x00 <chunk suffix>            chunk agent index: chunk meta
//	e B <branch> 0x00 <chunk suffix>              chunk branch index: chunk meta
//	m applied                                     last applied Raft index (uint64 BE)
//	m restoring                                   present while a snapshot restore runs
//
// A chunk is a run of consecutive seqs of one agent epoch (see
// store_chunks.go for the value formats). Timestamps are event time in Unix
// nanoseconds, big-endian with the sign bit flipped so that byte order is
// time order; the chunks of one branch or one agent that may hold events of
// a time range are one contiguous key range.
//
// Writes are made only by the state machine (hub/fsm) through Batch, with the
// applied index in the same batch. They are not synced one by one: the Raft
// log is the durable copy, and Sync is called before every state-machine
// snapshot so that nothing the snapshot covers can be lost.
//
// The store never reads a clock, never generates IDs and never decides
// anything: it keeps what the state machine tells it to.
package store
