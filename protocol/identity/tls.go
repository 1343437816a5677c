package identity

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
)

// ClientTLS returns the TLS configuration an agent (and a hub node dialing
// another node) uses on authenticated connections: TLS 1.3 at least, the
// given ALPN protocols, RootCAs = the certificates of caPEM only (never the
// system roots), and the client certificate certPEM/keyPEM. certPEM and
// keyPEM may both be empty for a connection without a client certificate.
//
// With a non-empty serverName, Go verifies the hub's certificate normally,
// including its host name against serverName (a DNS name or an IP literal,
// matched against the node certificate's DNS or IP SANs).
//
// With an empty serverName, the host name is not checked: InsecureSkipVerify
// is set and a VerifyConnection callback verifies the chain against the CA
// pool for the ServerAuth usage instead. That is safe because agents are
// configured with hub addresses rather than names, and a hub's identity is
// "any node certificate signed by the cluster CA with role:hub": the cluster
// CA issues server certificates to hub nodes only, so the name dialed adds
// nothing. VerifyConnection (rather than VerifyPeerCertificate) is used
// because Go also calls it on resumed sessions.
//
// In both cases the peer's leaf must satisfy [IsHubCert]; an agent
// certificate, although signed by the same CA, is refused.
func ClientTLS(caPEM, certPEM, keyPEM []byte, alpn []string, serverName string) (*tls.Config, error) {
	cas, err := ParseCertsPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("client tls: CA: %w", err)
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		if !c.IsCA {
			return nil, fmt.Errorf("client tls: CA file holds non-CA certificate %q", c.Subject.CommonName)
		}
		roots.AddCert(c)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    roots,
		NextProtos: slices.Clone(alpn),
		ServerName: serverName,
	}
	switch {
	case len(certPEM) == 0 && len(keyPEM) == 0:
	case len(certPEM) == 0 || len(keyPEM) == 0:
		return nil, errors.New("client tls: certificate and key must be given together")
	default:
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("client tls: load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	checkName := serverName != ""
	cfg.InsecureSkipVerify = !checkName
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("hub presented no certificate")
		}
		leaf := cs.PeerCertificates[0]
		if !checkName {
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{
				Roots:         roots,
				Intermediates: inter,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}); err != nil {
				return fmt.Errorf("verify hub certificate: %w", err)
			}
		}
		if !IsHubCert(leaf) {
			return fmt.Errorf("peer certificate %q is not a hub node certificate (want OU %q)", leaf.Subject.CommonName, HubOU)
		}
		return nil
	}
	return cfg, nil
}

// EnrollTLS returns the TLS configuration of the agent's enrollment
// connection: TLS 1.3 at least, the given ALPN protocols (normally only the
// enrollment one), no client certificate, and the hub authenticated by
// [VerifyPinnedChain] with pin instead of a root pool. Session resumption is
// off (no ClientSessionCache) so that every connection is verified, and a
// resumed connection is refused outright.
func EnrollTLS(pin string, alpn []string) (*tls.Config, error) {
	if err := ValidatePin(pin); err != nil {
		return nil, fmt.Errorf("enroll tls: %w", err)
	}
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		NextProtos:            slices.Clone(alpn),
		InsecureSkipVerify:    true, // replaced by VerifyPeerCertificate below
		VerifyPeerCertificate: VerifyPinnedChain(pin),
		VerifyConnection: func(cs tls.ConnectionState) error {
			if cs.DidResume {
				return errors.New("enrollment connection must not resume a session")
			}
			return nil
		},
	}, nil
}
