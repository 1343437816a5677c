// Package protocol holds what crosses a process boundary in Vigil: the ALPN
// names and protocol versions, the protobuf messages (agentpb between agent and
// hub, raftpb inside the hub's Raft log and snapshots) and the framing used on
// QUIC streams (frame).
//
// Compatibility rules (docs/protocol.md has the full text): fields and enum
// values are append-only, a field number is never reused, a retired field is
// marked reserved; a change that an older peer cannot safely ignore needs a
// new ProtocolVersion. This package must never import agent, hub or plugin
// code, and the generated packages are never edited by hand (make proto).
package protocol
