package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
)

// PEM block types used by Vigil.
const (
	PEMCertificate = "CERTIFICATE"
	PEMPrivateKey  = "PRIVATE KEY" // PKCS #8
	PEMCSR         = "CERTIFICATE REQUEST"
)

// NewAgentKeyAndCSR generates the agent's ECDSA P-256 key and a certificate
// signing request for it. keyPEM is a PKCS #8 "PRIVATE KEY" block that the
// caller must store with mode 0600 and never send anywhere; csrPEM is sent to
// the hub during enrollment. The CSR's subject is a placeholder: the hub
// ignores it and assigns the agent's identity itself.
func NewAgentKeyAndCSR() (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate agent key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode agent key: %w", err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "vigil-agent"},
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create agent csr: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMPrivateKey, Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: PEMCSR, Bytes: csrDER}), nil
}

// ParseCertsPEM returns every CERTIFICATE block of data, in order. Blocks of
// other types are skipped; it fails if there is no certificate at all.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != PEMCertificate {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs), err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no %s PEM block found", PEMCertificate)
	}
	return certs, nil
}
