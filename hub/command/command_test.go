package command_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"github.com/vigil-sec/vigil/hub/hubtest"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub"
	"github.com/vigil-sec/vigil/hub/api"
	"github.com/vigil-sec/vigil/hub/command"
	"github.com/vigil-sec/vigil/hub/config"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/protocol/identity"
)

// run calls Main with fresh streams.
func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = command.Main(args, command.Env{Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestMain_UsageAndUnknownCommand(t *testing.T) {
	for _, args := range [][]string{nil, {"-h"}, {"--help"}, {"help"}} {
		code, out, errs := run(args...)
		if code != 0 || !strings.Contains(out, "Usage: vigil-hub <command> [options]") || errs != "" {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0 and usage on stdout", args, code, out, errs)
		}
		for _, c := range []string{"init", "serve", "token create", "agent list", "events search"} {
			if !strings.Contains(out, "    "+c) {
				t.Errorf("usage lacks %q", c)
			}
		}
	}
	for _, args := range [][]string{{"bogus"}, {"token"}, {"token", "destroy"}, {"-x"}} {
		code, out, errs := run(args...)
		want := fmt.Sprintf("unknown command %q", strings.Join(args, " "))
		if code != 1 || out != "" || !strings.Contains(errs, want) || !strings.Contains(errs, "Usage: vigil-hub") {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 1, %s and usage on stderr", args, code, out, errs, want)
		}
	}
}

func TestMain_CommandHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"init", "-h"}, {"token", "create", "-h"}, {"agent", "list", "--help"}, {"serve", "-h"}} {
		code, _, errs := run(args...)
		if code != 0 || !strings.Contains(errs, "Usage of vigil-hub "+strings.Join(args[:len(args)-1], " ")) {
			t.Errorf("Main(%q) = %d, stderr %q; want 0 and the flag list", args, code, errs)
		}
	}
	code, out, _ := run("version")
	if code != 0 || !strings.HasPrefix(out, "vigil-hub ") || !strings.Contains(out, "(protocol 1)") {
		t.Errorf("version = %d %q", code, out)
	}
}

func TestMain_UsageErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"token", "create"}, "Error: -branch is required"},
		{[]string{"token", "create", "-branch", "north"}, "Error: no hub address: set -addr, VIGIL_ADDR or -data"},
		{[]string{"init"}, "Error: -data is required"},
		{[]string{"init", "-data", dir, "-ip", "not-an-ip"}, `Error: -ip: "not-an-ip" is not an IP address`},
		{[]string{"init", "-data", dir, "-ip", ""}, "Error: -ip needs at least one address"},
		{[]string{"init", "-data", dir, "extra"}, `Error: unexpected argument "extra"`},
		{[]string{"init", "-nosuchflag"}, "flag provided but not defined: -nosuchflag"},
		{[]string{"serve"}, "Error: -c hub.yaml is required"},
	}
	t.Setenv("VIGIL_ADDR", "")
	t.Setenv("VIGIL_TOKEN", "")
	t.Setenv("VIGIL_CACERT", "")
	for _, c := range cases {
		code, out, errs := run(c.args...)
		name := strings.Join(c.args[:min(2, len(c.args))], " ")
		if c.args[0] == "init" || c.args[0] == "serve" {
			name = c.args[0]
		}
		if code != 1 || out != "" || !strings.Contains(errs, c.want) || !strings.Contains(errs, "Run 'vigil-hub "+name+" -h' for usage.") {
			t.Errorf("Main(%q) = %d, stderr %q; want 1 with %q and the usage hint", c.args, code, errs, c.want)
		}
	}
	// Nothing was created by the refused inits.
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused init created %d entries", len(entries))
	}
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestInit_CreatesDataDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub")
	code, out, errs := run("init", "-data", dir, "-node-id", "hub-7", "-ip", "127.0.0.1,10.0.0.7", "-dns", "hub7.example",
		"-ingest-addr", "0.0.0.0:17443", "-raft-addr", "0.0.0.0:17444", "-api-addr", "127.0.0.1:18443")
	if code != 0 {
		t.Fatalf("init = %d, stderr %s", code, errs)
	}
	secret := map[string]os.FileMode{
		"admin.token": 0o600, "tls/ca.key": 0o600, "tls/node.key": 0o600, "hub.yaml": 0o600,
		"tls/ca.crt": 0o644, "tls/node.crt": 0o644,
	}
	for f, want := range secret {
		if got := mode(t, filepath.Join(dir, f)); got != want {
			t.Errorf("%s has mode %o, want %o", f, got, want)
		}
	}
	if got := mode(t, dir); got != 0o700 {
		t.Errorf("data dir mode %o, want 700", got)
	}

	ca, err := pki.LoadCA(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "CA fingerprint (sha256): "+ca.Fingerprint()) || !strings.Contains(out, `Initialized hub node "hub-7"`) {
		t.Errorf("init output = %s", out)
	}
	tok, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	if !strings.HasPrefix(string(tok), "vgla_") || len(strings.TrimSpace(string(tok))) != 5+43 {
		t.Errorf("admin token = %q", tok)
	}
	if strings.Contains(out, strings.TrimSpace(string(tok))) {
		t.Error("init printed the admin token")
	}

	cfg, err := config.Load(filepath.Join(dir, "hub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("written hub.yaml does not validate: %v", err)
	}
	if cfg.DataDir != dir || cfg.NodeID != "hub-7" || cfg.IngestAddr != "0.0.0.0:17443" || cfg.AdvertiseIngest != "127.0.0.1:17443" ||
		cfg.AdvertiseRaft != "127.0.0.1:17444" || cfg.APIAddr != "127.0.0.1:18443" || !cfg.BootstrapEnabled() {
		t.Errorf("hub.yaml = %+v", cfg)
	}

	certPEM, _ := os.ReadFile(cfg.NodeCertFile())
	certs, err := identity.ParseCertsPEM(certPEM)
	if err != nil || len(certs) != 1 {
		t.Fatal(err)
	}
	leaf := certs[0]
	if !identity.IsHubCert(leaf) || leaf.Subject.CommonName != "hub-7" {
		t.Errorf("node certificate %q is not a hub certificate", leaf.Subject)
	}
	for _, name := range []string{"127.0.0.1", "10.0.0.7", "hub7.example"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("node certificate does not verify for %s: %v", name, err)
		}
	}

	// A second init refuses and changes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, "tls", "ca.key"))
	code, _, errs = run("init", "-data", dir)
	if code != 1 || !strings.Contains(errs, "is already initialized (hub.yaml exists)") {
		t.Errorf("second init = %d, stderr %q", code, errs)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "tls", "ca.key"))
	if !bytes.Equal(before, after) {
		t.Error("second init replaced the CA key")
	}
}

func TestInit_RefusesExistingCA(t *testing.T) {
	// A directory holding a CA but no hub.yaml (an interrupted init) must
	// not get a second CA silently.
	dir := t.TempDir()
	if _, err := pki.CreateCA(filepath.Join(dir, "tls"), time.Now()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "tls", "ca.key"))
	code, _, errs := run("init", "-data", dir)
	if code != 1 || !strings.Contains(errs, "Error:") {
		t.Errorf("init over an existing CA = %d, stderr %q; want 1", code, errs)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "tls", "ca.key"))
	if !bytes.Equal(before, after) {
		t.Error("init replaced an existing CA key")
	}
}

// TestCommands_AgainstInitializedHub runs init, starts the node it
// describes in-process, and drives the API commands with -data.
func TestCommands_AgainstInitializedHub(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub")
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", hubtest.FreePort(t)) }
	if code, _, errs := run("init", "-data", dir, "-ingest-addr", addr(), "-raft-addr", addr(), "-api-addr", addr()); code != 0 {
		t.Fatalf("init: %s", errs)
	}
	cfg, err := config.Load(filepath.Join(dir, "hub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Raft.HeartbeatTimeout, cfg.Raft.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
	srv, err := hub.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub run: %v", err)
		}
	})
	if err := srv.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	code, out, errs := run("token", "create", "-data", dir, "-branch", "north", "-ttl", "2h", "-description", "site 1", "-quiet")
	if code != 0 {
		t.Fatalf("token create = %d: %s", code, errs)
	}
	tok, err := identity.ParseToken(out)
	if err != nil {
		t.Fatalf("token create printed %q: %v", out, err)
	}
	if tok.CAPin != srv.CA().Fingerprint() {
		t.Errorf("token pins %s, CA is %s", tok.CAPin, srv.CA().Fingerprint())
	}

	code, out, errs = run("token", "list", "-data", dir, "-json")
	if code != 0 {
		t.Fatalf("token list = %d: %s", code, errs)
	}
	var toks []api.TokenInfo
	if err := json.Unmarshal([]byte(out), &toks); err != nil || len(toks) != 1 || toks[0].ID != tok.ID || toks[0].Branch != "north" || toks[0].Description != "site 1" {
		t.Errorf("token list = %s (%v)", out, err)
	}
	if strings.Contains(out, tok.Secret) {
		t.Error("token list printed the secret")
	}

	// The install snippet: valid sh, the hubs the cluster knows, the token.
	hubtest.WaitFor(t, 10*time.Second, "the node's member record", func() bool {
		_, out, _ := run("members", "-data", dir)
		return strings.Contains(out, "hub-1")
	})
	code, out, errs = run("token", "create", "-data", dir, "-branch", "south", "-install-snippet")
	if code != 0 {
		t.Fatalf("token create -install-snippet = %d: %s", code, errs)
	}
	for _, want := range []string{"branch south", "hubs: [\"" + cfg.AdvertiseIngest + "\"]", "/etc/vigil/enroll.token", "systemctl enable --now vigil-agent", "apt-get install -y ./vigil-agent_*.deb"} {
		if !strings.Contains(out, want) {
			t.Errorf("snippet lacks %q:\n%s", want, out)
		}
	}
	i := strings.Index(out, "printf '%s\\n' '")
	if i < 0 {
		t.Fatalf("no token line in the snippet:\n%s", out)
	}
	if _, err := identity.ParseToken(strings.SplitN(out[i+len("printf '%s\\n' '"):], "'", 2)[0]); err != nil {
		t.Errorf("snippet token: %v", err)
	}
	if sh, err := exec.LookPath("sh"); err == nil {
		cmd := exec.Command(sh, "-n")
		cmd.Stdin = strings.NewReader(out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v\n%s", err, b)
		}
	}
	code, out, _ = run("token", "create", "-data", dir, "-branch", "south", "-install-snippet", "-hub", "10.1.2.3:7443,10.1.2.4:7443")
	if code != 0 || !strings.Contains(out, `hubs: ["10.1.2.3:7443", "10.1.2.4:7443"]`) {
		t.Errorf("snippet with -hub:\n%s", out)
	}

	code, out, errs = run("token", "create", "-data", dir, "-branch", "north", "-ttl", "1000h")
	if code != 1 || !strings.Contains(errs, "hub answered 400: ttl must be a positive duration of at most 720h") || out != "" {
		t.Errorf("token create -ttl 1000h = %d, stdout %q, stderr %q", code, out, errs)
	}

	code, out, errs = run("agent", "list", "-data", dir)
	if code != 0 || !strings.HasPrefix(out, "ID") || strings.Count(out, "\n") != 1 {
		t.Errorf("agent list = %d, %q, %q; want only the header", code, out, errs)
	}

	code, out, errs = run("status", "-data", dir)
	if code != 0 || !strings.Contains(out, `"state": "Leader"`) || !strings.Contains(out, `"node_id": "hub-1"`) {
		t.Errorf("status = %d, %s %s", code, out, errs)
	}

	// A wrong token is refused by the hub.
	bad := filepath.Join(t.TempDir(), "bad.token")
	if err := os.WriteFile(bad, []byte("vgla_wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = run("agent", "list", "-data", dir, "-token-file", bad)
	if code != 1 || !strings.Contains(errs, "hub answered 403: invalid token") {
		t.Errorf("agent list with a wrong token = %d, %q", code, errs)
	}
}
