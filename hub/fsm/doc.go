// Package fsm is the hub's replicated state machine: it applies committed
// Raft entries to the store (hub/store) and produces their typed results.
//
// # Determinism (invariant 3)
//
// Every node applies the same log and must reach the same state, so apply
// code never reads a clock, never draws random numbers, never ranges over a
// map without sorting its keys, and never depends on goroutine timing. Time,
// IDs and randomness arrive in the entry, stamped by the node that proposed
// it. TestFSM_DeterminismLint enforces the first three rules on the source of
// this package and hub/store (a map range needs //fsm:sorted on the line
// above); TestFSM_Deterministic checks that differently batched replicas of
// one log reach the same state.
//
// # Adding a command
//
//  1. Append a MessageType to msgtype.go (never renumber or reuse).
//  2. Add its payload message to protocol/proto/raft.proto and run make proto.
//  3. Write apply_<domain>.go with a handler of the shape in apply_ingest.go
//     and register it in that file's init with registerCommand.
//  4. If it adds a table, add the table to hub/store's snapshot list and a
//     TestFSM_SnapshotRestore_<Table> test.
//
// Entries at or below the store's applied index are skipped: the store is
// persistent, so after a restart Raft replays entries the store already holds.
package fsm
