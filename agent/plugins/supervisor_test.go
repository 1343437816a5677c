package plugins

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/plugins/sdk"
	"github.com/vigil-sec/vigil/plugins/sdk/host"
)

// testPlugin is the path and sha256 of plugins/sdk/internal/testplugin,
// built once for the package's tests.
var testPlugin, testPluginSum string

func TestMain(m *testing.M) {
	if os.Getenv("VIGIL_PLUGIN_CHILD") != "" {
		runChild()
		return
	}
	dir, err := os.MkdirTemp("", "vigil-plugin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPlugin = filepath.Join(dir, "testplugin")
	out, err := exec.Command("go", "build", "-o", testPlugin, "github.com/vigil-sec/vigil/plugins/sdk/internal/testplugin").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build test plugin: %v\n%s", err, out)
		os.Exit(1)
	}
	b, _ := os.ReadFile(testPlugin)
	sum := sha256.Sum256(b)
	testPluginSum = hex.EncodeToString(sum[:])
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func openBuffer(t *testing.T) *buffer.Buffer {
	t.Helper()
	b, err := buffer.Open(buffer.DefaultConfig(t.TempDir()), nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func newSupervisor(t *testing.T, cfg Config, dl DeadLetters) *Supervisor {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path, cfg.SHA256 = testPlugin, testPluginSum
	}
	cfg.Name = "test"
	cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 50*time.Millisecond
	s := New(cfg, dl, os.Stderr, nil)
	t.Cleanup(s.Close)
	return s
}

// Outcomes of parse: what became of each record.
const (
	Parsed      = "parsed"
	DeadLetter  = "dead letter"
	Unavailable = "kept raw"
)

func parse(s *Supervisor, recs ...string) ([]sdk.Event, []error, []string) {
	raws := make([][]byte, len(recs))
	rcv := make([]time.Time, len(recs))
	for i, r := range recs {
		raws[i] = []byte(r)
		rcv[i] = time.Unix(1_700_000_000, 0)
	}
	evs, errs, kept := make([]sdk.Event, len(recs)), make([]error, len(recs)), make([]bool, len(recs))
	s.ParseBatch("fw", raws, rcv, evs, errs, kept)
	out := make([]string, len(recs))
	for i := range out {
		switch {
		case !kept[i]:
			out[i] = DeadLetter
		case errs[i] != nil && strings.Contains(errs[i].Error(), "would not start"):
			out[i] = Unavailable
		default:
			out[i] = Parsed
		}
	}
	return evs, errs, out
}

func TestSupervisor_ParsesBatch(t *testing.T) {
	s := newSupervisor(t, Config{}, openBuffer(t))
	evs, errs, out := parse(s, "user=alice port=22", "no fields here", "action=deny")
	if out[0] != Parsed || out[1] != Parsed || out[2] != Parsed {
		t.Fatalf("outcomes %v", out)
	}
	if f, _ := evs[0].Get("port"); f.Int != 22 || errs[0] != nil {
		t.Errorf("record 0: %+v, %v", evs[0].Fields, errs[0])
	}
	if f, _ := evs[0].Get("user"); f.Str != "alice" {
		t.Errorf("user = %q", f.Str)
	}
	if !errors.Is(errs[1], sdk.ErrNotMatched) || evs[1].Original != "no fields here" {
		t.Errorf("record 1: %v, original %q", errs[1], evs[1].Original)
	}
	if s.ID() != "parser.test_kv" {
		t.Errorf("id %q", s.ID())
	}
	if c := s.Counters(); c.Starts.Load() != 1 || c.Records.Load() != 3 || c.Crashes.Load() != 0 {
		t.Errorf("counters %v", c.Snapshot())
	}
}

func TestSupervisor_RefusesUnpinnedOrChangedBinary(t *testing.T) {
	other := strings.Repeat("0", 64)
	s := newSupervisor(t, Config{Path: testPlugin, SHA256: other}, openBuffer(t))
	err := s.Start()
	if !errors.Is(err, host.ErrChecksum) {
		t.Fatalf("start with the wrong sha256: %v", err)
	}
	if !strings.Contains(err.Error(), testPluginSum) {
		t.Errorf("error does not give the actual sum: %v", err)
	}
	// Records still come through, raw, saying why.
	evs, errs, out := parse(s, "user=bob")
	if out[0] != Unavailable || evs[0].Original != "user=bob" || errs[0] == nil || !strings.Contains(errs[0].Error(), "would not start") {
		t.Errorf("with no plugin: outcome %v, original %q, err %v", out[0], evs[0].Original, errs[0])
	}
	s2 := newSupervisor(t, Config{Path: testPlugin, SHA256: ""}, openBuffer(t))
	if err := s2.Start(); err == nil || !strings.Contains(err.Error(), "want 64 hex digits") {
		t.Errorf("start without sha256: %v", err)
	}
}

func TestSupervisor_CrashingRecordIsDeadLettered(t *testing.T) {
	for _, bad := range []string{"CRASH", "PANIC"} {
		t.Run(bad, func(t *testing.T) {
			buf := openBuffer(t)
			s := newSupervisor(t, Config{}, buf)
			evs, errs, out := parse(s, "a=1", bad, "b=2")
			if out[0] != Parsed || out[1] != DeadLetter || out[2] != Parsed {
				t.Fatalf("outcomes %v (errs %v)", out, errs)
			}
			if f, _ := evs[2].Get("b"); f.Int != 2 {
				t.Errorf("record after the bad one: %+v", evs[2].Fields)
			}
			list, total, err := buf.DeadLetters(0, 10)
			if err != nil || total != 1 {
				t.Fatalf("dead letters: %d, %v", total, err)
			}
			dl := list[0]
			if string(dl.Record) != bad || dl.Attempts != 3 || dl.Input != "fw" || dl.Parser != "test" || !strings.Contains(dl.Error, "plugin test failed") {
				t.Errorf("dead letter %+v", dl)
			}
			c := s.Counters()
			// One failed batch, then three failed attempts of the bad record alone.
			if c.Crashes.Load() != 4 || c.DeadLetters.Load() != 1 || c.Restarts.Load() < 4 || c.Records.Load() != 2 {
				t.Errorf("counters %v", c.Snapshot())
			}
			// The plugin runs again afterwards.
			if _, _, out := parse(s, "c=3"); out[0] != Parsed {
				t.Errorf("after the dead letter: %v", out)
			}
		})
	}
}

func TestSupervisor_HungPluginKilledAtDeadline(t *testing.T) {
	buf := openBuffer(t)
	s := newSupervisor(t, Config{Timeout: 300 * time.Millisecond}, buf)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	first := s.Pid()
	start := time.Now()
	_, _, out := parse(s, "HANG", "x=1")
	took := time.Since(start)
	if out[0] != DeadLetter || out[1] != Parsed {
		t.Fatalf("outcomes %v", out)
	}
	// The batch, then three attempts alone: four deadlines, and a little.
	if took < 4*300*time.Millisecond || took > 10*time.Second {
		t.Errorf("took %s", took)
	}
	if c := s.Counters(); c.Timeouts.Load() != 4 {
		t.Errorf("counters %v", c.Snapshot())
	}
	if err := syscall.Kill(first, 0); err == nil {
		t.Errorf("hung plugin pid %d still runs", first)
	}
}

func TestSupervisor_PluginGetsNoHostEnvironment(t *testing.T) {
	t.Setenv("VIGIL_TEST_SECRET", "hunter2")
	s := newSupervisor(t, Config{}, openBuffer(t))
	evs, _, out := parse(s, "ENV")
	if out[0] != Parsed {
		t.Fatal(out)
	}
	if f, _ := evs[0].Get("test.secret_visible"); f.Bool {
		t.Error("the plugin saw the agent's environment")
	}
	// go-plugin passes only its own handshake variables.
	if f, _ := evs[0].Get("test.env_count"); f.Int > 8 {
		t.Errorf("plugin has %d environment variables", f.Int)
	}
}

// runChild is the "agent" of TestSupervisor_NoOrphanAfterAgentKill: it
// starts the plugin, prints its pid and waits to be killed.
func runChild() {
	s := New(Config{Name: "test", Path: os.Getenv("VIGIL_PLUGIN_PATH"), SHA256: os.Getenv("VIGIL_PLUGIN_SUM")}, nil, os.Stderr, nil)
	if err := s.Start(); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(s.Pid())
	select {}
}

func TestSupervisor_NoOrphanAfterAgentKill(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VIGIL_PLUGIN_CHILD=1", "VIGIL_PLUGIN_PATH="+testPlugin, "VIGIL_PLUGIN_SUM="+testPluginSum)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		t.Fatalf("child said %q", line)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("plugin %d not running: %v", pid, err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d outlived the agent killed with SIGKILL", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
