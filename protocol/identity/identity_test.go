package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestIdentity_ValidateName(t *testing.T) {
	for _, ok := range []string{"agt-3f2a91c0", "paris", "hub-1", "a", "Branch_01.eu", strings.Repeat("x", MaxNameLen)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", ".x", "a b", "a/b", "a:b", "a\n", "é", strings.Repeat("x", MaxNameLen+1)} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
}

func TestIdentity_AgentFromCert(t *testing.T) {
	ca := newTestCA(t, "test CA")
	pub := newKey(t).Public()
	s := agentSpec("agt-3f2a91c0", "paris-01")
	s.pub = pub
	got, err := AgentFromCert(ca.issue(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if got != (Agent{ID: "agt-3f2a91c0", Branch: "paris-01"}) {
		t.Fatalf("AgentFromCert = %+v", got)
	}

	bad := map[string]leafSpec{
		"hub cert":      hubSpec("hub-1"),
		"no ou":         {cn: "agt-1", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		"two ou":        {cn: "agt-1", ou: []string{"branch:a", "branch:b"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		"empty branch":  {cn: "agt-1", ou: []string{"branch:"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		"empty cn":      {ou: []string{"branch:a"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		"no clientauth": {cn: "agt-1", ou: []string{"branch:a"}},
		"serverauth":    {cn: "agt-1", ou: []string{"branch:a"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}},
	}
	for name, s := range bad {
		s.pub = pub
		if a, err := AgentFromCert(ca.issue(t, s)); err == nil {
			t.Errorf("%s: accepted as %+v", name, a)
		} else if !errors.Is(err, ErrNotAgentCert) {
			t.Errorf("%s: error %v does not wrap ErrNotAgentCert", name, err)
		}
	}
	if _, err := AgentFromCert(ca.cert); err == nil {
		t.Error("CA accepted as agent")
	}
	if _, err := AgentFromCert(nil); err == nil {
		t.Error("nil accepted as agent")
	}
}

func TestIdentity_IsHubCert(t *testing.T) {
	ca := newTestCA(t, "test CA")
	pub := newKey(t).Public()
	s := hubSpec("hub-1")
	s.pub = pub
	if !IsHubCert(ca.issue(t, s)) {
		t.Fatal("hub certificate not recognized")
	}
	for name, s := range map[string]leafSpec{
		"agent":         agentSpec("agt-1", "paris"),
		"no serverauth": {cn: "hub-1", ou: []string{HubOU}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		"extra ou":      {cn: "hub-1", ou: []string{HubOU, "branch:x"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		"bad cn":        {cn: "hub 1", ou: []string{HubOU}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
	} {
		s.pub = pub
		if IsHubCert(ca.issue(t, s)) {
			t.Errorf("%s: recognized as hub", name)
		}
	}
	if IsHubCert(ca.cert) || IsHubCert(nil) {
		t.Error("CA or nil recognized as hub")
	}
}

func TestIdentity_Fingerprint(t *testing.T) {
	ca := newTestCA(t, "test CA")
	sum := sha256.Sum256(ca.cert.Raw)
	fp := Fingerprint(ca.cert.Raw)
	if fp != hex.EncodeToString(sum[:]) || len(fp) != 64 || fp != strings.ToLower(fp) {
		t.Fatalf("Fingerprint = %q", fp)
	}
	if err := ValidatePin(fp); err != nil {
		t.Fatal(err)
	}
}

func TestIdentity_VerifyPinnedChain(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	foreign := newTestCA(t, "foreign CA")
	pin := Fingerprint(ca.cert.Raw)
	pub := newKey(t).Public()
	hs := hubSpec("hub-1")
	hs.pub = pub
	hub := ca.issue(t, hs)
	foreignHub := foreign.issue(t, hs)
	as := agentSpec("agt-1", "paris")
	as.pub = pub
	agent := ca.issue(t, as)
	notHub := ca.issue(t, leafSpec{cn: "x", ou: []string{"branch:x"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, pub: pub})

	verify := VerifyPinnedChain(pin)
	if err := verify([][]byte{hub.Raw, ca.cert.Raw}, nil); err != nil {
		t.Fatalf("right CA refused: %v", err)
	}

	err := verify([][]byte{foreignHub.Raw, foreign.cert.Raw}, nil)
	want := "hub CA fingerprint mismatch: token pins " + pin + ", hub presented " + Fingerprint(foreign.cert.Raw)
	if err == nil || err.Error() != want {
		t.Fatalf("foreign CA: got %v, want %q", err, want)
	}

	for name, chain := range map[string][][]byte{
		"no certs":                 nil,
		"leaf only":                {hub.Raw},
		"foreign leaf, pinned CA":  {foreignHub.Raw, ca.cert.Raw},
		"agent leaf":               {agent.Raw, ca.cert.Raw},
		"serverauth but not hub":   {notHub.Raw, ca.cert.Raw},
		"pinned CA as leaf":        {ca.cert.Raw, ca.cert.Raw},
		"garbage":                  {[]byte("junk"), ca.cert.Raw},
		"foreign CA then pinned":   {foreignHub.Raw, foreign.cert.Raw, ca.cert.Raw},
		"pinned leaf not CA (pin)": {hub.Raw, hub.Raw},
	} {
		if err := verify(chain, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	leafPin := VerifyPinnedChain(Fingerprint(hub.Raw))
	if err := leafPin([][]byte{foreignHub.Raw, hub.Raw}, nil); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("pinning a non-CA: got %v", err)
	}
	if err := VerifyPinnedChain("nothex")([][]byte{hub.Raw, ca.cert.Raw}, nil); err == nil {
		t.Error("invalid pin accepted")
	}
}

func TestIdentity_NewAgentKeyAndCSR(t *testing.T) {
	keyPEM, csrPEM, err := NewAgentKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != PEMPrivateKey {
		t.Fatal("key is not a PKCS #8 PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", k)
	}
	cb, _ := pem.Decode(csrPEM)
	if cb == nil || cb.Type != PEMCSR {
		t.Fatal("csr is not a CERTIFICATE REQUEST PEM block")
	}
	csr, err := x509.ParseCertificateRequest(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatal(err)
	}
	if !ek.PublicKey.Equal(csr.PublicKey) {
		t.Fatal("csr public key does not match key")
	}
}

func TestIdentity_ClientTLSErrors(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	certPEM, keyPEM, _ := ca.pair(t, agentSpec("agt-1", "paris"))
	if _, err := ClientTLS(nil, certPEM, keyPEM, nil, ""); err == nil {
		t.Error("missing CA accepted")
	}
	if _, err := ClientTLS(certPEM, certPEM, keyPEM, nil, ""); err == nil {
		t.Error("non-CA certificate accepted as CA")
	}
	if _, err := ClientTLS(ca.pem(), certPEM, nil, nil, ""); err == nil {
		t.Error("certificate without key accepted")
	}
	_, otherKey, _ := ca.pair(t, agentSpec("agt-2", "paris"))
	if _, err := ClientTLS(ca.pem(), certPEM, otherKey, nil, ""); err == nil {
		t.Error("mismatched key accepted")
	}
	cfg, err := ClientTLS(ca.pem(), certPEM, keyPEM, []string{"vigil/1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || len(cfg.Certificates) != 1 || cfg.NextProtos[0] != "vigil/1" {
		t.Fatalf("unexpected config: %+v", cfg)
	}
	if _, err := EnrollTLS("nothex", nil); err == nil {
		t.Error("EnrollTLS accepted an invalid pin")
	}
}
