// Package frame owns the length-prefixed framing used on Vigil's QUIC streams.
//
// A frame is a 4-byte big-endian length n, then n bytes: one type byte and a
// protobuf payload of n-1 bytes. The length never exceeds the reader's
// maximum; a frame that would is refused before any of its payload is read,
// so no peer can make the other allocate more than the maximum. The package
// never interprets payloads beyond their type byte.
package frame

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
)

// Type identifies the protobuf message a frame carries.
type Type uint8

// Frame types. The list is append-only; a number is never reused.
const (
	TypeHello          Type = 1 // agentpb.Hello
	TypeHelloAck       Type = 2 // agentpb.HelloAck
	TypeBatch          Type = 3 // agentpb.Batch
	TypeAck            Type = 4 // agentpb.Ack
	TypeError          Type = 5 // agentpb.Error
	TypeEnrollRequest  Type = 6 // agentpb.EnrollRequest
	TypeEnrollResponse Type = 7 // agentpb.EnrollResponse
	maxType                 = TypeEnrollResponse
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeHelloAck:
		return "hello_ack"
	case TypeBatch:
		return "batch"
	case TypeAck:
		return "ack"
	case TypeError:
		return "error"
	case TypeEnrollRequest:
		return "enroll_request"
	case TypeEnrollResponse:
		return "enroll_response"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// DefaultMaxSize is the largest frame accepted unless configured otherwise.
const DefaultMaxSize = 4 << 20

// headerSize is the length prefix plus the type byte.
const headerSize = 5

var (
	// ErrTooLarge is returned for a frame longer than the reader's maximum.
	ErrTooLarge = errors.New("frame too large")
	// ErrMalformed is returned for a frame with no type byte or an unknown type.
	ErrMalformed = errors.New("malformed frame")
)

// Reader reads frames from a stream. It reuses one buffer, so a payload is
// valid only until the next call to Next.
type Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewReader returns a Reader that refuses frames larger than max bytes
// (DefaultMaxSize when max <= 0).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxSize
	}
	return &Reader{r: bufio.NewReaderSize(r, 32<<10), max: max}
}

// Next reads one frame. io.EOF means the stream ended cleanly between frames;
// io.ErrUnexpectedEOF means it ended inside one.
func (fr *Reader) Next() (Type, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("read frame header: %w", err)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return 0, nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	if uint64(n) > uint64(fr.max) {
		return 0, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, fr.max)
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	b := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, fmt.Errorf("read frame body: %w", err)
	}
	t := Type(b[0])
	if t == 0 || t > maxType {
		return 0, nil, fmt.Errorf("%w: unknown type %d", ErrMalformed, b[0])
	}
	return t, b[1:], nil
}

// ReadMsg reads one frame, requires it to be of type want (or an Error frame,
// returned as *PeerError) and decodes it into m.
func (fr *Reader) ReadMsg(want Type, m proto.Message) error {
	t, payload, err := fr.Next()
	if err != nil {
		return err
	}
	return Decode(t, payload, want, m)
}

// Decode checks a frame's type and unmarshals its payload into m. An Error
// frame is returned as *PeerError.
func Decode(t Type, payload []byte, want Type, m proto.Message) error {
	if t == TypeError && want != TypeError {
		pe := &PeerError{}
		if err := decodeError(payload, pe); err != nil {
			return err
		}
		return pe
	}
	if t != want {
		return fmt.Errorf("%w: got %s frame, want %s", ErrMalformed, t, want)
	}
	if err := proto.Unmarshal(payload, m); err != nil {
		return fmt.Errorf("%w: decode %s: %v", ErrMalformed, t, err)
	}
	return nil
}

// Append appends one frame holding m to dst.
func Append(dst []byte, t Type, m proto.Message) ([]byte, error) {
	size := proto.Size(m)
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(t))
	dst, err := proto.MarshalOptions{}.MarshalAppend(dst, m)
	if err != nil {
		return dst[:start], fmt.Errorf("encode %s: %w", t, err)
	}
	if len(dst)-start-headerSize != size {
		return dst[:start], fmt.Errorf("encode %s: size changed during marshal", t)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(size+1))
	return dst, nil
}

// Writer writes frames to a stream, refusing any larger than its maximum.
type Writer struct {
	w   io.Writer
	max int
	buf []byte
}

// NewWriter returns a Writer; max <= 0 means DefaultMaxSize.
func NewWriter(w io.Writer, max int) *Writer {
	if max <= 0 {
		max = DefaultMaxSize
	}
	return &Writer{w: w, max: max}
}

// Write encodes m as one frame and writes it in a single call.
func (fw *Writer) Write(t Type, m proto.Message) error {
	b, err := Append(fw.buf[:0], t, m)
	if err != nil {
		return err
	}
	fw.buf = b
	if len(b)-4 > fw.max {
		return fmt.Errorf("write %s: %w: %d bytes, limit %d", t, ErrTooLarge, len(b)-4, fw.max)
	}
	if _, err := fw.w.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", t, err)
	}
	if cap(fw.buf) > 1<<20 {
		fw.buf = nil // do not pin a large buffer between batches
	}
	return nil
}
