package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/protocol/identity"
)

// tlsStream is a raft.StreamLayer whose connections are TLS 1.3 with client
// certificates on both sides (invariant 6): the listener requires a hub
// certificate from the cluster CA, and dialing presents this node's.
type tlsStream struct {
	net.Listener
	advertise net.Addr
	client    *tls.Config
}

func newTLSStream(bind string, advertise net.Addr, server, client *tls.Config) (*tlsStream, error) {
	// The CA also signs agent certificates, which pass the client
	// verification: only hub node certificates may speak Raft.
	server = server.Clone()
	verify := server.VerifyConnection
	server.VerifyConnection = func(cs tls.ConnectionState) error {
		if verify != nil {
			if err := verify(cs); err != nil {
				return err
			}
		}
		if len(cs.PeerCertificates) == 0 || !identity.IsHubCert(cs.PeerCertificates[0]) {
			return errors.New("raft peer did not present a hub node certificate")
		}
		return nil
	}
	ln, err := tls.Listen("tcp", bind, server)
	if err != nil {
		return nil, fmt.Errorf("listen raft %s: %w", bind, err)
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	return &tlsStream{Listener: ln, advertise: advertise, client: client}, nil
}

func (s *tlsStream) Addr() net.Addr { return s.advertise }

func (s *tlsStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	conn, err := tls.DialWithDialer(d, "tcp", string(addr), s.client)
	if err != nil {
		return nil, fmt.Errorf("dial raft peer %s: %w", addr, err)
	}
	return conn, nil
}

var _ raft.StreamLayer = (*tlsStream)(nil)
