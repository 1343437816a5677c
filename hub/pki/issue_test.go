package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/protocol/identity"
)

func parseCertPEM(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	certs, err := identity.ParseCertsPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 {
		t.Fatalf("%d certificates, want 1", len(certs))
	}
	return certs[0]
}

func TestCA_IssueNode(t *testing.T) {
	ca, _ := mustCA(t)
	now := time.Now()
	ips := []net.IP{net.ParseIP("10.0.0.7"), net.ParseIP("::1")}
	certPEM, keyPEM, err := ca.IssueNode("hub-1", []string{"hub-1.vigil.internal"}, ips, now, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("cert and key do not match: %v", err)
	}
	c := parseCertPEM(t, certPEM)
	if !identity.IsHubCert(c) || c.Subject.CommonName != "hub-1" || !slices.Equal(c.Subject.OrganizationalUnit, []string{"role:hub"}) {
		t.Fatalf("subject %v", c.Subject)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ext key usage %v", c.ExtKeyUsage)
	}
	if c.IsCA {
		t.Error("node certificate is a CA")
	}
	if pk, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P256() {
		t.Errorf("node key %T", c.PublicKey)
	}
	if !c.NotBefore.Equal(now.Add(-5*time.Minute).Truncate(time.Second)) || !c.NotAfter.Equal(now.Add(90*24*time.Hour).Truncate(time.Second)) {
		t.Errorf("validity %v .. %v", c.NotBefore, c.NotAfter)
	}
	for _, name := range []string{"hub-1.vigil.internal", "10.0.0.7", "::1"} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("verify for %q: %v", name, err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("verify as client for %q: %v", name, err)
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "10.0.0.8"}); err == nil {
		t.Error("verified for an address not in the certificate")
	}

	if _, _, err := ca.IssueNode("bad id", nil, nil, now, time.Hour); err == nil {
		t.Error("invalid node id accepted")
	}
	if _, _, err := ca.IssueNode("hub-1", nil, nil, now, 0); err == nil {
		t.Error("zero validity accepted")
	}
	if _, _, err := ca.IssueNode("hub-1", nil, []net.IP{{1, 2}}, now, time.Hour); err == nil {
		t.Error("invalid IP accepted")
	}
	// Validity is cut back to the CA's own expiry.
	certPEM, _, err = ca.IssueNode("hub-1", nil, nil, now.Add(CAValidity-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c := parseCertPEM(t, certPEM); !c.NotAfter.Equal(ca.Cert().NotAfter) {
		t.Errorf("NotAfter %v, CA NotAfter %v", c.NotAfter, ca.Cert().NotAfter)
	}
}

// csrWithHostileSubject returns a CSR asking for CN "admin", a hub OU, SANs
// and the CA flag in extensions, all of which must be ignored.
func csrWithHostileSubject(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	u, _ := url.Parse("spiffe://evil/admin")
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "admin", OrganizationalUnit: []string{"role:hub"}, Organization: []string{"evil"}},
		DNSNames:       []string{"hub.vigil.internal"},
		IPAddresses:    []net.IP{net.ParseIP("127.0.0.1")},
		URIs:           []*url.URL{u},
		EmailAddresses: []string{"admin@example.com"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestCA_SignAgentCSRIgnoresCSRSubject(t *testing.T) {
	ca, _ := mustCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	certPEM, err := ca.SignAgentCSR(csrWithHostileSubject(t, key), "agt-3f2a91c0", "paris-01", now, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := parseCertPEM(t, certPEM)
	a, err := identity.AgentFromCert(c)
	if err != nil {
		t.Fatal(err)
	}
	if a != (identity.Agent{ID: "agt-3f2a91c0", Branch: "paris-01"}) {
		t.Fatalf("agent %+v", a)
	}
	if c.Subject.CommonName == "admin" || len(c.Subject.Organization) != 0 || identity.IsHubCert(c) {
		t.Fatalf("CSR subject leaked into certificate: %v", c.Subject)
	}
	if len(c.DNSNames)+len(c.IPAddresses)+len(c.URIs)+len(c.EmailAddresses) != 0 {
		t.Fatalf("CSR SANs leaked: %v %v %v %v", c.DNSNames, c.IPAddresses, c.URIs, c.EmailAddresses)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || c.IsCA {
		t.Fatalf("usage %v, IsCA %v", c.ExtKeyUsage, c.IsCA)
	}
	if !key.PublicKey.Equal(c.PublicKey) {
		t.Fatal("certificate key is not the CSR key")
	}
	if c.SerialNumber.BitLen() < 64 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial has %d bits", c.SerialNumber.BitLen())
	}
	if !c.NotBefore.Equal(now.Add(-5 * time.Minute).Truncate(time.Second)) {
		t.Errorf("NotBefore %v", c.NotBefore)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("verify as client: %v", err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err == nil {
		t.Fatal("agent certificate verifies for server authentication")
	}
	// Two certificates never share a serial.
	certPEM2, err := ca.SignAgentCSR(csrWithHostileSubject(t, key), "agt-3f2a91c0", "paris-01", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if parseCertPEM(t, certPEM2).SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Fatal("repeated serial")
	}
}

func TestCA_SignAgentCSRKeys(t *testing.T) {
	ca, _ := mustCA(t)
	now := time.Now()
	sign := func(key crypto.Signer) error {
		_, err := ca.SignAgentCSR(csrWithHostileSubject(t, key), "agt-1", "paris", now, time.Hour)
		return err
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, tc := range map[string]struct {
		key crypto.Signer
		ok  bool
	}{
		"ed25519":  {edKey, true},
		"rsa2048":  {rsa2048, true},
		"rsa1024":  {rsa1024, false},
		"ecdsa384": {p384, false},
	} {
		if err := sign(tc.key); (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tc.ok)
		}
	}
}

func TestCA_SignAgentCSRRejects(t *testing.T) {
	ca, _ := mustCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := csrWithHostileSubject(t, key)
	now := time.Now()

	// Corrupt the last bytes of the DER, which belong to the signature.
	b, _ := pem.Decode(good)
	forged := append([]byte(nil), b.Bytes...)
	forged[len(forged)-5] ^= 0xff
	cases := map[string][]byte{
		"bad signature": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: forged}),
		"not pem":       []byte("hello"),
		"wrong type":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes}),
		"garbage der":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1, 2, 3}}),
		"too large":     make([]byte, 1<<20),
	}
	for name, in := range cases {
		if _, err := ca.SignAgentCSR(in, "agt-1", "paris", now, time.Hour); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ca.SignAgentCSR(good, "", "paris", now, time.Hour); err == nil {
		t.Error("empty agent id accepted")
	}
	if _, err := ca.SignAgentCSR(good, "agt-1", "a b", now, time.Hour); err == nil {
		t.Error("invalid branch accepted")
	}
}
