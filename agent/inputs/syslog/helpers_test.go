package syslog_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/inputs/syslog"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"google.golang.org/protobuf/proto"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openBuffer opens a real durable buffer in a temporary directory.
func openBuffer(t *testing.T, maxBytes int64) *buffer.Buffer {
	t.Helper()
	b, err := buffer.Open(buffer.Config{Dir: t.TempDir(), MaxBytes: maxBytes}, quiet, time.Now)
	if err != nil {
		t.Fatalf("open buffer: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// startInput binds cfg on 127.0.0.1:0 and runs it until the test ends.
func startInput(t *testing.T, cfg syslog.Config, buf *buffer.Buffer) *syslog.Input {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.ID == "" {
		cfg.ID = "syslog_" + cfg.Protocol
	}
	in, err := syslog.New(cfg, buf, quiet)
	if err != nil {
		t.Fatalf("new input: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("input run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("input did not stop")
		}
	})
	return in
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readEvents waits until the buffer holds n records and returns them decoded.
func readEvents(t *testing.T, buf *buffer.Buffer, n int) []*agentpb.Event {
	t.Helper()
	waitFor(t, 10*time.Second, "buffered records", func() bool { return buf.LastSeq() >= uint64(n) })
	recs, err := buf.Read(1, n+1000, 1<<30, nil)
	if err != nil {
		t.Fatalf("read buffer: %v", err)
	}
	if len(recs) != n {
		t.Fatalf("buffer holds %d records, want %d", len(recs), n)
	}
	out := make([]*agentpb.Event, len(recs))
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		out[i] = decodeEvent(t, r.Data)
	}
	return out
}

func decodeEvent(t *testing.T, data []byte) *agentpb.Event {
	t.Helper()
	ev := &agentpb.Event{}
	if err := proto.Unmarshal(data, ev); err != nil {
		t.Fatalf("decode event: %v", err)
	}
	return ev
}

func originals(evs []*agentpb.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Original
	}
	return out
}

func dial(t *testing.T, network string, in *syslog.Input) net.Conn {
	t.Helper()
	c, err := net.Dial(network, in.Addr().String())
	if err != nil {
		t.Fatalf("dial %s: %v", network, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// waitClosed reads from c until the peer closes it; it fails the test if the
// connection is still open after the timeout.
func waitClosed(t *testing.T, c net.Conn, timeout time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	var b [512]byte
	for {
		_, err := c.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %s", timeout)
		}
		return // EOF or reset: closed by the input
	}
}

// selfSignedTLS returns a server config with a fresh self-signed certificate
// for 127.0.0.1 and a pool that trusts it.
func selfSignedTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "syslog test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, pool
}
