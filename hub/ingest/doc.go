// Package ingest owns the hub's QUIC listener for agents: the TLS handshake
// outcome (who the peer is, taken from its verified certificate and never from
// a message), the hello exchange, and the batch pipeline — each batch is
// proposed to Raft and acknowledged only after its entry is committed and
// applied (invariant 1), in the order the batches arrived.
//
// Limits: frames are at most Config.MaxFrameBytes, a batch decompresses to at
// most Config.MaxBatchRawBytes, and at most Config.InflightPerStream batches
// of one stream wait for Raft at once; beyond that the stream is not read, so
// QUIC flow control pushes back on the agent. A malformed or oversized frame
// closes only that stream, with an Error frame and a logged reason.
//
// The package never writes state itself and never acknowledges a batch that
// Raft has not committed.
package ingest
