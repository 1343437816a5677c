package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sendRaw(t *testing.T, address, data string) {
	t.Helper()
	c, err := net.Dial("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.Read(make([]byte, 1))
	c.Close()
}

// TestE2E_HubKill9WhileSending kills the hub with SIGKILL several times while
// two agents are receiving and shipping; every line must be stored exactly
// once, and each agent's record must count exactly its lines.
func TestE2E_HubKill9WhileSending(t *testing.T) {
	h := startHub(t)
	agents := []*agentProc{startAgent(t, h, agentOpts{branch: "north"}), startAgent(t, h, agentOpts{branch: "south"})}
	const n = 20000
	var gens []*exec.Cmd
	for _, a := range agents {
		gen := exec.Command(filepath.Join(binDir, "sysloggen"), "-tcp", a.tcp, "-count", fmt.Sprint(n), "-rate", "4000", "-prefix", "hk")
		if err := gen.Start(); err != nil {
			t.Fatal(err)
		}
		gens = append(gens, gen)
	}
	start := time.Now()
	for i := 0; i < 3; i++ {
		time.Sleep(time.Duration(700+300*i) * time.Millisecond)
		h.kill9()
		time.Sleep(300 * time.Millisecond)
		h.startAndWait()
		t.Logf("restart %d done at %s", i, time.Since(start))
	}
	for _, gen := range gens {
		if err := gen.Wait(); err != nil {
			t.Fatalf("sysloggen: %v", err)
		}
	}
	for _, a := range agents {
		a.drained(60 * time.Second)
		exactlyOnce(t, h.events(a.id), "hk", n)
		if rec := h.agentRecord(a.id); rec.Events != n {
			t.Fatalf("agent %s record counts %d events, want %d", a.id, rec.Events, n)
		}
	}
	t.Logf("all acknowledged at %s", time.Since(start))
}

// TestE2E_HubDownAgentBuffers stops the hub, keeps sending, and checks the
// agent holds everything on disk and drains it once the hub is back.
func TestE2E_HubDownAgentBuffers(t *testing.T) {
	h := startHub(t)
	a := startAgent(t, h, agentOpts{})
	sysloggen(t, "-tcp", a.tcp, "-count", "1000", "-prefix", "before")
	a.drained(20 * time.Second)
	h.kill9()
	sysloggen(t, "-tcp", a.tcp, "-count", "5000", "-prefix", "down")
	st := a.statusNow()
	if st.Buffer.Depth != 5000 {
		t.Fatalf("with the hub down the buffer holds %d events, want 5000", st.Buffer.Depth)
	}
	// The agent itself restarts while the hub is down: the buffer is on disk.
	a.kill9()
	a.startAndWait()
	if d := a.statusNow().Buffer.Depth; d != 5000 {
		t.Fatalf("after agent restart the buffer holds %d, want 5000", d)
	}
	h.startAndWait()
	a.drained(30 * time.Second)
	evs := h.events(a.id)
	exactlyOnce(t, evs, "before", 1000)
	exactlyOnce(t, evs, "down", 5000)
}

// TestE2E_BufferFullPolicy fills a small buffer while the hub is down: TCP
// senders are held back (nothing lost), UDP records are dropped and counted.
func TestE2E_BufferFullPolicy(t *testing.T) {
	h := startHub(t)
	a := startAgent(t, h, agentOpts{bufferMax: "256KiB"})
	h.kill9()
	// UDP: about 120 KiB fits; the rest is dropped and counted exactly.
	sysloggen(t, "-udp", a.udp, "-count", "3000", "-rate", "3000", "-prefix", "udp")
	var st agentStatus
	waitFor(t, 10*time.Second, "all UDP datagrams accounted for", func() bool {
		st = a.statusNow()
		c := st.Inputs["udp"]
		return c["records_total"]+c["dropped_buffer_full"] == 3000
	})
	udpKept := st.Inputs["udp"]["records_total"]
	if st.Inputs["udp"]["dropped_buffer_full"] == 0 || udpKept == 0 {
		t.Fatalf("UDP into a full buffer: kept %d dropped %d, want both > 0", udpKept, st.Inputs["udp"]["dropped_buffer_full"])
	}
	if st.Buffer.DroppedFull != st.Inputs["udp"]["dropped_buffer_full"] {
		t.Fatalf("buffer drop counter %d differs from input's %d", st.Buffer.DroppedFull, st.Inputs["udp"]["dropped_buffer_full"])
	}
	// TCP: the sender blocks instead of losing lines.
	gen := exec.Command(filepath.Join(binDir, "sysloggen"), "-tcp", a.tcp, "-count", "5000", "-prefix", "tcp")
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gen.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("TCP sender finished (%v) although the buffer is full and the hub is down", err)
	case <-time.After(2 * time.Second):
	}
	if b := a.statusNow().Buffer.Blocked; b == 0 {
		t.Fatal("no append was blocked by the full buffer")
	}
	h.startAndWait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sysloggen: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("TCP sender still blocked after the hub came back")
	}
	a.drained(30 * time.Second)
	evs := h.events(a.id)
	exactlyOnce(t, evs, "tcp", 5000)
	udpAtHub := 0
	for _, e := range evs {
		if e["input.type"] == "udp" {
			udpAtHub++
		}
	}
	if uint64(udpAtHub) != udpKept {
		t.Fatalf("hub holds %d UDP events, agent accepted %d", udpAtHub, udpKept)
	}
}

// TestE2E_RetentionByAge checks that the leader's retention entry removes
// events older than max_age and keeps the rest.
func TestE2E_RetentionByAge(t *testing.T) {
	h := startHubWith(t, "retention:\n  max_age: 24h\n  interval: 200ms\n")
	a := startAgent(t, h, agentOpts{})
	old := filepath.Join(t.TempDir(), "old.log")
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, fmt.Sprintf("<13>1 2020-01-0%dT10:00:00Z h app - - - [old-%d]", i%9+1, i))
	}
	if err := os.WriteFile(old, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sysloggen(t, "-tcp", a.tcp, "-file", old)
	sysloggen(t, "-tcp", a.tcp, "-count", "30", "-rfc5424", "-prefix", "new")
	a.drained(20 * time.Second)
	waitFor(t, 10*time.Second, "old events removed by retention", func() bool {
		return len(h.events(a.id)) == 30
	})
	exactlyOnce(t, h.events(a.id), "new", 30)
	if rec := h.agentRecord(a.id); rec.AckedSeq != 80 {
		t.Fatalf("acked seq %d after retention, want 80", rec.AckedSeq)
	}
}
