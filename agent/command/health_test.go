package command_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/agent"
)

func TestHealth_StatusEndpoint(t *testing.T) {
	var st agent.Status
	st.AgentID, st.Branch, st.Ship.State = "agt-1", "north", "connecting"
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(st)
	}))
	defer ok.Close()
	addr := strings.TrimPrefix(ok.URL, "http://")

	// An agent still connecting to its hub is a healthy process.
	code, out, errs := run("health", "-addr", addr)
	if code != 0 || out != "healthy: agent agt-1, hub connection connecting\n" || errs != "" {
		t.Errorf("health = %d, %q, %q", code, out, errs)
	}
	// status_addr from -c.
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfg, []byte("status_addr: "+addr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run("health", "-c", cfg); code != 0 {
		t.Errorf("health -c = %d, %q", code, errs)
	}

	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "agent is\nshutting down", http.StatusServiceUnavailable)
	}))
	defer broken.Close()
	baddr := strings.TrimPrefix(broken.URL, "http://")
	code, _, errs = run("health", "-addr", baddr)
	if want := "Error: agent not healthy: http://" + baddr + "/status answered 503: agent is shutting down\n"; code != 1 || errs != want {
		t.Errorf("health of a failing agent = %d, %q; want %q", code, errs, want)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := l.Addr().String()
	l.Close()
	code, _, errs = run("health", "-addr", gone)
	if code != 1 || !strings.HasPrefix(errs, "Error: agent not healthy: ") || !strings.Contains(errs, "connection refused") || strings.Count(errs, "\n") != 1 {
		t.Errorf("health without an agent = %d, %q; want 1 and one line", code, errs)
	}
	code, _, errs = run("health", "-c", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 1 || !strings.HasPrefix(errs, "Error: read config:") {
		t.Errorf("health with a missing config = %d, %q", code, errs)
	}
}
