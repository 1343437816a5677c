package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/vigil-sec/vigil/hub/hubtest"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent"
	"github.com/vigil-sec/vigil/agent/command"
	agentconfig "github.com/vigil-sec/vigil/agent/config"
	"github.com/vigil-sec/vigil/hub/store"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = command.Main(args, command.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestMain_UsageAndUnknownCommand(t *testing.T) {
	for _, args := range [][]string{nil, {"-h"}, {"--help"}, {"help"}} {
		code, out, errs := run(args...)
		if code != 0 || !strings.Contains(out, "Usage: vigil-agent <command> [options]") || errs != "" {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0 and usage on stdout", args, code, out, errs)
		}
		for _, c := range []string{"enroll", "run", "status", "version"} {
			if !strings.Contains(out, "    "+c) {
				t.Errorf("usage lacks %q", c)
			}
		}
	}
	for _, args := range [][]string{{"bogus"}, {"-x"}, {"Run"}} {
		code, out, errs := run(args...)
		if code != 1 || out != "" || !strings.Contains(errs, fmt.Sprintf("unknown command %q", args[0])) || !strings.Contains(errs, "Usage: vigil-agent") {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 1 and usage on stderr", args, code, out, errs)
		}
	}
}

func TestMain_HelpAndVersion(t *testing.T) {
	for _, cmd := range []string{"enroll", "run", "status"} {
		code, _, errs := run(cmd, "-h")
		if code != 0 || !strings.Contains(errs, "Usage of vigil-agent "+cmd) {
			t.Errorf("%s -h = %d, stderr %q", cmd, code, errs)
		}
	}
	code, out, _ := run("version")
	if code != 0 || !strings.HasPrefix(out, "vigil-agent ") {
		t.Errorf("version = %d %q", code, out)
	}
}

func TestMain_UsageErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"enroll"}, "Error: -hub is required"},
		{[]string{"enroll", "-hub", "127.0.0.1:7443"}, "Error: -token or -token-file is required"},
		{[]string{"enroll", "-hub", "127.0.0.1:7443", "-token", "x", "stray"}, `Error: unexpected argument "stray"`},
		{[]string{"run"}, "Error: -c agent.yaml is required"},
		{[]string{"run", "-bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, c := range cases {
		code, out, errs := run(c.args...)
		if code != 1 || out != "" || !strings.Contains(errs, c.want) || !strings.Contains(errs, "Run 'vigil-agent "+c.args[0]+" -h' for usage.") {
			t.Errorf("Main(%q) = %d, stderr %q; want 1 with %q and the usage hint", c.args, code, errs, c.want)
		}
	}
	// Errors that are not usage mistakes get no usage hint.
	code, _, errs := run("enroll", "-hub", "127.0.0.1:7443", "-token", "vigil1.nope", "-data", dir)
	if code != 1 || !strings.Contains(errs, "Error: malformed token") || strings.Contains(errs, "for usage") {
		t.Errorf("malformed token = %d, %q", code, errs)
	}
	code, _, errs = run("enroll", "-hub", "127.0.0.1:7443", "-token-file", filepath.Join(dir, "missing"), "-data", dir)
	if code != 1 || !strings.Contains(errs, "Error: read token file:") {
		t.Errorf("missing token file = %d, %q", code, errs)
	}
	code, _, errs = run("run", "-c", filepath.Join(dir, "missing.yaml"))
	if code != 1 || !strings.Contains(errs, "Error: read config:") {
		t.Errorf("missing config = %d, %q", code, errs)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed commands wrote %d entries to the data dir", len(entries))
	}
	// status with nothing listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	code, _, errs = run("status", "-addr", addr)
	if code != 1 || !strings.Contains(errs, "agent not reachable at "+addr+" (is it running?)") {
		t.Errorf("status without an agent = %d, %q", code, errs)
	}
}

// TestCommands_EnrollRunStatus enrolls through the CLI against an in-process
// hub, runs the agent it configured, feeds it a syslog datagram and reads its
// status through the CLI.
func TestCommands_EnrollRunStatus(t *testing.T) {
	h := hubtest.New(t, nil)
	tok := h.CreateToken("north", time.Now().Add(time.Hour))
	work := t.TempDir()
	tokFile := filepath.Join(work, "enroll.token")
	if err := os.WriteFile(tokFile, []byte(tok.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	statusAddr := fmt.Sprintf("127.0.0.1:%d", hubtest.FreePort(t))
	syslogAddr := fmt.Sprintf("127.0.0.1:%d", hubtest.FreePort(t))
	cfgPath := filepath.Join(work, "agent.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
data_dir: data
status_addr: %s
inputs:
  - id: udp_in
    type: syslog
    protocol: udp
    listen: %s
`, statusAddr, syslogAddr)), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errs := run("enroll", "-hub", h.IngestAddr(), "-token-file", tokFile, "-c", cfgPath)
	if code != 0 {
		t.Fatalf("enroll = %d: %s", code, errs)
	}
	if !strings.Contains(out, "Enrolled as agent agt-") || !strings.Contains(out, "in branch north") || !strings.Contains(out, "Hubs: "+h.IngestAddr()) {
		t.Errorf("enroll output = %q", out)
	}
	dataDir := filepath.Join(work, "data")
	for _, f := range []string{"tls/agent.key", "tls/agent.crt", "tls/ca.crt", "identity.json"} {
		if fi, err := os.Stat(filepath.Join(dataDir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v", f, err)
		}
	}
	code, _, errs = run("enroll", "-hub", h.IngestAddr(), "-token-file", tokFile, "-c", cfgPath)
	if code != 1 || !strings.Contains(errs, "already enrolled") {
		t.Errorf("second enroll = %d, %q", code, errs)
	}

	cfg, err := agentconfig.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, hubtest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop")
		}
	})
	<-a.Ready

	c, err := net.Dial("udp", syslogAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line := "<13>Oct 11 22:14:15 branch-host app: hello from the cli test"
	if _, err := c.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}

	var st agent.Status
	hubtest.WaitFor(t, 20*time.Second, "event acknowledged in agent status", func() bool {
		code, out, _ := run("status", "-addr", statusAddr, "-json")
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		return st.Ship.EventsAcked == 1
	})
	if st.Branch != "north" || st.Inputs["udp_in"]["records_total"] != 1 || st.Buffer.AckedSeq != 1 || st.Ship.State != "connected" {
		t.Errorf("status = %+v", st)
	}
	code, out, errs = run("status", "-addr", statusAddr)
	if code != 0 {
		t.Fatalf("status = %d: %s", code, errs)
	}
	for _, want := range []string{st.AgentID + " (branch north", "connected " + h.IngestAddr(), "last 1, acknowledged 1", "Input udp_in", "1 events, 0 truncated, 0 parse errors, 0 dropped"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}

	res, err := h.Srv.Store().Events(store.EventQuery{Agent: st.AgentID})
	if err != nil || len(res.Events) != 1 || res.Events[0].Event.Original != line || res.Events[0].Event.Input != "udp_in" {
		t.Fatalf("hub events = %+v, %v", res.Events, err)
	}
}
