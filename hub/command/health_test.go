package command_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/hub/hubtest"
)

// TestHealth_AgainstRunningHub checks the probe a container HEALTHCHECK runs:
// with -data it reads hub.yaml, dials an API bound to 0.0.0.0 over loopback,
// and verifies the node against the cluster CA without an API token.
func TestHealth_AgainstRunningHub(t *testing.T) {
	h := hubtest.New(t, nil)
	_, port, err := net.SplitHostPort(h.Cfg.APIAddr)
	if err != nil {
		t.Fatal(err)
	}
	// A data directory as 'vigil-hub init -api-addr 0.0.0.0:PORT' leaves it.
	yaml := fmt.Sprintf("data_dir: .\nnode_id: hub-1\napi_addr: 0.0.0.0:%s\n", port)
	if err := os.WriteFile(filepath.Join(h.Cfg.DataDir, "hub.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIGIL_ADDR", "")
	t.Setenv("VIGIL_CACERT", "")
	t.Setenv("VIGIL_TOKEN", "")

	code, out, errs := run("health", "-data", h.Cfg.DataDir)
	if want := "healthy: https://127.0.0.1:" + port + "/v1/health\n"; code != 0 || out != want || errs != "" {
		t.Errorf("health -data = %d, %q, %q; want 0 and %q", code, out, errs, want)
	}
	ca := filepath.Join(h.Cfg.TLSDir(), "ca.crt")
	if code, _, errs := run("health", "-addr", h.Cfg.APIAddr, "-ca-file", ca); code != 0 {
		t.Errorf("health -addr = %d, %q", code, errs)
	}

	// A CA that did not sign the node: refused, on one line.
	other := hubtest.New(t, nil)
	code, _, errs = run("health", "-addr", h.Cfg.APIAddr, "-ca-file", filepath.Join(other.Cfg.TLSDir(), "ca.crt"))
	if code != 1 || !strings.HasPrefix(errs, "Error: hub not healthy: ") || !strings.Contains(errs, "certificate") || strings.Count(errs, "\n") != 1 {
		t.Errorf("health with a foreign CA = %d, %q; want 1 and one line about the certificate", code, errs)
	}

	// The node stopped: non-zero with the reason.
	h.Stop()
	code, _, errs = run("health", "-data", h.Cfg.DataDir, "-timeout", "2s")
	if code != 1 || !strings.HasPrefix(errs, "Error: hub not healthy: ") || !strings.Contains(errs, "connection refused") || strings.Count(errs, "\n") != 1 {
		t.Errorf("health of a stopped hub = %d, %q; want 1 and one line with connection refused", code, errs)
	}
}

func TestHealth_UsageErrors(t *testing.T) {
	t.Setenv("VIGIL_ADDR", "")
	t.Setenv("VIGIL_CACERT", "")
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"health"}, "Error: no hub address: set -addr, VIGIL_ADDR or -data\nRun 'vigil-hub health -h' for usage.\n"},
		{[]string{"health", "-addr", "127.0.0.1:1"}, "Error: no CA certificate: set -ca-file, VIGIL_CACERT or -data\nRun 'vigil-hub health -h' for usage.\n"},
		{[]string{"health", "-data", dir}, "Error: read config: open " + filepath.Join(dir, "hub.yaml") + ": no such file or directory\n"},
		{[]string{"health", "-addr", "127.0.0.1:1", "-ca-file", filepath.Join(dir, "ca.crt")}, "Error: read CA certificate: open " + filepath.Join(dir, "ca.crt") + ": no such file or directory\n"},
	} {
		if code, out, errs := run(c.args...); code != 1 || out != "" || errs != c.want {
			t.Errorf("Main(%q) = %d, %q, %q; want 1 and %q", c.args, code, out, errs, c.want)
		}
	}
	if code, _, errs := run("health", "-h"); code != 0 || !strings.Contains(errs, "Usage of vigil-hub health") {
		t.Errorf("health -h = %d, %q", code, errs)
	}
}
