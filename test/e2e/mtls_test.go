package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/frame"
	"github.com/vigil-sec/vigil/protocol/identity"
)

func enrollCmd(t *testing.T, hubAddr, token, dir string) (string, error) {
	t.Helper()
	out, err := exec.Command(filepath.Join(binDir, "vigil-agent"), "enroll", "-hub", hubAddr, "-token", token, "-data", dir).CombinedOutput()
	return string(out), err
}

// TestE2E_EnrollmentRefusals checks every way a token can be refused, with
// the real binaries, and that a refused enrollment writes nothing.
func TestE2E_EnrollmentRefusals(t *testing.T) {
	h := startHub(t)
	other := startHub(t)
	cases := []struct {
		name, token, want string
		prep              func()
	}{
		{name: "expired", token: h.token("b1", "1s"), want: "expired", prep: func() { time.Sleep(1200 * time.Millisecond) }},
		{name: "malformed", token: "vigil1.abc", want: "malformed token"},
		{name: "foreign CA", token: other.token("b1", "10m"), want: "fingerprint mismatch"},
	}
	used := h.token("b1", "10m")
	if out, err := enrollCmd(t, addr(h.ingest), used, filepath.Join(t.TempDir(), "first")); err != nil {
		t.Fatalf("first use of a token failed: %v\n%s", err, out)
	}
	cases = append(cases, struct {
		name, token, want string
		prep              func()
	}{name: "reused", token: used, want: "already used"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.prep != nil {
				c.prep()
			}
			dir := filepath.Join(t.TempDir(), "agent")
			out, err := enrollCmd(t, addr(h.ingest), c.token, dir)
			if err == nil {
				t.Fatalf("enrollment with a %s token succeeded:\n%s", c.name, out)
			}
			if !strings.Contains(out, c.want) {
				t.Fatalf("error does not say %q:\n%s", c.want, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "identity.json")); err == nil {
				t.Fatal("a refused enrollment wrote an identity")
			}
			if _, err := os.Stat(filepath.Join(dir, "tls", "agent.key")); err == nil {
				t.Fatal("a refused enrollment wrote a key")
			}
		})
	}
}

// TestE2E_MTLSRefusals checks that the hub refuses a client without a
// certificate and an agent whose certificate comes from another cluster.
func TestE2E_MTLSRefusals(t *testing.T) {
	h := startHub(t)
	ca, err := os.ReadFile(filepath.Join(h.dir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("no certificate", func(t *testing.T) {
		tc, err := identity.ClientTLS(ca, nil, nil, []string{protocol.ALPN}, "")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := quic.DialAddr(ctx, addr(h.ingest), tc, nil)
		if err != nil {
			t.Logf("refused at the handshake: %v", err)
			return
		}
		defer conn.CloseWithError(0, "")
		s, err := conn.OpenStreamSync(ctx)
		if err == nil {
			_ = frame.NewWriter(s, 0).Write(frame.TypeHello, &agentpb.Hello{ProtocolVersion: 1, MinProtocolVersion: 1, Epoch: 1})
			var ack agentpb.HelloAck
			err = frame.NewReader(s, 0).ReadMsg(frame.TypeHelloAck, &ack)
		}
		if err == nil {
			t.Fatal("a client without a certificate got a HelloAck")
		}
		t.Logf("refused: %v", err)
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		other := startHub(t)
		a := startAgent(t, other, agentOpts{})
		a.stop()
		// Point the agent, enrolled with the other cluster, at this hub.
		cfg := strings.Replace(a.configYAML, "data_dir: .\n", "data_dir: .\nhubs: ["+addr(h.ingest)+"]\n", 1)
		if err := os.WriteFile(filepath.Join(a.dir, "agent.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		a.startAndWait()
		sysloggen(t, "-tcp", a.tcp, "-count", "10", "-prefix", "foreign")
		var st agentStatus
		waitFor(t, 10*time.Second, "a failed connection attempt", func() bool {
			out, err := exec.Command(filepath.Join(binDir, "vigil-agent"), "status", "-json", "-addr", a.status).Output()
			return err == nil && strings.Contains(string(out), `"last_error"`)
		})
		st = a.statusNow()
		if st.Connection.State == "connected" || st.Buffer.AckedSeq != 0 || st.Buffer.Depth != 10 {
			t.Fatalf("agent from another cluster: state %s, acked %d, depth %d", st.Connection.State, st.Buffer.AckedSeq, st.Buffer.Depth)
		}
		var agents []any
		if err := h.client.Do("GET", "/v1/agents", nil, nil, &agents); err != nil || len(agents) != 0 {
			t.Fatalf("hub lists %d agents (%v); want none", len(agents), err)
		}
	})
}
