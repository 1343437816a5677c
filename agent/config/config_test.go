package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/config"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfig_Defaults(t *testing.T) {
	c := config.DefaultConfig()
	if c.DataDir != "/var/lib/vigil/agent" || c.StatusAddr != "127.0.0.1:9774" || c.LogLevel != "info" {
		t.Errorf("defaults = %+v", c)
	}
	if c.Buffer.MaxBytes != 1<<30 || c.Buffer.Fsync != "always" || c.Buffer.FsyncInterval != time.Second {
		t.Errorf("buffer defaults = %+v", c.Buffer)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	if got := c.BufferDir(); got != "/var/lib/vigil/agent/buffer" {
		t.Errorf("BufferDir = %q", got)
	}
	if got := c.KeyFile(); got != "/var/lib/vigil/agent/tls/agent.key" {
		t.Errorf("KeyFile = %q", got)
	}
	if got := c.IdentityFile(); got != "/var/lib/vigil/agent/identity.json" {
		t.Errorf("IdentityFile = %q", got)
	}
}

func TestConfig_LoadOverridesDefaults(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "agent.yaml", `
data_dir: /srv/vigil
hubs: [10.0.0.1:7443, 10.0.0.2:7443]
buffer:
  max_bytes: 64MiB
  fsync: interval
  fsync_interval: 250ms
ship:
  max_batch_events: 500
  max_batch_bytes: 512KiB
  linger: 5ms
inputs:
  - id: syslog_udp
    type: syslog
    protocol: udp
    listen: 0.0.0.0:514
    max_line: 8KiB
  - id: auth
    type: file
    paths: [/var/log/auth.log]
    start_at: end
`)
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/srv/vigil" {
		t.Errorf("data_dir = %q", c.DataDir)
	}
	if len(c.Hubs) != 2 || c.Hubs[1] != "10.0.0.2:7443" {
		t.Errorf("hubs = %q", c.Hubs)
	}
	if c.Buffer.MaxBytes != 64<<20 || c.Buffer.Fsync != "interval" || c.Buffer.FsyncInterval != 250*time.Millisecond {
		t.Errorf("buffer = %+v", c.Buffer)
	}
	if c.Ship.MaxBatchEvents != 500 || c.Ship.MaxBatchBytes != 512<<10 || c.Ship.Linger != 5*time.Millisecond {
		t.Errorf("ship = %+v", c.Ship)
	}
	// Unset keys keep their defaults.
	if c.StatusAddr != "127.0.0.1:9774" || c.LogLevel != "info" {
		t.Errorf("status_addr/log_level = %q/%q, want defaults", c.StatusAddr, c.LogLevel)
	}
	if len(c.Inputs) != 2 || c.Inputs[0].MaxLine != 8<<10 || c.Inputs[1].StartAt != "end" || c.Inputs[1].Paths[0] != "/var/log/auth.log" {
		t.Errorf("inputs = %+v", c.Inputs)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestConfig_LoadUnknownKeyNamesIt(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"top.yaml":    "data_dir: /x\nbufer:\n  max_bytes: 1GiB\n",
		"nested.yaml": "buffer:\n  max_byte: 1GiB\n",
		"input.yaml":  "inputs:\n  - id: a\n    type: syslog\n    listen: :514\n    protocl: udp\n",
	} {
		_, err := config.Load(writeFile(t, dir, name, body))
		if err == nil {
			t.Errorf("%s: Load succeeded, want an unknown-key error", name)
			continue
		}
		want := map[string]string{"top.yaml": "bufer", "nested.yaml": "max_byte", "input.yaml": "protocl"}[name]
		if !strings.Contains(err.Error(), `field `+want+` not found`) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name key %q and the file", name, err, want)
		}
	}
}

func TestConfig_LoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "read config") {
		t.Fatalf("Load of a missing file: %v", err)
	}
}

func TestConfig_RelativeDataDirResolvedAgainstConfigFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc", "vigil")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, sub, "agent.yaml", "data_dir: ../../var/agent\n")
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "var", "agent"); c.DataDir != want {
		t.Errorf("data_dir = %q, want %q", c.DataDir, want)
	}
	// An absolute data_dir is kept as is.
	p = writeFile(t, sub, "abs.yaml", "data_dir: /opt/vigil\n")
	if c, err = config.Load(p); err != nil || c.DataDir != "/opt/vigil" {
		t.Errorf("absolute data_dir = %q, %v", c.DataDir, err)
	}
}

func TestByteSize_Parse(t *testing.T) {
	good := map[string]config.ByteSize{
		"123":      123,
		"0":        0,
		"64MiB":    64 << 20,
		"1GiB":     1 << 30,
		"512KiB":   512 << 10,
		" 2 GiB ":  2 << 30,
		"1048576":  1 << 20,
		"10240GiB": 10240 << 30,
	}
	for in, want := range good {
		got, err := config.ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "-1", "1.5GiB", "10MB", "1 TiB", "GiB", "1e6"} {
		if got, err := config.ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", in, got)
		} else if !strings.Contains(err.Error(), "non-negative integer with an optional KiB, MiB or GiB suffix") {
			t.Errorf("ParseByteSize(%q) error = %q", in, err)
		}
	}
}

func TestByteSize_ParseOverflow(t *testing.T) {
	// 2^63 bytes does not fit an int64: it must be an error, not a wrapped
	// negative or small size.
	for _, in := range []string{"8589934592GiB", "9007199254740992KiB", "99999999999999GiB"} {
		if got, err := config.ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an overflow error", in, got)
		}
	}
}

func TestByteSize_YAMLErrorHasLine(t *testing.T) {
	p := writeFile(t, t.TempDir(), "agent.yaml", "data_dir: /x\nbuffer:\n  max_bytes: lots\n")
	_, err := config.Load(p)
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), `"lots"`) {
		t.Fatalf("error = %v, want it to name line 3 and the value", err)
	}
}

func TestConfig_ValidateCollectsAllProblems(t *testing.T) {
	c := config.DefaultConfig()
	c.DataDir = ""
	c.Buffer.Fsync = "sometimes"
	c.Inputs = []config.InputConfig{
		{ID: "dup", Type: "syslog", Protocol: "udp", Listen: ":514"},
		{ID: "dup", Type: "syslog", Protocol: "tcp", Listen: ":601"},
		{ID: "nolisten", Type: "syslog", Protocol: "udp"},
		{ID: "nopaths", Type: "file"},
		{ID: "weird", Type: "kafka"},
		{ID: "tlsnocert", Type: "syslog", Protocol: "tls", Listen: ":6514", TLSCert: "/c.pem"},
		{Type: "file", Paths: []string{"/x"}},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	want := []string{
		"data_dir is required",
		`buffer.fsync must be always or interval, not "sometimes"`,
		`inputs[1]: duplicate id "dup"`,
		"inputs[2] (nolisten): listen is required",
		"inputs[3] (nopaths): paths is required",
		`inputs[4] (weird): type must be syslog, file or scanner, not "kafka"`,
		"inputs[5] (tlsnocert): protocol tls needs tls_cert and tls_key",
		"inputs[6]: id is required",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("Validate error lacks %q:\n%s", w, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n != len(want) {
		t.Errorf("Validate reported %d problems, want %d:\n%s", n, len(want), msg)
	}
}

func TestConfig_PluginsAndScannerInput(t *testing.T) {
	c := config.DefaultConfig()
	c.Inputs = []config.InputConfig{{ID: "scans", Type: "scanner"}}
	c.Plugins = []config.PluginConfig{
		{Name: "acme", Path: "/usr/lib/vigil/acme", SHA256: strings.Repeat("ab", 32)},
		{Name: "acme", Path: "/x", SHA256: strings.Repeat("ab", 32)},
		{Name: "nosum", Path: "/y"},
		{Path: "/z", SHA256: strings.Repeat("ab", 32), Timeout: -1},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	for _, w := range []string{
		`inputs[0] (scans): dir is required`,
		`plugins[1]: duplicate name "acme"`,
		`plugins[2] (nosum): sha256 must be the binary's 64-hex-digit SHA-256 (sha256sum /y)`,
		`plugins[3]: name is required`,
		`timeout and max_attempts must not be negative`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate error lacks %q:\n%v", w, err)
		}
	}
}
