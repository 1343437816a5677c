package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vigil-sec/vigil/protocol/identity"
)

// Limits applied to agent CSRs before any expensive parsing or checking.
const (
	maxCSRPEMLen   = 64 << 10
	minRSAKeyBits  = 2048
	maxRSAKeyBits  = 8192
	maxNodeSANs    = 100
	maxDNSNameLen  = 253
	maxIssueWindow = CAValidity
)

// IssueNode issues a hub node certificate for nodeID (see
// identity.ValidateName) with a freshly generated ECDSA P-256 key:
// CN = nodeID, OU = ["role:hub"], ExtKeyUsage ServerAuth and ClientAuth, the
// given DNS and IP SANs, NotBefore = now - 5m and NotAfter = now + validity
// (cut back to the CA's own NotAfter). Hub addresses are often bare IPs, so
// every address agents or peers dial by must be listed in ips or dnsNames.
//
// certPEM holds the leaf only (the TLS builders append the CA); keyPEM is a
// PKCS #8 PEM key to be written with [WriteSecretFile].
func (ca *CA) IssueNode(nodeID string, dnsNames []string, ips []net.IP, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if err := identity.ValidateName(nodeID); err != nil {
		return nil, nil, fmt.Errorf("issue node certificate: node id: %w", err)
	}
	if len(dnsNames)+len(ips) > maxNodeSANs {
		return nil, nil, fmt.Errorf("issue node certificate: more than %d SANs", maxNodeSANs)
	}
	for _, n := range dnsNames {
		if n == "" || len(n) > maxDNSNameLen {
			return nil, nil, fmt.Errorf("issue node certificate: invalid DNS name %q", n)
		}
	}
	ipSANs := make([]net.IP, 0, len(ips))
	for _, ip := range ips {
		if ip.To16() == nil {
			return nil, nil, fmt.Errorf("issue node certificate: invalid IP address %v", ip)
		}
		ipSANs = append(ipSANs, append(net.IP(nil), ip...))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue node certificate: generate key: %w", err)
	}
	tmpl, err := ca.leafTemplate(now, validity)
	if err != nil {
		return nil, nil, fmt.Errorf("issue node certificate: %w", err)
	}
	tmpl.Subject = pkix.Name{CommonName: nodeID, OrganizationalUnit: []string{identity.HubOU}}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	tmpl.DNSNames = append([]string(nil), dnsNames...)
	tmpl.IPAddresses = ipSANs
	certPEM, err = ca.sign(tmpl, key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("issue node certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue node certificate: encode key: %w", err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: identity.PEMPrivateKey, Bytes: keyDER}), nil
}

// SignAgentCSR signs the public key of an agent's CSR and returns the agent
// certificate as PEM. The CSR's self-signature must verify and its key must
// be ECDSA P-256, Ed25519, or RSA of 2048 to 8192 bits.
//
// Everything else in the CSR (subject, SANs, extensions) is ignored: the
// identity comes from agentID and branch, which the hub derives from the
// enrollment token, never from the requester. The certificate has CN =
// agentID, OU = ["branch:" + branch], ExtKeyUsage ClientAuth only, a 128-bit
// random serial, NotBefore = now - 5m and NotAfter = now + validity (cut back
// to the CA's own NotAfter).
func (ca *CA) SignAgentCSR(csrPEM []byte, agentID, branch string, now time.Time, validity time.Duration) (certPEM []byte, err error) {
	if err := identity.ValidateName(agentID); err != nil {
		return nil, fmt.Errorf("sign agent csr: agent id: %w", err)
	}
	if err := identity.ValidateName(branch); err != nil {
		return nil, fmt.Errorf("sign agent csr: branch: %w", err)
	}
	csr, err := parseAgentCSR(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("sign agent csr: %w", err)
	}
	tmpl, err := ca.leafTemplate(now, validity)
	if err != nil {
		return nil, fmt.Errorf("sign agent csr: %w", err)
	}
	tmpl.Subject = pkix.Name{CommonName: agentID, OrganizationalUnit: []string{identity.BranchOUPrefix + branch}}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	certPEM, err = ca.sign(tmpl, csr.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("sign agent csr: %w", err)
	}
	return certPEM, nil
}

// ValidateAgentCSR runs every check SignAgentCSR makes on the request itself
// (size, PEM form, key type, signature), so a caller can refuse a bad CSR
// before it spends anything, such as an enrollment token.
func ValidateAgentCSR(csrPEM []byte) error {
	_, err := parseAgentCSR(csrPEM)
	return err
}

func parseAgentCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	if len(csrPEM) > maxCSRPEMLen {
		return nil, fmt.Errorf("csr larger than %d bytes", maxCSRPEMLen)
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || (block.Type != identity.PEMCSR && block.Type != "NEW CERTIFICATE REQUEST") {
		return nil, fmt.Errorf("no %s PEM block", identity.PEMCSR)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	// Check the key type first so an oversized RSA key costs nothing.
	if err := checkAgentKey(csr.PublicKey); err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("bad csr signature: %w", err)
	}
	return csr, nil
}

func checkAgentKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("unsupported ECDSA curve %s, want P-256", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSAKeyBits || n > maxRSAKeyBits {
			return fmt.Errorf("RSA key of %d bits, want %d to %d", n, minRSAKeyBits, maxRSAKeyBits)
		}
	default:
		return fmt.Errorf("unsupported public key type %T", pub)
	}
	return nil
}

// leafTemplate returns the fields common to node and agent certificates.
func (ca *CA) leafTemplate(now time.Time, validity time.Duration) (*x509.Certificate, error) {
	if validity <= 0 || validity > maxIssueWindow {
		return nil, fmt.Errorf("validity %v out of range (0, %v]", validity, maxIssueWindow)
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	notBefore := now.Add(-clockSkew)
	if !notAfter.After(notBefore) || now.After(ca.cert.NotAfter) {
		return nil, errors.New("CA certificate has expired")
	}
	if notBefore.Before(ca.cert.NotBefore) {
		notBefore = ca.cert.NotBefore
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
	}, nil
}

// sign creates a certificate for pub from tmpl, signed by the CA key.
func (ca *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: identity.PEMCertificate, Bytes: der}), nil
}
