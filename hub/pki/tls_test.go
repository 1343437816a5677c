package pki

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/identity"
)

type handshakeResult struct {
	server, client       tls.ConnectionState
	serverErr, clientErr error
}

// handshake runs a real TLS handshake over loopback TCP. The server writes
// one byte once its handshake succeeds and the client reads it, so a client
// certificate the server rejects (reported by TLS 1.3 only after the client's
// Handshake has returned) also shows up as clientErr.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type srv struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan srv, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- srv{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, serverCfg)
		if err := tc.Handshake(); err != nil {
			done <- srv{err: err}
			return
		}
		_, err = tc.Write([]byte{'k'})
		done <- srv{state: tc.ConnectionState(), err: err}
	}()
	var r handshakeResult
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(raw, clientCfg)
	if r.clientErr = tc.Handshake(); r.clientErr == nil {
		r.client = tc.ConnectionState()
		var b [1]byte
		_, r.clientErr = io.ReadFull(tc, b[:])
	}
	raw.Close()
	s := <-done
	r.server, r.serverErr = s.state, s.err
	return r
}

// cluster is a CA with one hub node and one enrolled agent.
type cluster struct {
	ca                *CA
	nodeCert, nodeKey []byte
	agentCert         []byte
	agentKey          []byte
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	ca, _ := mustCA(t)
	now := time.Now()
	nodeCert, nodeKey, err := ca.IssueNode("hub-1", []string{"hub-1.vigil.internal"}, []net.IP{net.ParseIP("127.0.0.1")}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	agentKey, csr, err := identity.NewAgentKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	agentCert, err := ca.SignAgentCSR(csr, "agt-3f2a91c0", "paris", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{ca: ca, nodeCert: nodeCert, nodeKey: nodeKey, agentCert: agentCert, agentKey: agentKey}
}

func (c *cluster) server(t *testing.T) *tls.Config {
	t.Helper()
	cfg, err := ServerTLSWithEnrollment(c.ca, c.nodeCert, c.nodeKey, []string{protocol.ALPN}, protocol.EnrollALPN)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (c *cluster) agentClient(t *testing.T, serverName string) *tls.Config {
	t.Helper()
	cfg, err := identity.ClientTLS(c.ca.CertPEM(), c.agentCert, c.agentKey, []string{protocol.ALPN}, serverName)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestTLS_ServerTLSAgentConnects(t *testing.T) {
	c := newCluster(t)
	for _, name := range []string{"", "127.0.0.1", "hub-1.vigil.internal"} {
		r := handshake(t, c.server(t), c.agentClient(t, name))
		if r.serverErr != nil || r.clientErr != nil {
			t.Fatalf("serverName %q: server %v, client %v", name, r.serverErr, r.clientErr)
		}
		if r.server.NegotiatedProtocol != protocol.ALPN || r.server.Version != tls.VersionTLS13 {
			t.Fatalf("negotiated %q version %x", r.server.NegotiatedProtocol, r.server.Version)
		}
		a, err := identity.AgentFromCert(r.server.PeerCertificates[0])
		if err != nil || a != (identity.Agent{ID: "agt-3f2a91c0", Branch: "paris"}) {
			t.Fatalf("server sees agent %+v, %v", a, err)
		}
		if len(r.server.VerifiedChains) == 0 {
			t.Fatal("server did not verify the client chain")
		}
		// The hub sends [leaf, CA].
		if pc := r.client.PeerCertificates; len(pc) != 2 || !pc[1].Equal(c.ca.Cert()) {
			t.Fatalf("hub sent %d certificates", len(pc))
		}
	}
	// Plain ServerTLS behaves the same for authenticated clients.
	srv, err := ServerTLS(c.ca, c.nodeCert, c.nodeKey, []string{protocol.ALPN})
	if err != nil {
		t.Fatal(err)
	}
	if r := handshake(t, srv, c.agentClient(t, "")); r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("ServerTLS: server %v, client %v", r.serverErr, r.clientErr)
	}
}

func TestTLS_ServerTLSNoClientCert(t *testing.T) {
	c := newCluster(t)
	noCert, err := identity.ClientTLS(c.ca.CertPEM(), nil, nil, []string{protocol.ALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	r := handshake(t, c.server(t), noCert)
	if r.serverErr == nil || r.clientErr == nil {
		t.Fatalf("client without certificate accepted on %s: server %v, client %v", protocol.ALPN, r.serverErr, r.clientErr)
	}

	enroll, err := identity.EnrollTLS(c.ca.Fingerprint(), []string{protocol.EnrollALPN})
	if err != nil {
		t.Fatal(err)
	}
	r = handshake(t, c.server(t), enroll)
	if r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("enrollment refused: server %v, client %v", r.serverErr, r.clientErr)
	}
	if r.server.NegotiatedProtocol != protocol.EnrollALPN || len(r.server.PeerCertificates) != 0 {
		t.Fatalf("enrollment negotiated %q with %d peer certs", r.server.NegotiatedProtocol, len(r.server.PeerCertificates))
	}

	// Offering both protocols without a certificate must land on enrollment,
	// never on the authenticated protocol.
	both, _ := identity.EnrollTLS(c.ca.Fingerprint(), []string{protocol.ALPN, protocol.EnrollALPN})
	r = handshake(t, c.server(t), both)
	if r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("server %v, client %v", r.serverErr, r.clientErr)
	}
	if r.server.NegotiatedProtocol != protocol.EnrollALPN {
		t.Fatalf("certificate-less client negotiated %q", r.server.NegotiatedProtocol)
	}

	// Plain ServerTLS refuses enrollment entirely.
	srv, _ := ServerTLS(c.ca, c.nodeCert, c.nodeKey, []string{protocol.ALPN})
	if r := handshake(t, srv, enroll); r.serverErr == nil {
		t.Fatal("ServerTLS accepted an enrollment connection")
	}
}

func TestTLS_EnrollmentPinMismatch(t *testing.T) {
	c := newCluster(t)
	other, _ := mustCA(t)
	enroll, _ := identity.EnrollTLS(other.Fingerprint(), []string{protocol.EnrollALPN})
	r := handshake(t, c.server(t), enroll)
	want := "hub CA fingerprint mismatch: token pins " + other.Fingerprint() + ", hub presented " + c.ca.Fingerprint()
	if r.clientErr == nil || !strings.Contains(r.clientErr.Error(), want) {
		t.Fatalf("client error %v, want %q", r.clientErr, want)
	}
}

func TestTLS_ServerTLSForeignClientCert(t *testing.T) {
	c := newCluster(t)
	foreign := newCluster(t)

	// Through ClientTLS: the foreign agent trusts our CA but holds a
	// certificate from its own.
	cfg, err := identity.ClientTLS(c.ca.CertPEM(), foreign.agentCert, foreign.agentKey, []string{protocol.ALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	if r := handshake(t, c.server(t), cfg); r.serverErr == nil || r.clientErr == nil {
		t.Fatalf("foreign client accepted: server %v, client %v", r.serverErr, r.clientErr)
	}

	// Forcing the foreign certificate to be sent whatever the server asks
	// for, so that the server's chain verification itself is exercised.
	pair, err := tls.X509KeyPair(foreign.agentCert, foreign.agentKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = nil
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	r := handshake(t, c.server(t), cfg)
	if r.serverErr == nil || !strings.Contains(r.serverErr.Error(), "certificate") {
		t.Fatalf("foreign certificate accepted by server: %v", r.serverErr)
	}
	// Even offering the enrollment protocol, the certificate grants nothing:
	// the connection is an enrollment one, without peer certificates.
	cfg.NextProtos = []string{protocol.EnrollALPN}
	cfg.InsecureSkipVerify = true
	if r := handshake(t, c.server(t), cfg); r.serverErr == nil && len(r.server.PeerCertificates) != 0 {
		t.Fatal("enrollment connection carries a client certificate")
	}
}

func TestTLS_HubToHub(t *testing.T) {
	c := newCluster(t)
	cert2, key2, err := c.ca.IssueNode("hub-2", nil, []net.IP{net.ParseIP("10.0.0.2")}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := identity.ClientTLS(c.ca.CertPEM(), cert2, key2, []string{protocol.ALPN}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	r := handshake(t, c.server(t), cfg)
	if r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("server %v, client %v", r.serverErr, r.clientErr)
	}
	if !identity.IsHubCert(r.server.PeerCertificates[0]) {
		t.Fatal("server does not see a hub peer")
	}
	cfg.ServerName = "10.9.9.9"
	if r := handshake(t, c.server(t), cfg); r.clientErr == nil {
		t.Fatal("address missing from node certificate accepted")
	}
}

func TestTLS_AgentCertCannotServeAsHub(t *testing.T) {
	c := newCluster(t)
	// hub/pki refuses to build a server config from an agent certificate.
	if _, err := ServerTLS(c.ca, c.agentCert, c.agentKey, []string{protocol.ALPN}); err == nil {
		t.Fatal("ServerTLS accepted an agent certificate")
	}
	// A rogue server using a stolen agent certificate (signed by the right
	// CA) is refused by the client, with or without a server name.
	pair, err := tls.X509KeyPair(c.agentCert, c.agentKey)
	if err != nil {
		t.Fatal(err)
	}
	pair.Certificate = append(pair.Certificate, c.ca.Cert().Raw)
	rogue := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}, NextProtos: []string{protocol.ALPN, protocol.EnrollALPN}}
	for _, name := range []string{"", "127.0.0.1"} {
		if r := handshake(t, rogue, c.agentClient(t, name)); r.clientErr == nil {
			t.Errorf("serverName %q: agent certificate accepted as hub", name)
		}
	}
	enroll, _ := identity.EnrollTLS(c.ca.Fingerprint(), []string{protocol.EnrollALPN})
	if r := handshake(t, rogue, enroll); r.clientErr == nil {
		t.Error("enrollment accepted an agent certificate as hub")
	}
}

func TestTLS_ServerTLSErrors(t *testing.T) {
	c := newCluster(t)
	other := newCluster(t)
	if _, err := ServerTLS(c.ca, other.nodeCert, other.nodeKey, nil); err == nil {
		t.Error("node certificate of another CA accepted")
	}
	if _, err := ServerTLS(c.ca, c.nodeCert, other.nodeKey, nil); err == nil {
		t.Error("mismatched key accepted")
	}
	if _, err := ServerTLSWithEnrollment(c.ca, c.nodeCert, c.nodeKey, []string{protocol.ALPN}, ""); err == nil {
		t.Error("empty enrollment ALPN accepted")
	}
	if _, err := ServerTLSWithEnrollment(c.ca, c.nodeCert, c.nodeKey, []string{protocol.ALPN, protocol.EnrollALPN}, protocol.EnrollALPN); err == nil {
		t.Error("enrollment ALPN among authenticated protocols accepted")
	}
	// A chain file that already ends with the CA is not doubled.
	cfg, err := ServerTLS(c.ca, append(append([]byte(nil), c.nodeCert...), c.ca.CertPEM()...), c.nodeKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cfg.Certificates[0].Certificate); n != 2 {
		t.Errorf("chain has %d certificates, want 2", n)
	}
	if cfg.MinVersion != tls.VersionTLS13 || cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("config %v %v", cfg.MinVersion, cfg.ClientAuth)
	}
}
