package identity

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
)

const testALPN = "vigil/1"

func serverConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, NextProtos: []string{testALPN, "vigil-enroll/1"}}
}

func TestTLS_ClientTLSHandshake(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	_, _, hub := ca.pair(t, hubSpec("hub-1"))
	agentCert, agentKey, _ := ca.pair(t, agentSpec("agt-1", "paris"))

	for _, name := range []string{"", "127.0.0.1", "hub.example"} {
		cfg, err := ClientTLS(ca.pem(), agentCert, agentKey, []string{testALPN}, name)
		if err != nil {
			t.Fatal(err)
		}
		r := handshake(t, serverConfig(hub), cfg)
		if r.clientErr != nil || r.serverErr != nil {
			t.Fatalf("serverName %q: client %v, server %v", name, r.clientErr, r.serverErr)
		}
		if r.client.NegotiatedProtocol != testALPN {
			t.Fatalf("negotiated %q", r.client.NegotiatedProtocol)
		}
	}

	// A name the node certificate does not carry is refused when given.
	cfg, _ := ClientTLS(ca.pem(), agentCert, agentKey, []string{testALPN}, "other.example")
	if r := handshake(t, serverConfig(hub), cfg); r.clientErr == nil {
		t.Fatal("wrong server name accepted")
	}
}

func TestTLS_ClientTLSRefusesNonHubServer(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	agentCert, agentKey, _ := ca.pair(t, agentSpec("agt-1", "paris"))
	// A real agent certificate (ClientAuth only) used as a server certificate.
	_, _, agentAsServer := ca.pair(t, agentSpec("agt-2", "paris"))
	// A certificate of the right CA with ServerAuth and IP SAN but no role:hub:
	// only the IsHubCert check can refuse it.
	_, _, notHub := ca.pair(t, leafSpec{
		cn: "agt-3", ou: []string{"branch:paris"},
		eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		ips: []net.IP{net.ParseIP("127.0.0.1")},
	})
	// A genuine-looking hub certificate from another CA.
	foreign := newTestCA(t, "foreign CA")
	_, _, foreignHub := foreign.pair(t, hubSpec("hub-1"))

	for _, name := range []string{"", "127.0.0.1"} {
		cfg, err := ClientTLS(ca.pem(), agentCert, agentKey, []string{testALPN}, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := handshake(t, serverConfig(agentAsServer), cfg); r.clientErr == nil {
			t.Errorf("serverName %q: agent certificate accepted as hub", name)
		}
		r := handshake(t, serverConfig(notHub), cfg)
		if r.clientErr == nil || !strings.Contains(r.clientErr.Error(), "not a hub node certificate") {
			t.Errorf("serverName %q: non-hub ServerAuth certificate: %v", name, r.clientErr)
		}
		if r := handshake(t, serverConfig(foreignHub), cfg); r.clientErr == nil {
			t.Errorf("serverName %q: foreign CA accepted", name)
		}
	}
}

func TestTLS_EnrollTLSHandshake(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	_, _, hub := ca.pair(t, hubSpec("hub-1"))
	foreign := newTestCA(t, "foreign CA")
	_, _, foreignHub := foreign.pair(t, hubSpec("hub-1"))

	cfg, err := EnrollTLS(Fingerprint(ca.cert.Raw), []string{"vigil-enroll/1"})
	if err != nil {
		t.Fatal(err)
	}
	r := handshake(t, serverConfig(hub), cfg)
	if r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("client %v, server %v", r.clientErr, r.serverErr)
	}
	if r.client.NegotiatedProtocol != "vigil-enroll/1" {
		t.Fatalf("negotiated %q", r.client.NegotiatedProtocol)
	}

	r = handshake(t, serverConfig(foreignHub), cfg)
	if r.clientErr == nil || !strings.Contains(r.clientErr.Error(), "hub CA fingerprint mismatch") {
		t.Fatalf("foreign hub: %v", r.clientErr)
	}

	// A server sending only its leaf cannot be checked against the pin.
	leafOnly := hub
	leafOnly.Certificate = leafOnly.Certificate[:1]
	if r := handshake(t, serverConfig(leafOnly), cfg); r.clientErr == nil {
		t.Fatal("leaf-only chain accepted")
	}
}
