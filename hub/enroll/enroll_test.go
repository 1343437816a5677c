package enroll_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"github.com/vigil-sec/vigil/hub/hubtest"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/vigil-sec/vigil/agent/enroll"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/frame"
	"github.com/vigil-sec/vigil/protocol/identity"
)

func agentPaths(dir string) enroll.Paths {
	return enroll.Paths{
		Key: filepath.Join(dir, "tls", "agent.key"), Cert: filepath.Join(dir, "tls", "agent.crt"),
		CA: filepath.Join(dir, "tls", "ca.crt"), Identity: filepath.Join(dir, "identity.json"),
	}
}

func doEnroll(hubAddr, token string, paths enroll.Paths) (*enroll.Identity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return enroll.Enroll(ctx, enroll.Request{Hub: hubAddr, Token: token, Hostname: "branch-host", AgentVersion: "1.2.3", Paths: paths})
}

// assertNothingWritten checks a failed enrollment left no file behind.
func assertNothingWritten(t *testing.T, dir string) {
	t.Helper()
	var found []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	if len(found) > 0 {
		t.Errorf("failed enrollment wrote %q", found)
	}
}

func TestEnroll_WritesIdentityAndRegistersAgent(t *testing.T) {
	h := hubtest.New(t, nil)
	tok := h.CreateToken("north", time.Now().Add(time.Hour))
	dir := t.TempDir()
	paths := agentPaths(dir)
	id, err := doEnroll(h.IngestAddr(), tok.String(), paths)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id.AgentID, "agt-") || len(id.AgentID) != 4+16 || id.Branch != "north" {
		t.Errorf("identity = %+v", id)
	}
	if len(id.Hubs) != 1 || id.Hubs[0] != h.IngestAddr() {
		t.Errorf("hubs = %q, want [%s]", id.Hubs, h.IngestAddr())
	}
	for _, p := range []string{paths.Key, paths.Cert, paths.CA, paths.Identity} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
	if fi, err := os.Stat(filepath.Dir(paths.Key)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("tls dir mode: %v %v", fi.Mode().Perm(), err)
	}
	loaded, err := enroll.Load(paths.Identity)
	if err != nil || loaded.AgentID != id.AgentID || loaded.Branch != "north" {
		t.Errorf("Load = %+v, %v", loaded, err)
	}
	var raw map[string]any
	b, _ := os.ReadFile(paths.Identity)
	if err := json.Unmarshal(b, &raw); err != nil || raw["agent_id"] != id.AgentID {
		t.Errorf("identity.json = %s", b)
	}

	// The certificate names the agent and the token's branch, and chains to the CA.
	certPEM, _ := os.ReadFile(paths.Cert)
	certs, err := identity.ParseCertsPEM(certPEM)
	if err != nil || len(certs) != 1 {
		t.Fatalf("agent certificate: %v", err)
	}
	who, err := identity.AgentFromCert(certs[0])
	if err != nil || who.ID != id.AgentID || who.Branch != "north" {
		t.Errorf("certificate identity = %+v, %v", who, err)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: h.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("agent certificate does not verify against the cluster CA: %v", err)
	}
	caPEM, _ := os.ReadFile(paths.CA)
	if string(caPEM) != string(h.CA.CertPEM()) {
		t.Error("stored CA differs from the cluster CA")
	}

	rec, err := h.Srv.Store().Agent(id.AgentID)
	if err != nil || rec == nil {
		t.Fatalf("agent record: %v, %v", rec, err)
	}
	if rec.Branch != "north" || rec.Hostname != "branch-host" || rec.Version != "1.2.3" || rec.EnrolledAt == 0 {
		t.Errorf("agent record = %v", rec)
	}
	tr, err := h.Srv.Store().Token(tok.ID)
	if err != nil || tr.UsedBy != id.AgentID || tr.UsedAt == 0 {
		t.Errorf("token record after use = %v, %v", tr, err)
	}

	// Enrolling again into the same directory needs Force.
	tok2 := h.CreateToken("north", time.Now().Add(time.Hour))
	if _, err := doEnroll(h.IngestAddr(), tok2.String(), paths); !errors.Is(err, enroll.ErrEnrolled) {
		t.Errorf("second enrollment without force: %v, want ErrEnrolled", err)
	}
}

func TestEnroll_TokenRefusals(t *testing.T) {
	h := hubtest.New(t, nil)
	expired := h.CreateToken("north", time.Now().Add(-time.Minute))
	used := h.CreateToken("north", time.Now().Add(time.Hour))
	if _, err := doEnroll(h.IngestAddr(), used.String(), agentPaths(t.TempDir())); err != nil {
		t.Fatalf("first use: %v", err)
	}
	unknown, err := identity.NewToken(rand.Reader, h.CA.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := h.CreateToken("north", time.Now().Add(time.Hour))
	other, _ := identity.NewToken(rand.Reader, h.CA.Fingerprint())
	wrongSecret.Secret = other.Secret

	cases := []struct {
		name  string
		token identity.Token
		want  []string
	}{
		{"expired", expired, []string{"enrollment token expired", frame.CodeTokenExpired}},
		{"reused", used, []string{"already used", frame.CodeTokenUsed}},
		{"unknown id", unknown, []string{"not known", frame.CodeTokenUnknown}},
		{"wrong secret", wrongSecret, []string{"hub refused enrollment", "secret does not match", frame.CodeTokenInvalid}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			id, err := doEnroll(h.IngestAddr(), c.token.String(), agentPaths(dir))
			if err == nil {
				t.Fatalf("enrolled as %+v", id)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			assertNothingWritten(t, dir)
		})
	}
	// Refusals register nobody and a wrong secret does not burn the token.
	agents, err := h.Srv.Store().Agents("")
	if err != nil || len(agents) != 1 {
		t.Errorf("registered agents = %d, %v; want only the first use", len(agents), err)
	}
	if tr, err := h.Srv.Store().Token(wrongSecret.ID); err != nil || tr == nil || tr.UsedAt != 0 {
		t.Errorf("token after a wrong-secret attempt = %v, %v; want unused", tr, err)
	}
}

func TestEnroll_ExpiryIsJudgedAtUse(t *testing.T) {
	h := hubtest.New(t, nil)
	tok := h.CreateToken("north", time.Now().Add(300*time.Millisecond))
	deadline := time.Now().Add(300 * time.Millisecond)
	hubtest.WaitFor(t, 5*time.Second, "token expiry", func() bool { return time.Now().After(deadline) })
	_, err := doEnroll(h.IngestAddr(), tok.String(), agentPaths(t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("enroll with a token past its TTL: %v, want expired", err)
	}
}

func TestEnroll_MalformedTokenFailsBeforeNetwork(t *testing.T) {
	// A UDP socket that records whether anything was sent to it.
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	dir := t.TempDir()
	for _, tok := range []string{"", "vigil1.abc", "vigil2.aaaaaaaa.bbbb.cccc", "not-a-token", strings.Repeat("x", 100)} {
		_, err := doEnroll(probe.LocalAddr().String(), tok, agentPaths(dir))
		if !errors.Is(err, identity.ErrMalformedToken) || !strings.Contains(err.Error(), "malformed token") {
			t.Errorf("token %q: error = %v, want malformed token", tok, err)
		}
	}
	_ = probe.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var b [2048]byte
	if n, _, err := probe.ReadFrom(b[:]); err == nil {
		t.Errorf("a malformed token still sent %d bytes to the hub address", n)
	}
	assertNothingWritten(t, dir)
}

func TestEnroll_ForeignCAPinFailsHandshake(t *testing.T) {
	h := hubtest.New(t, nil)
	tok := h.CreateToken("north", time.Now().Add(time.Hour))
	foreign, err := pki.CreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tok.CAPin = foreign.Fingerprint()
	dir := t.TempDir()
	_, err = doEnroll(h.IngestAddr(), tok.String(), agentPaths(dir))
	if err == nil {
		t.Fatal("enrolled with a token pinning another CA")
	}
	if !strings.Contains(err.Error(), "hub CA fingerprint mismatch: token pins "+foreign.Fingerprint()) {
		t.Errorf("error = %v, want the pin mismatch", err)
	}
	var te *quic.TransportError
	if !errors.As(err, &te) {
		t.Errorf("error %v is not from the QUIC/TLS handshake", err)
	}
	assertNothingWritten(t, dir)
	// The token was never presented, so it still works with the right pin.
	tok.CAPin = h.CA.Fingerprint()
	if _, err := doEnroll(h.IngestAddr(), tok.String(), agentPaths(t.TempDir())); err != nil {
		t.Errorf("token after a refused handshake: %v", err)
	}
}

// p384CSR is a well-formed CSR with a key type the CA refuses to sign.
func p384CSR(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// rawEnroll sends one EnrollRequest by hand and returns the hub's answer.
func rawEnroll(t *testing.T, h *hubtest.Hub, req *agentpb.EnrollRequest) (*agentpb.EnrollResponse, error) {
	t.Helper()
	tlsConf, err := identity.EnrollTLS(h.CA.Fingerprint(), []string{protocol.EnrollALPN})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, h.IngestAddr(), tlsConf, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if err := frame.NewWriter(s, 0).Write(frame.TypeEnrollRequest, req); err != nil {
		t.Fatal(err)
	}
	var resp agentpb.EnrollResponse
	err = frame.NewReader(s, 0).ReadMsg(frame.TypeEnrollResponse, &resp)
	return &resp, err
}

func TestEnroll_BadRequestDoesNotBurnToken(t *testing.T) {
	h := hubtest.New(t, nil)
	tok := h.CreateToken("north", time.Now().Add(time.Hour))
	_, csrPEM, err := identity.NewAgentKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  *agentpb.EnrollRequest
		code string
		msg  string
	}{
		{"garbage csr", &agentpb.EnrollRequest{TokenId: tok.ID, TokenSecret: tok.Secret, CsrPem: []byte("not a csr")}, frame.CodeMalformed, "csr: no CERTIFICATE REQUEST PEM block"},
		{"unsupported key", &agentpb.EnrollRequest{TokenId: tok.ID, TokenSecret: tok.Secret, CsrPem: p384CSR(t)}, frame.CodeMalformed, "csr:"},
		{"bad hostname", &agentpb.EnrollRequest{TokenId: tok.ID, TokenSecret: tok.Secret, CsrPem: csrPEM, Hostname: "bad host!"}, frame.CodeMalformed, "hostname"},
		{"malformed id", &agentpb.EnrollRequest{TokenId: "UPPER", TokenSecret: tok.Secret, CsrPem: csrPEM}, frame.CodeTokenInvalid, "malformed token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := rawEnroll(t, h, c.req)
			var pe *frame.PeerError
			if !errors.As(err, &pe) || pe.Code != c.code || !strings.Contains(pe.Message, c.msg) {
				t.Fatalf("answer = %v, want Error frame %s containing %q", err, c.code, c.msg)
			}
		})
	}
	// The token is still unused: a correct request succeeds with it.
	resp, err := rawEnroll(t, h, &agentpb.EnrollRequest{TokenId: tok.ID, TokenSecret: tok.Secret, CsrPem: csrPEM, Hostname: "ok-host"})
	if err != nil {
		t.Fatalf("enroll after refused requests: %v", err)
	}
	if resp.Branch != "north" || !strings.HasPrefix(resp.AgentId, "agt-") || len(resp.CertPem) == 0 || string(resp.CaPem) != string(h.CA.CertPEM()) {
		t.Errorf("response = %v", resp)
	}
}
