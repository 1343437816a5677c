package enroll_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/enroll"
	"github.com/vigil-sec/vigil/protocol/identity"
)

// A well-formed token; nothing listens for it in these tests.
const wellFormed = "vigil1.aaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.0000000000000000000000000000000000000000000000000000000000000000"

func paths(dir string) enroll.Paths {
	return enroll.Paths{
		Key: filepath.Join(dir, "tls", "agent.key"), Cert: filepath.Join(dir, "tls", "agent.crt"),
		CA: filepath.Join(dir, "tls", "ca.crt"), Identity: filepath.Join(dir, "identity.json"),
	}
}

func TestLoad_MissingAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	_, err := enroll.Load(filepath.Join(dir, "identity.json"))
	if err == nil || !strings.Contains(err.Error(), "agent is not enrolled") || !strings.Contains(err.Error(), "run vigil-agent enroll") {
		t.Errorf("Load(missing) = %v", err)
	}
	p := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(p, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.Load(p); err == nil || !strings.Contains(err.Error(), "read identity "+p) {
		t.Errorf("Load(corrupt) = %v", err)
	}
	p = filepath.Join(dir, "ok.json")
	if err := os.WriteFile(p, []byte(`{"agent_id":"agt-1","branch":"north","hubs":["10.0.0.1:7443"],"enrolled_at":"2024-01-02T03:04:05Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := enroll.Load(p)
	if err != nil || id.AgentID != "agt-1" || id.Branch != "north" || len(id.Hubs) != 1 || !id.EnrolledAt.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("Load = %+v, %v", id, err)
	}
}

// probe is a UDP socket standing in for a hub address; it reports whether
// anything was sent to it.
func probe(t *testing.T) (addr string, sent func() bool) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String(), func() bool {
		_ = pc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var b [2048]byte
		_, _, err := pc.ReadFrom(b[:])
		return err == nil
	}
}

func TestEnroll_AlreadyEnrolledBeforeNetwork(t *testing.T) {
	dir := t.TempDir()
	p := paths(dir)
	if err := os.WriteFile(p.Identity, []byte(`{"agent_id":"agt-1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, sent := probe(t)
	_, err := enroll.Enroll(context.Background(), enroll.Request{Hub: addr, Token: wellFormed, Paths: p})
	if !errors.Is(err, enroll.ErrEnrolled) {
		t.Fatalf("Enroll over an existing identity = %v, want ErrEnrolled", err)
	}
	if sent() {
		t.Error("Enroll contacted the hub although the agent is enrolled")
	}
	if b, _ := os.ReadFile(p.Identity); string(b) != `{"agent_id":"agt-1"}` {
		t.Errorf("identity changed: %s", b)
	}
}

func TestEnroll_MalformedTokenBeforeNetwork(t *testing.T) {
	dir := t.TempDir()
	addr, sent := probe(t)
	for _, tok := range []string{"", "vigil1", wellFormed[:len(wellFormed)-1], strings.ToUpper(wellFormed), "vigil9." + wellFormed[7:]} {
		_, err := enroll.Enroll(context.Background(), enroll.Request{Hub: addr, Token: tok, Paths: paths(dir), Force: true})
		if !errors.Is(err, identity.ErrMalformedToken) {
			t.Errorf("Enroll(%.20q) = %v, want a malformed token error", tok, err)
		}
	}
	if sent() {
		t.Error("a malformed token reached the network")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed enrollments wrote %d entries", len(entries))
	}
}

func TestEnroll_UnreachableHubWritesNothing(t *testing.T) {
	dir := t.TempDir()
	addr, _ := probe(t) // a socket that never answers QUIC
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := enroll.Enroll(ctx, enroll.Request{Hub: addr, Token: wellFormed, Paths: paths(dir)})
	if err == nil || !strings.Contains(err.Error(), "connect to hub "+addr) {
		t.Fatalf("Enroll to a silent address = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed enrollment wrote %d entries", len(entries))
	}
}
