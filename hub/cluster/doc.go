// Package cluster owns the hub's Raft node: its configuration, the Raft
// transport over mutual TLS, the Pebble log and stable store, the file
// snapshot store, and bootstrapping. It never interprets commands (hub/fsm
// does) and never talks to agents.
//
// Even a single-node hub runs this multi-node code path: a real TCP transport
// with per-node certificates, a configuration holding one voter, and the same
// Apply path a three-node cluster uses.
package cluster
