package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/raft"
)

const (
	prefixLog    byte = 'l'
	prefixStable byte = 's'

	logKeyLen = 1 + 8

	// logFormatV1 is the version byte that starts every encoded log record.
	logFormatV1 byte = 1
)

// errCorrupt marks a record that cannot be decoded.
var errCorrupt = errors.New("corrupt log record")

// Bounds of the log keyspace: [logLower, logUpper).
var (
	logLower = []byte{prefixLog}
	logUpper = []byte{prefixLog + 1}
)

func logKey(index uint64) []byte {
	k := make([]byte, logKeyLen)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// parseLogKey returns the index of a key from the log keyspace.
func parseLogKey(k []byte) (uint64, error) {
	if len(k) != logKeyLen || k[0] != prefixLog {
		return 0, fmt.Errorf("%w: malformed log key %x", errCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

func stableKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = prefixStable
	copy(k[1:], key)
	return k
}

// appendLog appends the encoding of l (see the package doc) to dst.
func appendLog(dst []byte, l *raft.Log) []byte {
	dst = append(dst, logFormatV1)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	if l.AppendedAt.IsZero() {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendVarint(dst, l.AppendedAt.Unix())
	return binary.AppendUvarint(dst, uint64(l.AppendedAt.Nanosecond()))
}

// decodeLog decodes buf into l, overwriting every field. Data and Extensions
// are copied, so buf may be reused afterwards.
func decodeLog(buf []byte, l *raft.Log) error {
	d := decoder{buf: buf}
	if v := d.byte(); d.err == nil && v != logFormatV1 {
		return fmt.Errorf("%w: unsupported format version %d", errCorrupt, v)
	}
	index := d.uvarint()
	term := d.uvarint()
	typ := raft.LogType(d.byte())
	data := d.bytes()
	ext := d.bytes()
	var at time.Time
	switch d.byte() {
	case 0:
	case 1:
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= uint64(time.Second) {
			d.fail("nanoseconds out of range")
		}
		at = time.Unix(sec, int64(nsec)).UTC()
	default:
		d.fail("bad AppendedAt flag")
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return d.err
	}

	// One allocation for both byte fields; the capacity limits keep an
	// append to Data from overwriting Extensions.
	var payload []byte
	if n := len(data) + len(ext); n > 0 {
		payload = make([]byte, n)
		copy(payload, data)
		copy(payload[len(data):], ext)
	}
	*l = raft.Log{Index: index, Term: term, Type: typ, AppendedAt: at}
	if len(data) > 0 {
		l.Data = payload[:len(data):len(data)]
	}
	if len(ext) > 0 {
		l.Extensions = payload[len(data):]
	}
	return nil
}

// decoder reads fields from buf, remembering the first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.fail("truncated")
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// bytes reads a length-prefixed field. The result aliases buf.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) || n > math.MaxInt {
		d.fail("length past end of record")
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}
