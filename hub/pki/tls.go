package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/vigil-sec/vigil/protocol/identity"
)

// ServerTLS returns the hub listener's TLS configuration for authenticated
// protocols: TLS 1.3 at least, the given ALPN protocols, and
// RequireAndVerifyClientCert with ClientCAs = the CA alone, so every peer
// (agent or hub node) must present a certificate chaining to the cluster CA
// with the ClientAuth usage. Handlers still decide what the peer is with
// identity.AgentFromCert or identity.IsHubCert.
//
// certPEM/keyPEM are the node's certificate and key from [CA.IssueNode]; the
// certificate must be a hub node certificate issued by ca. The chain sent is
// [leaf, CA] (the CA is appended unless certPEM already ends with it), so an
// agent that knows only the CA's fingerprint can verify it during enrollment.
//
// Use [ServerTLSWithEnrollment] on a listener that also accepts enrollment.
func ServerTLS(ca *CA, certPEM, keyPEM []byte, alpn []string) (*tls.Config, error) {
	cert, err := serverCertificate(ca, certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server tls: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		NextProtos:   slices.Clone(alpn),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}, nil
}

// ServerTLSWithEnrollment is [ServerTLS] for a listener that serves both the
// authenticated protocols alpn and the enrollment protocol enrollALPN. Using
// GetConfigForClient, it picks per connection:
//
//   - a ClientHello that offers enrollALPN (among any others) gets a
//     configuration whose only protocol is enrollALPN, with ClientAuth
//     NoClientCert and session tickets disabled: the agent has no
//     certificate yet and is authenticated by its token inside the protocol.
//     Offering only enrollALPN there means such a connection can never
//     negotiate an authenticated protocol without a certificate.
//   - every other ClientHello gets the ServerTLS configuration (protocols
//     alpn only, client certificate required and verified).
//
// Both send the chain [leaf, CA]. enrollALPN must not be one of alpn.
func ServerTLSWithEnrollment(ca *CA, certPEM, keyPEM []byte, alpn []string, enrollALPN string) (*tls.Config, error) {
	if enrollALPN == "" {
		return nil, errors.New("server tls: empty enrollment ALPN")
	}
	if slices.Contains(alpn, enrollALPN) {
		return nil, fmt.Errorf("server tls: enrollment ALPN %q is also listed as an authenticated protocol", enrollALPN)
	}
	authCfg, err := ServerTLS(ca, certPEM, keyPEM, alpn)
	if err != nil {
		return nil, err
	}
	enrollCfg := authCfg.Clone()
	enrollCfg.NextProtos = []string{enrollALPN}
	enrollCfg.ClientAuth = tls.NoClientCert
	enrollCfg.ClientCAs = nil
	enrollCfg.SessionTicketsDisabled = true

	outer := authCfg.Clone()
	outer.NextProtos = append(slices.Clone(alpn), enrollALPN)
	outer.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if slices.Contains(hello.SupportedProtos, enrollALPN) {
			return enrollCfg, nil
		}
		return authCfg, nil
	}
	return outer, nil
}

// serverCertificate loads the node's key pair, checks that it is a hub node
// certificate issued by ca, and makes the chain [leaf, CA].
func serverCertificate(ca *CA, certPEM, keyPEM []byte) (tls.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load node certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load node certificate: %w", err)
	}
	if !identity.IsHubCert(leaf) {
		return tls.Certificate{}, fmt.Errorf("certificate %q is not a hub node certificate", leaf.Subject.CommonName)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:     ca.Pool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Only the issuer is checked here, at a time the leaf is valid;
		// expiry is enforced by every peer on every handshake.
		CurrentTime: leaf.NotBefore,
	}); err != nil {
		return tls.Certificate{}, fmt.Errorf("node certificate was not issued by this CA: %w", err)
	}
	if last := pair.Certificate[len(pair.Certificate)-1]; !bytes.Equal(last, ca.cert.Raw) {
		pair.Certificate = append(pair.Certificate, ca.cert.Raw)
	}
	pair.Leaf = leaf
	return pair, nil
}
