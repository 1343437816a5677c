package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestE2E_AgentKill9WhileTailing kills the agent with SIGKILL several times
// while it tails a growing file of 200 000 lines, restarting it each time:
// every line must reach the hub exactly once.
func TestE2E_AgentKill9WhileTailing(t *testing.T) {
	h := startHub(t)
	logDir := t.TempDir()
	path := filepath.Join(logDir, "app.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, h, agentOpts{files: []string{filepath.Join(logDir, "*.log")}})
	const total = 200000
	written := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			written <- err
			return
		}
		defer f.Close()
		w := bufio.NewWriterSize(f, 256<<10)
		for i := 0; i < total; i++ {
			fmt.Fprintf(w, "<86>Dec  2 10:%02d:%02d web-7 sshd[%d]: Accepted publickey for deploy from 10.1.%d.%d port %d ssh2 [tail-%d]\n",
				(i/60)%60, i%60, 1000+i%5000, (i/250)%250, i%250+1, 30000+i%30000, i)
			if i%4000 == 3999 {
				// About 40 000 lines/s, so the kills land while the file grows.
				if err := w.Flush(); err != nil {
					written <- err
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		written <- w.Flush()
	}()
	kills := 0
	for done := false; !done; {
		select {
		case err := <-written:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-time.After(time.Duration(600+kills*170) * time.Millisecond):
			a.kill9()
			kills++
			a.startAndWait()
		}
	}
	// One more kill after the writer finished, while the agent catches up.
	a.kill9()
	kills++
	a.startAndWait()
	t.Logf("agent killed %d times", kills)
	waitFor(t, 120*time.Second, "all 200000 lines at the hub", func() bool {
		return h.agentRecord(a.id).Events >= total
	})
	a.drained(30 * time.Second)
	exactlyOnce(t, h.events(a.id), "tail", total)
	if kills < 4 {
		t.Fatalf("only %d kills happened; the test did not exercise restarts", kills)
	}
}
