package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/vigil-sec/vigil/protocol/agentpb"
	"google.golang.org/protobuf/proto"
)

func TestFrame_RoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 0)
	in := &agentpb.Batch{Epoch: 7, FirstSeq: 1, LastSeq: 100, Payload: bytes.Repeat([]byte("x"), 5000)}
	if err := w.Write(TypeBatch, in); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(TypeHello, &agentpb.Hello{ProtocolVersion: 1, Hostname: "h"}); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf, 0)
	var got agentpb.Batch
	if err := r.ReadMsg(TypeBatch, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, &got) {
		t.Fatalf("batch mismatch: %v", &got)
	}
	var h agentpb.Hello
	if err := r.ReadMsg(TypeHello, &h); err != nil || h.Hostname != "h" {
		t.Fatalf("hello: %v %v", err, &h)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("want io.EOF at end, got %v", err)
	}
}

func TestFrame_TooLargeRefusedBeforeRead(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 1<<30)
	r := NewReader(io.MultiReader(bytes.NewReader(hdr[:]), errReader{}), 1024)
	_, _, err := r.Next()
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, 100)
	if err := w.Write(TypeBatch, &agentpb.Batch{Payload: make([]byte, 200)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("writer: want ErrTooLarge, got %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("oversized frame was written")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { panic("payload of an oversized frame was read") }

func TestFrame_Malformed(t *testing.T) {
	cases := map[string][]byte{
		"empty":        {0, 0, 0, 0},
		"unknown type": {0, 0, 0, 1, 99},
		"zero type":    {0, 0, 0, 1, 0},
	}
	for name, b := range cases {
		_, _, err := NewReader(bytes.NewReader(b), 0).Next()
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: want ErrMalformed, got %v", name, err)
		}
	}
	_, _, err := NewReader(bytes.NewReader([]byte{0, 0, 0, 9, 3, 1}), 0).Next()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated: want ErrUnexpectedEOF, got %v", err)
	}
	// Wrong type and bad protobuf.
	err = Decode(TypeAck, []byte{1}, TypeBatch, &agentpb.Batch{})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong type: %v", err)
	}
	err = Decode(TypeBatch, []byte{0xff, 0xff}, TypeBatch, &agentpb.Batch{})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad proto: %v", err)
	}
}

func TestFrame_PeerError(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 0)
	if err := w.WriteError(CodeTokenExpired, "token expired"); err != nil {
		t.Fatal(err)
	}
	err := NewReader(&buf, 0).ReadMsg(TypeHelloAck, &agentpb.HelloAck{})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Code != CodeTokenExpired || pe.Message != "token expired" {
		t.Fatalf("want PeerError, got %v", err)
	}
}

// FuzzReader feeds arbitrary bytes to the frame decoder: it must never panic,
// never return a payload longer than the limit, and every frame it accepts
// must re-encode to the same bytes.
func FuzzReader(f *testing.F) {
	var seed bytes.Buffer
	w := NewWriter(&seed, 0)
	_ = w.Write(TypeHello, &agentpb.Hello{ProtocolVersion: 1, Epoch: 3, Hostname: "web-1"})
	_ = w.Write(TypeBatch, &agentpb.Batch{Epoch: 3, FirstSeq: 1, LastSeq: 2, Payload: []byte("abc")})
	f.Add(seed.Bytes())
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{0, 0, 0, 2, 4, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 16
		r := NewReader(bytes.NewReader(data), limit)
		for {
			typ, payload, err := r.Next()
			if err != nil {
				return
			}
			if len(payload)+1 > limit {
				t.Fatalf("payload of %d bytes over limit", len(payload))
			}
			var m agentpb.Batch
			_ = Decode(typ, payload, TypeBatch, &m)
		}
	})
}
