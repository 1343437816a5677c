package ingest_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/vigil-sec/vigil/hub/hubtest"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/vigil-sec/vigil/hub/config"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/event"
	"github.com/vigil-sec/vigil/protocol/frame"
	"github.com/vigil-sec/vigil/protocol/identity"
)

// dialAgent opens a QUIC connection to the hub's ingest listener.
func dialAgent(t *testing.T, addr string, tlsConf *tls.Config) (*quic.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, addr, tlsConf, &quic.Config{HandshakeIdleTimeout: 5 * time.Second, MaxIdleTimeout: 10 * time.Second})
	if err == nil {
		t.Cleanup(func() { _ = conn.CloseWithError(0, "") })
	}
	return conn, err
}

// rawStream drives the agent protocol by hand.
type rawStream struct {
	t  *testing.T
	s  *quic.Stream
	fr *frame.Reader
	fw *frame.Writer
}

func openStream(t *testing.T, conn *quic.Conn) (*rawStream, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawStream{t: t, s: s, fr: frame.NewReader(s, 0), fw: frame.NewWriter(s, 0)}, nil
}

func (r *rawStream) hello(maxV, minV uint32, epoch uint64) (*agentpb.HelloAck, error) {
	if err := r.fw.Write(frame.TypeHello, &agentpb.Hello{
		ProtocolVersion: maxV, MinProtocolVersion: minV, Epoch: epoch, Hostname: "raw-client", AgentVersion: "raw",
	}); err != nil {
		return nil, err
	}
	var ha agentpb.HelloAck
	if err := r.fr.ReadMsg(frame.TypeHelloAck, &ha); err != nil {
		return nil, err
	}
	return &ha, nil
}

func (r *rawStream) mustHello(epoch uint64) *agentpb.HelloAck {
	r.t.Helper()
	ha, err := r.hello(protocol.ProtocolVersion, protocol.MinProtocolVersion, epoch)
	if err != nil {
		r.t.Fatalf("hello: %v", err)
	}
	return ha
}

// batch builds an uncompressed batch of seqs first..last.
func batch(epoch, first, last uint64) *agentpb.Batch {
	var enc event.Encoder
	var payload []byte
	for s := first; s <= last; s++ {
		enc.Begin(time.Date(2024, 1, 1, 0, 0, 0, int(s), time.UTC).UnixNano(), time.Now().UnixNano(), "in", "parser.raw", fmt.Sprintf("epoch %d seq %d", epoch, s))
		payload = event.AppendRecord(payload, enc.Bytes())
	}
	return &agentpb.Batch{Epoch: epoch, FirstSeq: first, LastSeq: last, Compression: agentpb.Compression_COMPRESSION_NONE,
		RawBytes: uint32(len(payload)), Payload: payload, HeadSeq: last}
}

func (r *rawStream) send(b *agentpb.Batch) (*agentpb.Ack, error) {
	if err := r.fw.Write(frame.TypeBatch, b); err != nil {
		return nil, err
	}
	var ack agentpb.Ack
	if err := r.fr.ReadMsg(frame.TypeAck, &ack); err != nil {
		return nil, err
	}
	return &ack, nil
}

func (r *rawStream) mustSend(b *agentpb.Batch, want agentpb.AckStatus, wantAcked uint64) {
	r.t.Helper()
	ack, err := r.send(b)
	if err != nil {
		r.t.Fatalf("batch %d..%d: %v", b.FirstSeq, b.LastSeq, err)
	}
	if ack.Status != want || ack.AckedSeq != wantAcked || ack.FirstSeq != b.FirstSeq || ack.LastSeq != b.LastSeq || ack.Epoch != b.Epoch {
		r.t.Fatalf("batch %d..%d: ack %v, want status %v acked_seq %d", b.FirstSeq, b.LastSeq, ack, want, wantAcked)
	}
}

// peerError asserts err is an Error frame with the given code.
func peerError(t *testing.T, err error, code, msgPart string) {
	t.Helper()
	var pe *frame.PeerError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want an Error frame %s", err, code)
	}
	if pe.Code != code || !strings.Contains(pe.Message, msgPart) {
		t.Fatalf("Error frame %s %q, want %s containing %q", pe.Code, pe.Message, code, msgPart)
	}
}

// assertStreamClosed asserts the hub ended the stream after its Error frame.
func (r *rawStream) assertStreamClosed() {
	r.t.Helper()
	_, _, err := r.fr.Next()
	if !errors.Is(err, io.EOF) {
		var se *quic.StreamError
		if !errors.As(err, &se) {
			r.t.Fatalf("after the Error frame: %v, want the stream closed", err)
		}
	}
}

// seqCounts returns how often each (epoch, seq) of the agent is stored.
func seqCounts(t *testing.T, st *store.Store, agent string) map[string]int {
	t.Helper()
	res, err := st.Events(store.EventQuery{Agent: agent, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range res.Events {
		out[fmt.Sprintf("%d/%d", e.Epoch, e.Seq)]++
		if want := fmt.Sprintf("epoch %d seq %d", e.Epoch, e.Seq); e.Event.Original != want {
			t.Errorf("stored %q under %d/%d", e.Event.Original, e.Epoch, e.Seq)
		}
	}
	return out
}

func assertStored(t *testing.T, st *store.Store, agent string, want ...string) {
	t.Helper()
	got := seqCounts(t, st, agent)
	for _, w := range want {
		if got[w] != 1 {
			t.Errorf("%s stored %d times, want once", w, got[w])
		}
	}
	if len(got) != len(want) {
		t.Errorf("stored %v, want exactly %v", got, want)
	}
}

func TestIngest_HelloAck(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("north")
	conn, err := dialAgent(t, h.IngestAddr(), a.ClientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	ha := rs.mustHello(7)
	// A new agent: the hub holds no epoch for it yet.
	if ha.ProtocolVersion != protocol.ProtocolVersion || ha.Epoch != 0 || ha.AckedSeq != 0 || ha.NodeId != "hub-1" ||
		ha.MaxFrameBytes != frame.DefaultMaxSize || len(ha.Members) != 1 || ha.Members[0] != h.IngestAddr() {
		t.Errorf("hello ack = %v", ha)
	}
	// A peer that speaks versions 1..5 settles on this build's version.
	rs2, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	ha, err = rs2.hello(5, 1, 7)
	if err != nil || ha.ProtocolVersion != protocol.ProtocolVersion {
		t.Errorf("hello 1..5: %v, %v", ha, err)
	}
}

func TestIngest_DuplicateAndOverlappingBatches(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("north")
	conn, err := dialAgent(t, h.IngestAddr(), a.ClientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	rs.mustHello(7)
	rs.mustSend(batch(7, 1, 3), agentpb.AckStatus_ACK_STATUS_OK, 3)
	// The same batch again: nothing new stored.
	rs.mustSend(batch(7, 1, 3), agentpb.AckStatus_ACK_STATUS_DUPLICATE, 3)
	rs.mustSend(batch(7, 2, 3), agentpb.AckStatus_ACK_STATUS_DUPLICATE, 3)
	// Overlapping: only 4 and 5 are new.
	rs.mustSend(batch(7, 2, 5), agentpb.AckStatus_ACK_STATUS_OK, 5)
	assertStored(t, h.Srv.Store(), a.ID.AgentID, "7/1", "7/2", "7/3", "7/4", "7/5")

	rec, err := h.Srv.Store().Agent(a.ID.AgentID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.DuplicateBatches != 2 || rec.Events != 5 || rec.AckedSeq != 5 || rec.Epoch != 7 || rec.Hostname != "raw-client" {
		t.Errorf("agent record = %v", rec)
	}
	if head, ok := h.Srv.HeadSeq(a.ID.AgentID); !ok || head != 5 {
		t.Errorf("head seq = %d, %v; want 5", head, ok)
	}

	// A new stream learns where to resume.
	rs2, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	if ha := rs2.mustHello(7); ha.AckedSeq != 5 {
		t.Errorf("resume hello acked_seq = %d, want 5", ha.AckedSeq)
	}
	// A newer epoch (a recreated agent buffer): the hello answer still
	// reports the hub's epoch 7 and its acked seq; the agent, being ahead,
	// sends from its first record.
	rs3, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	if ha := rs3.mustHello(8); ha.AckedSeq != 5 || ha.Epoch != 7 {
		t.Errorf("new epoch hello = %v, want the hub's epoch 7, acked_seq 5", ha)
	}
	rs3.mustSend(batch(8, 1, 2), agentpb.AckStatus_ACK_STATUS_OK, 2)
	assertStored(t, h.Srv.Store(), a.ID.AgentID, "7/1", "7/2", "7/3", "7/4", "7/5", "8/1", "8/2")

	// The old epoch: the hello tells the agent the hub is ahead (epoch 8),
	// and a batch of the old epoch is refused.
	rs4, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	if ha := rs4.mustHello(7); ha.Epoch != 8 || ha.AckedSeq != 2 {
		t.Errorf("old epoch hello = %v, want epoch 8 acked 2", ha)
	}
	_, err = rs4.send(batch(7, 6, 6))
	peerError(t, err, frame.CodeRejected, "stale epoch 7, agent is at epoch 8")
}

func TestIngest_GapRejectedAndStreamClosed(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("north")
	conn, err := dialAgent(t, h.IngestAddr(), a.ClientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	rs.mustHello(1)
	rs.mustSend(batch(1, 1, 3), agentpb.AckStatus_ACK_STATUS_OK, 3)
	_, err = rs.send(batch(1, 5, 6))
	peerError(t, err, frame.CodeRejected, "gap: batch starts at seq 5, next expected 4")
	rs.assertStreamClosed()
	assertStored(t, h.Srv.Store(), a.ID.AgentID, "1/1", "1/2", "1/3")

	// Only the stream closed: the connection carries a new one.
	rs2, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	if ha := rs2.mustHello(1); ha.AckedSeq != 3 {
		t.Errorf("acked_seq after the refused batch = %d, want 3", ha.AckedSeq)
	}
	rs2.mustSend(batch(1, 4, 6), agentpb.AckStatus_ACK_STATUS_OK, 6)
}

func TestIngest_InvalidBatchesRejected(t *testing.T) {
	h := hubtest.New(t, func(c *config.Config) { c.Limits.MaxBatchRawBytes = 1024 })
	a := h.Enroll("north")
	conn, err := dialAgent(t, h.IngestAddr(), a.ClientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	wrongEpoch := batch(9, 1, 1)
	badRange := batch(1, 0, 0)
	badRange.FirstSeq, badRange.LastSeq = 3, 2
	tooBig := batch(1, 1, 1)
	tooBig.RawBytes = 4096
	badCompression := batch(1, 1, 1)
	badCompression.Compression = 7
	countMismatch := batch(1, 1, 2)
	countMismatch.LastSeq = 3
	corruptZstd := batch(1, 1, 1)
	corruptZstd.Compression = agentpb.Compression_COMPRESSION_ZSTD
	cases := []struct {
		name     string
		b        *agentpb.Batch
		code     string
		contains string
	}{
		{"wrong epoch", wrongEpoch, frame.CodeRejected, "batch epoch 9 differs from hello epoch 1"},
		{"bad range", badRange, frame.CodeRejected, "invalid seq range 3..2"},
		{"too big", tooBig, frame.CodeTooLarge, "batch of 4096 bytes uncompressed, limit 1024"},
		{"unknown compression", badCompression, frame.CodeRejected, "unknown compression 7"},
		{"record count", countMismatch, frame.CodeRejected, "batch holds 2 records for 3 seqs"},
		{"corrupt zstd", corruptZstd, frame.CodeRejected, "decompress"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, err := openStream(t, conn)
			if err != nil {
				t.Fatal(err)
			}
			rs.mustHello(1)
			_, err = rs.send(c.b)
			peerError(t, err, c.code, c.contains)
			rs.assertStreamClosed()
		})
	}
	assertStored(t, h.Srv.Store(), a.ID.AgentID)
}

func TestIngest_OversizedFrameClosesOnlyThatStream(t *testing.T) {
	const maxFrame = 64 << 10
	h := hubtest.New(t, func(c *config.Config) { c.Limits.MaxFrameBytes = maxFrame })
	a := h.Enroll("north")
	conn, err := dialAgent(t, h.IngestAddr(), a.ClientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	other, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	if ha := other.mustHello(1); ha.MaxFrameBytes != maxFrame {
		t.Errorf("hello ack max_frame_bytes = %d, want %d", ha.MaxFrameBytes, maxFrame)
	}

	big, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	big.mustHello(1)
	// A frame header announcing more than the limit; the hub must refuse it
	// from the header alone.
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], maxFrame+1)
	hdr[4] = byte(frame.TypeBatch)
	if _, err := big.s.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	err = big.fr.ReadMsg(frame.TypeAck, &agentpb.Ack{})
	peerError(t, err, frame.CodeTooLarge, fmt.Sprintf("frame too large: %d bytes, limit %d", maxFrame+1, maxFrame))
	big.assertStreamClosed()

	// The stream opened before and a new one both still work.
	other.mustSend(batch(1, 1, 2), agentpb.AckStatus_ACK_STATUS_OK, 2)
	again, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	again.mustHello(1)
	again.mustSend(batch(1, 3, 3), agentpb.AckStatus_ACK_STATUS_OK, 3)
}

func TestIngest_VersionMismatch(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("north")
	conn, err := dialAgent(t, h.IngestAddr(), a.ClientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range [][2]uint32{{99, 99}, {0, 0}} {
		rs, err := openStream(t, conn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rs.hello(v[0], v[1], 1)
		peerError(t, err, frame.CodeVersion, fmt.Sprintf("agent speaks protocol %d..%d, hub 1..1", v[1], v[0]))
		rs.assertStreamClosed()
	}
}

func TestIngest_FirstFrameMustBeHello(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("north")
	conn, err := dialAgent(t, h.IngestAddr(), a.ClientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := openStream(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rs.send(batch(1, 1, 1))
	peerError(t, err, frame.CodeMalformed, "expected hello")
	assertStored(t, h.Srv.Store(), a.ID.AgentID)
}

// refused asserts that a client cannot complete a hello: the handshake
// fails, or the connection or stream is closed before a HelloAck.
func refused(t *testing.T, h *hubtest.Hub, tlsConf *tls.Config) error {
	t.Helper()
	conn, err := dialAgent(t, h.IngestAddr(), tlsConf)
	if err != nil {
		return err
	}
	rs, err := openStream(t, conn)
	if err != nil {
		return err
	}
	ha, err := rs.hello(1, 1, 1)
	if err == nil {
		t.Fatalf("refused client got a hello ack: %v", ha)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("hello timed out (%v); want an explicit refusal", err)
	}
	return err
}

func TestIngest_NoClientCertificateRefused(t *testing.T) {
	h := hubtest.New(t, nil)
	tlsConf, err := identity.ClientTLS(h.CA.CertPEM(), nil, nil, []string{protocol.ALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	err = refused(t, h, tlsConf)
	var te *quic.TransportError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error = %v, want a TLS certificate alert", err)
	}
}

func TestIngest_ForeignCACertificateRefusedAtHandshake(t *testing.T) {
	h := hubtest.New(t, nil)
	foreign, err := pki.CreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, csrPEM, err := identity.NewAgentKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := foreign.SignAgentCSR(csrPEM, "agt-foreign", "north", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The client trusts the real hub; only its own certificate is foreign.
	tlsConf, err := identity.ClientTLS(h.CA.CertPEM(), certPEM, keyPEM, []string{protocol.ALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	err = refused(t, h, tlsConf)
	var te *quic.TransportError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error = %v, want a TLS certificate alert", err)
	}
}

func TestIngest_HubNodeCertificateRefusedAsAgent(t *testing.T) {
	h := hubtest.New(t, nil)
	certPEM, err := os.ReadFile(h.Cfg.NodeCertFile())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(h.Cfg.NodeKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := identity.ClientTLS(h.CA.CertPEM(), certPEM, keyPEM, []string{protocol.ALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	err = refused(t, h, tlsConf)
	var ae *quic.ApplicationError
	if !errors.As(err, &ae) || !ae.Remote || ae.ErrorCode != 1 || ae.ErrorMessage != "not an agent certificate" {
		t.Errorf("error = %v, want the hub to close with application error 1 \"not an agent certificate\"", err)
	}
}

func TestIngest_UnregisteredAgentRefused(t *testing.T) {
	h := hubtest.New(t, nil)
	// Signed by the cluster CA, but never enrolled: no agent record.
	ca, err := pki.LoadCA(h.Cfg.TLSDir())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, csrPEM, err := identity.NewAgentKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignAgentCSR(csrPEM, "agt-ghost", "north", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := identity.ClientTLS(h.CA.CertPEM(), certPEM, keyPEM, []string{protocol.ALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	err = refused(t, h, tlsConf)
	peerError(t, err, frame.CodeUnauthorized, "agent agt-ghost is not registered with this cluster")
}

func TestIngest_CertificateBranchMustMatchRegistration(t *testing.T) {
	h := hubtest.New(t, nil)
	a := h.Enroll("north")
	ca, err := pki.LoadCA(h.Cfg.TLSDir())
	if err != nil {
		t.Fatal(err)
	}
	// Same agent id, another branch: a certificate the CA would never issue
	// through enrollment.
	keyPEM, csrPEM, err := identity.NewAgentKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignAgentCSR(csrPEM, a.ID.AgentID, "south", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := identity.ClientTLS(h.CA.CertPEM(), certPEM, keyPEM, []string{protocol.ALPN}, "")
	if err != nil {
		t.Fatal(err)
	}
	err = refused(t, h, tlsConf)
	peerError(t, err, frame.CodeUnauthorized, "certificate branch does not match the registered branch")
}
