// Package buffer owns the agent's durable store-and-forward queue on Pebble.
//
// # Key layout
//
//	q <seq:8 BE>        one encoded event (protocol/event wire form)
//	c <name>            an input checkpoint (file offsets), opaque bytes
//	m epoch             the buffer's epoch: uint64 BE, set once at creation
//	m acked             highest seq the hub has acknowledged: uint64 BE
//
// Sequence numbers start at 1 in each epoch and are never reused within it:
// on open the next seq is max(last queued seq, acked)+1.
//
// # Contract
//
// Append assigns consecutive seqs to the records it is given and writes them,
// together with any checkpoints, in one Pebble batch. With the default fsync
// policy "always" Append returns only after that batch is synced, so an input
// may acknowledge its source (advance a file offset, read the next TCP frame)
// as soon as Append returns: kill -9 after that point loses nothing. With
// "interval" the batch is synced within FsyncInterval; a crash may lose up to
// that window, events and the checkpoints that cover them together, so a file
// input re-reads what was lost and only network inputs can lose data.
//
// Appends from all inputs go through one writer goroutine that commits them in
// groups, so one fsync covers many appends (group commit) and seqs become
// visible in order.
//
// Read returns records from a seq up to the highest committed one. Ack(seq)
// deletes everything up to seq; it is not synced on its own because losing an
// ack only means the hub sees a duplicate, which it drops.
//
// # When full
//
// MaxBytes bounds the bytes of queued records. Append (for inputs that can
// wait: file, TCP) blocks until acknowledgements free space or its context
// ends; TryAppend (for UDP) fails at once with ErrFull and the caller counts
// the drop. Nothing is dropped silently.
//
// The package never talks to the network and never decides what to send.
package buffer
