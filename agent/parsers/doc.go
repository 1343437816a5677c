// Package parsers is the agent's side of parsing: the catalog of parsers an
// input may name in agent.yaml, and the Processor that turns one raw record
// into the wire form of an event — cutting over-long records, keeping and
// flagging invalid UTF-8, and recording parse failures on the event instead
// of dropping it. It never does I/O and never drops a record.
package parsers
