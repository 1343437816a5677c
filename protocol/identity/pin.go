package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

// Fingerprint returns the CA pin of a certificate: the lowercase hex SHA-256
// of its DER encoding (64 characters). Unlike kubeadm's discovery hash, which
// covers only the SubjectPublicKeyInfo, it covers the whole certificate.
func Fingerprint(caCertDER []byte) string {
	sum := sha256.Sum256(caCertDER)
	return hex.EncodeToString(sum[:])
}

// ValidatePin reports whether pin has the form of a [Fingerprint]: 64
// lowercase hex characters.
func ValidatePin(pin string) error {
	if len(pin) != 2*sha256.Size {
		return fmt.Errorf("CA pin must be %d hex characters, got %d", 2*sha256.Size, len(pin))
	}
	if !isLowerHex(pin) {
		return errors.New("CA pin must contain only lowercase hex characters [0-9a-f]")
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// VerifyPinnedChain returns a tls.Config.VerifyPeerCertificate callback that
// authenticates a hub by the CA pin of an enrollment token. It is meant only
// for the enrollment connection, with InsecureSkipVerify set (so Go's own
// verification, which needs a root pool the agent does not have yet, is
// replaced by this one); prefer [EnrollTLS], which builds that config.
//
// The hub must present its chain as [leaf, ..., CA]. The callback finds the
// presented certificate whose [Fingerprint] equals pin, requires it to be a
// CA that is not the leaf, and verifies the leaf against it alone with
// x509.Verify for the ServerAuth usage; any other presented certificates are
// offered as intermediates. The leaf must also be a hub node certificate
// ([IsHubCert]).
//
// The host name is deliberately not checked. The pin names exactly one CA,
// received out of band in the token; that CA is the cluster's own and only
// ever issues hub node certificates (the only ones with ServerAuth) and agent
// certificates. Any leaf it signed for ServerAuth with role:hub is therefore
// a genuine hub node, whatever address the agent dialed, and agents are
// usually configured with bare IP addresses anyway. Possession of the leaf's
// key is still proven by the TLS handshake itself.
//
// Go does not call VerifyPeerCertificate on resumed sessions: the config
// using it must not set a ClientSessionCache ([EnrollTLS] does not).
func VerifyPinnedChain(pin string) func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	pinErr := ValidatePin(pin)
	return func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
		if pinErr != nil {
			return fmt.Errorf("invalid pinned CA fingerprint: %w", pinErr)
		}
		if len(rawCerts) == 0 {
			return errors.New("hub presented no certificate")
		}
		if len(rawCerts) < 2 {
			return errors.New("hub presented only its leaf certificate; enrollment requires the chain [leaf, ..., CA]")
		}
		certs := make([]*x509.Certificate, len(rawCerts))
		pinned := -1
		for i, raw := range rawCerts {
			c, err := x509.ParseCertificate(raw)
			if err != nil {
				return fmt.Errorf("parse hub certificate %d: %w", i, err)
			}
			certs[i] = c
			if pinned < 0 && Fingerprint(raw) == pin {
				pinned = i
			}
		}
		if pinned < 0 {
			return fmt.Errorf("hub CA fingerprint mismatch: token pins %s, hub presented %s",
				pin, Fingerprint(rawCerts[len(rawCerts)-1]))
		}
		ca := certs[pinned]
		if pinned == 0 {
			return errors.New("pinned CA certificate was presented as the hub's leaf certificate")
		}
		if !ca.BasicConstraintsValid || !ca.IsCA {
			return fmt.Errorf("pinned certificate %q is not a CA", ca.Subject.CommonName)
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		inter := x509.NewCertPool()
		for i, c := range certs[1:] {
			if i+1 != pinned {
				inter.AddCert(c)
			}
		}
		leaf := certs[0]
		if _, err := leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			return fmt.Errorf("verify hub certificate against pinned CA: %w", err)
		}
		if !IsHubCert(leaf) {
			return fmt.Errorf("hub certificate %q is not a hub node certificate (want OU %q)", leaf.Subject.CommonName, HubOU)
		}
		return nil
	}
}
