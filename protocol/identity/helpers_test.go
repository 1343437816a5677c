package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

// testCA is a minimal CA built with crypto/x509 alone, so that this package's
// tests do not depend on hub/pki.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serialCounter int64

func nextSerial() *big.Int {
	serialCounter++
	return big.NewInt(serialCounter)
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: key}
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: PEMCertificate, Bytes: ca.cert.Raw})
}

type leafSpec struct {
	cn  string
	ou  []string
	eku []x509.ExtKeyUsage
	dns []string
	ips []net.IP
	pub crypto.PublicKey
}

func (ca *testCA) issue(t *testing.T, s leafSpec) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: s.cn, OrganizationalUnit: s.ou},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           s.eku,
		BasicConstraintsValid: true,
		DNSNames:              s.dns,
		IPAddresses:           s.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, s.pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pair returns a leaf with a fresh key as PEM, plus the tls.Certificate.
func (ca *testCA) pair(t *testing.T, s leafSpec) (certPEM, keyPEM []byte, tc tls.Certificate) {
	t.Helper()
	key := newKey(t)
	s.pub = key.Public()
	c := ca.issue(t, s)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: PEMCertificate, Bytes: c.Raw})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: PEMPrivateKey, Bytes: kder})
	tc = tls.Certificate{Certificate: [][]byte{c.Raw, ca.cert.Raw}, PrivateKey: key, Leaf: c}
	return certPEM, keyPEM, tc
}

func hubSpec(id string) leafSpec {
	return leafSpec{
		cn:  id,
		ou:  []string{HubOU},
		eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		dns: []string{"hub.example"},
		ips: []net.IP{net.ParseIP("127.0.0.1")},
	}
}

func agentSpec(id, branch string) leafSpec {
	return leafSpec{
		cn:  id,
		ou:  []string{BranchOUPrefix + branch},
		eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

type handshakeResult struct {
	server, client       tls.ConnectionState
	serverErr, clientErr error
}

// handshake runs a real TLS handshake over a loopback TCP connection. The
// server writes one byte after a successful handshake and the client reads
// it, so a client certificate rejected by the server (which TLS 1.3 reports
// only after the client's handshake has returned) surfaces as clientErr too.
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
	r.clientErr = tc.Handshake()
	if r.clientErr == nil {
		r.client = tc.ConnectionState()
		var b [1]byte
		if _, err := io.ReadFull(tc, b[:]); err != nil {
			r.clientErr = err
		}
	}
	raw.Close()
	s := <-done
	r.server, r.serverErr = s.state, s.err
	return r
}
