// Package hub wires one hub node together: the state store, the state
// machine, the Raft node, the agent listener, enrollment and the API. It owns
// their lifecycle and the forward-or-apply path (Apply, ReadBarrier); it
// holds no domain logic of its own.
package hub
