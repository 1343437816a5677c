package raftstore

import (
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// benchDir returns the directory to benchmark in: $VIGIL_BENCH_DIR if set
// (to measure a particular disk), else a temporary directory.
func benchDir(b *testing.B) string {
	if d := os.Getenv("VIGIL_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "raftstore-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// BenchmarkStoreLogs appends batches of 64 entries of 512 bytes, the shape
// of raft's MaxAppendEntries batches. The "sync" case is the production
// setting; "nosync" shows what the fsync costs.
func BenchmarkStoreLogs(b *testing.B) {
	const batchSize, entrySize = 64, 512
	for _, bc := range []struct {
		name   string
		noSync bool
	}{{"sync", false}, {"nosync", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Open(Options{Path: benchDir(b), NoSync: bc.noSync, Logger: testLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			data := make([]byte, entrySize)
			for i := range data {
				data[i] = byte(i)
			}
			batch := make([]*raft.Log, batchSize)
			for i := range batch {
				batch[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()}
			}
			b.SetBytes(batchSize * entrySize)
			b.ReportAllocs()
			next := uint64(1)
			for b.Loop() {
				for _, l := range batch {
					l.Index = next
					next++
				}
				if err := s.StoreLogs(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(next-1)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkGetLog reads random entries back from a 10k-entry log.
func BenchmarkGetLog(b *testing.B) {
	s, err := Open(Options{Path: benchDir(b), NoSync: true, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	data := make([]byte, 512)
	for lo := uint64(1); lo <= n; lo += 100 {
		var batch []*raft.Log
		for i := lo; i < lo+100; i++ {
			batch = append(batch, &raft.Log{Index: i, Term: 1, Data: data})
		}
		if err := s.StoreLogs(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var l raft.Log
	i := uint64(0)
	for b.Loop() {
		i = (i*7919 + 1) % n
		if err := s.GetLog(i+1, &l); err != nil {
			b.Fatal(err)
		}
	}
}
