package main

import (
	"fmt"
	"github.com/vigil-sec/vigil/agent/ship"
	"time"

	"github.com/vigil-sec/vigil/agent/parsers"
	"github.com/vigil-sec/vigil/protocol/event"
)

// zstdBatchEvents is the agent's default batch size (ship.Config.MaxBatchEvents).
const zstdBatchEvents = 1000

// zstdFigures measures the compression the shipper achieves on the corpus.
//
// Every corpus line is processed once, in corpus order, as the syslog input
// does it (parsers.Processor with the "syslog" parser, received now), and
// the encoded events are packed with event.AppendRecord into payloads of
// 1000 events, exactly like ship.Shipper.send. Each payload is compressed
// with its own EncodeAll call by an encoder configured like the shipper's
// (ship.NewEncoder, exactly as the agent compresses).
//
//	zstd_ratio                raw payload bytes / compressed bytes
//	zstd_compress_mb_per_sec  raw payload bytes (10^6) compressed per second,
//	                          one goroutine, repeated for at least 2 s
//	zstd_ratio_raw_lines      the raw log text in 1000-line blocks
//	                          (newline-joined), same encoder
func (b *bench) zstdFigures() error {
	p, err := parsers.New("syslog")
	if err != nil {
		return err
	}
	proc := parsers.NewProcessor("tcp", p, 0)
	var payloads, blocks [][]byte
	var payload, block []byte
	for i, line := range b.corpus.lines {
		payload = event.AppendRecord(payload, proc.Process(line, time.Now()))
		block = append(append(block, line...), '\n')
		if (i+1)%zstdBatchEvents == 0 || i == len(b.corpus.lines)-1 {
			payloads = append(payloads, payload)
			blocks = append(blocks, block)
			payload, block = nil, nil
		}
	}
	enc, err := ship.NewEncoder(1 << 20)
	if err != nil {
		return err
	}
	defer enc.Close()
	ratio := func(bufs [][]byte) (raw, comp int) {
		var dst []byte
		for _, p := range bufs {
			dst = enc.EncodeAll(p, dst[:0])
			raw += len(p)
			comp += len(dst)
		}
		return raw, comp
	}
	raw, comp := ratio(payloads)
	b.logf("zstd: %d events (%d parse errors) in %d payloads: %d raw bytes -> %d compressed", len(b.corpus.lines), proc.Stats().ParseErrors, len(payloads), raw, comp)
	rawL, compL := ratio(blocks)
	b.logf("zstd: raw lines in %d blocks: %d bytes -> %d compressed", len(blocks), rawL, compL)

	// Speed: compress the payloads over and over for at least 2 s.
	var dst []byte
	for _, p := range payloads { // warm up
		dst = enc.EncodeAll(p, dst[:0])
	}
	start := time.Now()
	var done int
	for rounds := 0; time.Since(start) < 2*time.Second || rounds < 3; rounds++ {
		for _, p := range payloads {
			dst = enc.EncodeAll(p, dst[:0])
			done += len(p)
		}
	}
	el := time.Since(start)
	if comp == 0 || compL == 0 {
		return fmt.Errorf("nothing compressed")
	}
	b.figure("zstd_ratio", float64(raw)/float64(comp), "x")
	b.figure("zstd_compress_mb_per_sec", float64(done)/el.Seconds()/1e6, "MB/s")
	b.figure("zstd_ratio_raw_lines", float64(rawL)/float64(compL), "x")
	return nil
}
