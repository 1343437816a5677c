package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-sec/vigil/protocol/identity"
)

// File names of the CA inside its directory.
const (
	CACertFile = "ca.crt" // PEM certificate, mode 0644
	CAKeyFile  = "ca.key" // PEM PKCS #8 private key, mode 0600
)

// CAValidity is the lifetime of a CA created by [CreateCA].
const CAValidity = 10 * 365 * 24 * time.Hour

// clockSkew is subtracted from "now" for every NotBefore, so that a peer whose
// clock is a little behind accepts a certificate issued a moment ago.
const clockSkew = 5 * time.Minute

// CA is the cluster certificate authority: its certificate and private key.
// The key never leaves the value: there is no accessor for it, and the
// String and GoString forms show only the subject and fingerprint.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// CreateCA creates a new CA in dir (made with mode 0700 if missing): an
// ECDSA P-256 key and a self-signed certificate valid for [CAValidity] from
// now, CommonName "Vigil cluster CA <8 random hex>", IsCA with MaxPathLen 0,
// key usage CertSign and CRLSign. It writes dir/ca.key (0600, PKCS #8 PEM)
// and dir/ca.crt (0644). It refuses, with an error wrapping fs.ErrExist, if
// either file already exists; if writing the certificate fails, the key it
// just wrote is removed again.
func CreateCA(dir string, now time.Time) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("create CA: %s already exists, refusing to overwrite: %w", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("create CA: %w", err)
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create CA: generate key: %w", err)
	}
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Vigil cluster CA " + hex.EncodeToString(suffix[:])},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA: sign certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("create CA: encode key: %w", err)
	}
	ca, err := newCA(pem.EncodeToMemory(&pem.Block{Type: identity.PEMCertificate, Bytes: der}), key)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}

	keyPEM := pem.EncodeToMemory(&pem.Block{Type: identity.PEMPrivateKey, Bytes: keyDER})
	if err := writeAtomic(keyPath, keyPEM, 0o600, true); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	if err := writeAtomic(certPath, ca.certPEM, 0o644, true); err != nil {
		_ = os.Remove(keyPath)
		return nil, fmt.Errorf("create CA: %w", err)
	}
	return ca, nil
}

// LoadCA reads the CA written by [CreateCA] from dir. The key may be any
// PKCS #8 ECDSA, Ed25519 or RSA key (so an operator-provided CA works); it
// must match the certificate, which must be a CA.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	keyData, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	key, err := parsePrivateKeyPEM(keyData)
	if err != nil {
		return nil, fmt.Errorf("load CA: %s: %w", CAKeyFile, err)
	}
	ca, err := newCA(certPEM, key)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	return ca, nil
}

// newCA checks that certPEM holds exactly one CA certificate matching key.
func newCA(certPEM []byte, key crypto.Signer) (*CA, error) {
	block, rest := pem.Decode(certPEM)
	if block == nil || block.Type != identity.PEMCertificate {
		return nil, fmt.Errorf("%s: no %s PEM block", CACertFile, identity.PEMCertificate)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%s: more than one PEM block", CACertFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CACertFile, err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("%s: certificate is not a CA", CACertFile)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not match %s", CAKeyFile, CACertFile)
	}
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: identity.PEMCertificate, Bytes: cert.Raw}),
		key:     key,
	}, nil
}

// parsePrivateKeyPEM decodes a PKCS #8 "PRIVATE KEY" block. Its errors never
// include key bytes.
func parsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != identity.PEMPrivateKey {
		return nil, fmt.Errorf("no %s (PKCS #8) PEM block", identity.PEMPrivateKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("invalid PKCS #8 private key")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

// Cert returns the CA certificate. Callers must not modify it.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate as PEM (a fresh copy): what agents and
// nodes are given as their trust anchor.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool returns a new pool holding only the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Fingerprint returns the CA pin put into enrollment tokens:
// identity.Fingerprint of the certificate's DER.
func (ca *CA) Fingerprint() string { return identity.Fingerprint(ca.cert.Raw) }

// String describes the CA without any key material.
func (ca *CA) String() string {
	if ca == nil || ca.cert == nil {
		return "pki.CA(nil)"
	}
	return fmt.Sprintf("pki.CA(%q, sha256 %s)", ca.cert.Subject.CommonName, ca.Fingerprint())
}

// GoString is String, so that %#v does not print the key either.
func (ca *CA) GoString() string { return ca.String() }

// randomSerial returns a serial number of 128 random bits (at most 17 DER
// octets, within RFC 5280's limit of 20).
func randomSerial() (*big.Int, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	n := new(big.Int).SetBytes(b[:])
	if n.Sign() == 0 {
		return nil, errors.New("generate serial number: random source returned zero")
	}
	return n, nil
}
