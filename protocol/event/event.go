// Package event owns the wire form of one normalized event (agentpb.Event)
// and of a batch payload: a sequence of uvarint-length-prefixed Event
// messages. It gives the fast paths the hot loops need (encoding from a
// reused scratch buffer, reading only the timestamp) and never allocates per
// field on those paths.
package event

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of agentpb.Event and agentpb.Field. They must match
// protocol/proto/agent.proto; TestEncode_MatchesProto keeps them honest.
const (
	fTimestamp = 1
	fCreated   = 2
	fInput     = 3
	fOriginal  = 4
	fFields    = 5
	fTags      = 6
	fParser    = 7
	fOrigBytes = 8

	ffKey   = 1
	ffStr   = 2
	ffInt   = 3
	ffFloat = 4
	ffBool  = 5
)

// Kind says which value a Field carries; it mirrors sdk.Kind.
type Kind uint8

const (
	KindString Kind = iota
	KindInt
	KindFloat
	KindBool
)

// Encoder builds the wire form of events one at a time. The zero value is
// ready to use; it is not safe for concurrent use.
type Encoder struct {
	buf []byte
}

// Begin starts a new event.
func (e *Encoder) Begin(timestampNano, createdNano int64, input, parser, original string) {
	b := e.buf[:0]
	b = protowire.AppendTag(b, fTimestamp, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(timestampNano))
	b = protowire.AppendTag(b, fCreated, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(createdNano))
	b = appendString(b, fInput, input)
	b = appendString(b, fOriginal, original)
	b = appendString(b, fParser, parser)
	e.buf = b
}

// OriginalBytes records a raw record that is not valid UTF-8; Begin must
// then have been given an empty original.
func (e *Encoder) OriginalBytes(b []byte) {
	e.buf = protowire.AppendTag(e.buf, fOrigBytes, protowire.BytesType)
	e.buf = protowire.AppendBytes(e.buf, b)
}

// String adds a string field.
func (e *Encoder) String(key, v string) {
	n := sizeString(ffKey, key) + sizeString(ffStr, v)
	e.buf = protowire.AppendTag(e.buf, fFields, protowire.BytesType)
	e.buf = protowire.AppendVarint(e.buf, uint64(n))
	e.buf = appendString(e.buf, ffKey, key)
	// The oneof member is written even when empty so the value's kind survives.
	e.buf = protowire.AppendTag(e.buf, ffStr, protowire.BytesType)
	e.buf = protowire.AppendString(e.buf, v)
}

// Int adds an integer field.
func (e *Encoder) Int(key string, v int64) {
	z := protowire.EncodeZigZag(v)
	n := sizeString(ffKey, key) + 1 + protowire.SizeVarint(z)
	e.buf = protowire.AppendTag(e.buf, fFields, protowire.BytesType)
	e.buf = protowire.AppendVarint(e.buf, uint64(n))
	e.buf = appendString(e.buf, ffKey, key)
	e.buf = protowire.AppendTag(e.buf, ffInt, protowire.VarintType)
	e.buf = protowire.AppendVarint(e.buf, z)
}

// Float adds a floating-point field.
func (e *Encoder) Float(key string, v float64) {
	n := sizeString(ffKey, key) + 1 + 8
	e.buf = protowire.AppendTag(e.buf, fFields, protowire.BytesType)
	e.buf = protowire.AppendVarint(e.buf, uint64(n))
	e.buf = appendString(e.buf, ffKey, key)
	e.buf = protowire.AppendTag(e.buf, ffFloat, protowire.Fixed64Type)
	e.buf = protowire.AppendFixed64(e.buf, math.Float64bits(v))
}

// Bool adds a boolean field.
func (e *Encoder) Bool(key string, v bool) {
	n := sizeString(ffKey, key) + 2
	e.buf = protowire.AppendTag(e.buf, fFields, protowire.BytesType)
	e.buf = protowire.AppendVarint(e.buf, uint64(n))
	e.buf = appendString(e.buf, ffKey, key)
	e.buf = protowire.AppendTag(e.buf, ffBool, protowire.VarintType)
	e.buf = protowire.AppendVarint(e.buf, protowire.EncodeBool(v))
}

// Tag adds a tag.
func (e *Encoder) Tag(tag string) {
	e.buf = protowire.AppendTag(e.buf, fTags, protowire.BytesType)
	e.buf = protowire.AppendString(e.buf, tag)
}

// Bytes returns the encoded event; valid until the next Begin.
func (e *Encoder) Bytes() []byte { return e.buf }

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func sizeString(num protowire.Number, s string) int {
	if s == "" && num != ffStr {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

// ErrCorrupt reports an event or payload that does not decode.
var ErrCorrupt = errors.New("corrupt event payload")

// Timestamp reads only the @timestamp of an encoded event.
func Timestamp(b []byte) (int64, error) { return fixedField(b, fTimestamp) }

// Created reads only the event.created time of an encoded event.
func Created(b []byte) (int64, error) { return fixedField(b, fCreated) }

func fixedField(b []byte, want protowire.Number) (int64, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("%w: bad tag", ErrCorrupt)
		}
		b = b[n:]
		if num == want && typ == protowire.Fixed64Type {
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return 0, fmt.Errorf("%w: bad field %d", ErrCorrupt, want)
			}
			return int64(v), nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, fmt.Errorf("%w: bad field %d", ErrCorrupt, num)
		}
		b = b[n:]
	}
	return 0, nil
}

// AppendRecord appends one length-prefixed record to a batch payload.
func AppendRecord(payload, rec []byte) []byte {
	payload = protowire.AppendVarint(payload, uint64(len(rec)))
	return append(payload, rec...)
}

// SplitRecords calls fn for each record of a batch payload, in order. The
// slice passed to fn aliases payload.
func SplitRecords(payload []byte, fn func(i int, rec []byte) error) error {
	for i := 0; len(payload) > 0; i++ {
		l, n := protowire.ConsumeVarint(payload)
		if n < 0 || l > uint64(len(payload)-n) {
			return fmt.Errorf("%w: record %d: bad length", ErrCorrupt, i)
		}
		rec := payload[n : n+int(l)]
		payload = payload[n+int(l):]
		if err := fn(i, rec); err != nil {
			return err
		}
	}
	return nil
}
