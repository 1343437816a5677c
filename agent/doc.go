// Package agent wires one vigil-agent together: inputs → parsers → buffer →
// shipper, plus the local status endpoint. It owns their lifecycle and
// nothing else: every decision about records lives in the packages it wires.
package agent
