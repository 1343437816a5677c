package command

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/config"
	"github.com/vigil-sec/vigil/hub/hubtest"
)

func TestEnrollAtStart_UsesAndRemovesTokenFile(t *testing.T) {
	h := hubtest.New(t, nil)
	work := t.TempDir()
	cfg := config.DefaultConfig()
	cfg.DataDir = filepath.Join(work, "data")
	cfg.EnrollTokenFile = filepath.Join(work, "enroll.token")
	var stderr bytes.Buffer
	env := Env{Stdout: &stderr, Stderr: &stderr}

	// No token file: nothing happens (agent.New then says how to enroll).
	if err := enrollAtStart(env, cfg); err != nil {
		t.Fatalf("without a token file: %v", err)
	}
	tok := h.CreateToken("south", time.Now().Add(time.Hour))
	if err := os.WriteFile(cfg.EnrollTokenFile, []byte(tok.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := enrollAtStart(env, cfg); err == nil || !strings.Contains(err.Error(), "names no hub") {
		t.Fatalf("without hubs: %v", err)
	}
	cfg.Hubs = []string{h.IngestAddr()}
	if err := enrollAtStart(env, cfg); err != nil {
		t.Fatalf("enroll at start: %v", err)
	}
	if !strings.Contains(stderr.String(), "in branch south") {
		t.Errorf("output %q", stderr.String())
	}
	if _, err := os.Stat(cfg.EnrollTokenFile); !os.IsNotExist(err) {
		t.Errorf("token file still there: %v", err)
	}
	if _, err := os.Stat(cfg.IdentityFile()); err != nil {
		t.Errorf("no identity: %v", err)
	}
	// Enrolled: a new token file is left alone.
	os.WriteFile(cfg.EnrollTokenFile, []byte("vigil1.unused\n"), 0o600)
	if err := enrollAtStart(env, cfg); err != nil {
		t.Fatalf("already enrolled: %v", err)
	}
	if _, err := os.Stat(cfg.EnrollTokenFile); err != nil {
		t.Errorf("token file of an enrolled agent was touched: %v", err)
	}
}
