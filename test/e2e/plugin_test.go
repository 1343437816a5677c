package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2E_PluginCrashDeadLetterReplay runs the agent with an out-of-process
// parser plugin (plugins/sdk/internal/testplugin) on a file input: records
// parse through the plugin; a record that crashes it is set aside after
// three attempts while the rest ship; `vigil-agent deadletter` lists it;
// replay fails while the plugin still crashes and succeeds once it is
// "fixed"; killing the agent with SIGKILL leaves no plugin process behind.
func TestE2E_PluginCrashDeadLetterReplay(t *testing.T) {
	h := startHub(t)
	dir := t.TempDir()
	pluginPath := filepath.Join(dir, "plugin", "testplugin")
	if out, err := exec.Command("go", "build", "-o", pluginPath, "github.com/vigil-sec/vigil/plugins/sdk/internal/testplugin").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(pluginPath)
	sum := sha256.Sum256(b)
	logFile := filepath.Join(dir, "app.log")
	var lines strings.Builder
	for i := 0; i < 200; i++ {
		if i == 100 {
			lines.WriteString("CRASH\n")
		}
		fmt.Fprintf(&lines, "seq=%d marker=[pl-%d] user=u%d\n", i, i, i%7)
	}
	if err := os.WriteFile(logFile, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, h, agentOpts{extraYAML: fmt.Sprintf(
		"  - id: app\n    type: file\n    paths: [%q]\n    parser: testkv\nplugins:\n  - name: testkv\n    path: %s\n    sha256: %s\n    timeout: 2s\n",
		logFile, pluginPath, hex.EncodeToString(sum[:]))})
	waitFor(t, 30*time.Second, "200 records acknowledged", func() bool {
		st, err := a.tryStatus()
		return err == nil && st.Buffer.AckedSeq >= 200 && st.Buffer.AckedSeq == st.Buffer.LastSeq
	})
	events := h.events(a.id)
	exactlyOnce(t, events, "pl", 200)
	parsed := 0
	for _, e := range events {
		if e["vigil.parser"] == "parser.test_kv" && e["user"] != nil {
			parsed++
		}
	}
	if parsed != 200 {
		t.Errorf("%d of 200 events carry the plugin's fields", parsed)
	}

	var st struct {
		Plugins     map[string]map[string]uint64 `json:"plugins"`
		DeadLetters int                          `json:"dead_letters"`
	}
	out, err := command(nil, "vigil-agent", "status", "-json", "-addr", a.status).Output()
	if err != nil || json.Unmarshal(out, &st) != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	c := st.Plugins["testkv"]
	if st.DeadLetters != 1 || c["dead_letters_total"] != 1 || c["crashes_total"] != 4 || c["restarts_total"] < 4 || c["pid"] == 0 {
		t.Fatalf("status after the crash: dead letters %d, plugin %v", st.DeadLetters, c)
	}
	dl := func(args ...string) (string, error) {
		out, err := command(nil, "vigil-agent", append([]string{"deadletter"}, append(args, "-addr", a.status)...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := dl("list"); err != nil || !strings.Contains(out, "1 dead letters") || !strings.Contains(out, "testkv") {
		t.Fatalf("deadletter list: %v\n%s", err, out)
	}
	if out, err := dl("show", "1"); err != nil || !strings.Contains(out, "CRASH") || !strings.Contains(out, "Attempts  3") {
		t.Fatalf("deadletter show: %v\n%s", err, out)
	}
	if out, err := dl("replay", "1"); err == nil || !strings.Contains(out, "still fails") {
		t.Fatalf("replay while the plugin still crashes: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(pluginPath), "fixed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := dl("replay", "1"); err != nil {
		t.Fatalf("replay after the fix: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "the replayed event at the hub", func() bool {
		for _, e := range h.events(a.id) {
			if e["test.fixed"] == "true" && e["event.original"] == "CRASH" {
				return true
			}
		}
		return false
	})
	if out, err := dl("list"); err != nil || !strings.Contains(out, "0 dead letters") {
		t.Fatalf("deadletter list after replay: %v\n%s", err, out)
	}

	pid := int(c["pid"])
	if out, err := command(nil, "vigil-agent", "status", "-json", "-addr", a.status).Output(); err == nil && json.Unmarshal(out, &st) == nil {
		pid = int(st.Plugins["testkv"]["pid"])
	}
	a.kill9()
	waitFor(t, 5*time.Second, "the plugin to die with the agent", func() bool { return syscall.Kill(pid, 0) != nil })
}
