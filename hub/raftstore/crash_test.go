package raftstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/hashicorp/raft"
)

const crashDirEnv = "VIGIL_RAFTSTORE_CRASH_DIR"

const crashBatch = 64

// TestStore_CrashChild is the body of the process that TestStore_CrashKill kills. It
// does nothing unless started by TestStore_CrashKill.
func TestStore_CrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestStore_CrashKill")
	}
	s, err := Open(Options{Path: dir, Logger: testLogger()})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	// Write until killed; the bound only stops an orphan.
	deadline := time.Now().Add(2 * time.Minute)
	for next := uint64(1); time.Now().Before(deadline); next += crashBatch {
		if err := s.StoreLogs(mkLogs(next, next+crashBatch-1)); err != nil {
			fmt.Println("store:", err)
			os.Exit(2)
		}
		last := next + crashBatch - 1
		if err := s.SetUint64([]byte("CurrentTerm"), last); err != nil {
			fmt.Println("set:", err)
			os.Exit(2)
		}
		// Printed only after both writes returned, i.e. were synced.
		fmt.Printf("stored %d\n", last)
	}
	os.Exit(3)
}

// TestStore_CrashKill SIGKILLs a process that is writing synced batches and
// checks that everything it acknowledged before the kill survives, and
// that no batch survives in part.
func TestStore_CrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a subprocess")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStore_CrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const target = 2000
	var acked uint64
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var n uint64
		if _, err := fmt.Sscanf(sc.Text(), "stored %d", &n); err != nil {
			t.Logf("child: %s", sc.Text())
			continue
		}
		acked = n
		if acked >= target {
			// The child is already writing its next batch.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	_ = cmd.Wait()
	if acked < target {
		t.Fatalf("child stopped after acknowledging %d entries (scan err %v)", acked, sc.Err())
	}

	s := openAt(t, dir)
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	t.Logf("acknowledged %d, recovered [%d, %d]", acked, first, last)
	if first != 1 || last < acked {
		t.Fatalf("recovered [%d, %d], but %d entries were acknowledged", first, last, acked)
	}
	if last%crashBatch != 0 {
		t.Fatalf("last index %d: a batch of %d survived in part", last, crashBatch)
	}
	assertPresent(t, s, 1, last)
	assertMissing(t, s, last+1)
	term, err := s.GetUint64([]byte("CurrentTerm"))
	if err != nil || term < acked || (term != last && term != last-crashBatch) {
		t.Fatalf("CurrentTerm = %d, %v; acknowledged %d, last index %d", term, err, acked, last)
	}
}

// TestStore_CrashPowerLoss uses Pebble's strict in-memory filesystem, which
// drops every byte not fsynced when the "power" goes, to show that the
// store syncs what it acknowledges, and (as a control) that NoSync
// really does not.
func TestStore_CrashPowerLoss(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			mem := vfs.NewStrictMem()
			opts := Options{Path: "", NoSync: noSync, Logger: testLogger(), fs: mem}
			s, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StoreLogs(mkLogs(1, 100)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteRange(1, 10); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteRange(91, 100); err != nil {
				t.Fatal(err)
			}
			if err := s.SetUint64([]byte("CurrentTerm"), 5); err != nil {
				t.Fatal(err)
			}
			if err := s.Set([]byte("LastVoteCand"), []byte("n1")); err != nil {
				t.Fatal(err)
			}

			// Power cut: nothing from here on reaches the disk.
			mem.SetIgnoreSyncs(true)
			if err := s.StoreLogs(mkLogs(91, 120)); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			mem.ResetToSyncedState()
			mem.SetIgnoreSyncs(false)

			s, err = Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if noSync {
				// Control: unsynced writes are gone, so the test above
				// can tell syncing from not syncing.
				assertBounds(t, s, 0, 0)
				if _, err := s.GetUint64([]byte("CurrentTerm")); err != ErrKeyNotFound {
					t.Fatalf("unsynced CurrentTerm survived: %v", err)
				}
				return
			}
			assertBounds(t, s, 11, 90)
			assertPresent(t, s, 11, 90)
			assertMissing(t, s, 10, 91)
			if n, err := s.GetUint64([]byte("CurrentTerm")); err != nil || n != 5 {
				t.Fatalf("CurrentTerm = %d, %v", n, err)
			}
			if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "n1" {
				t.Fatalf("LastVoteCand = %q, %v", v, err)
			}
			var l raft.Log
			if err := s.GetLog(95, &l); err != raft.ErrLogNotFound {
				t.Fatalf("unsynced entry 95 survived: %v", err)
			}
		})
	}
}
