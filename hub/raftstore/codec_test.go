package raftstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func sampleLog() *raft.Log {
	return &raft.Log{
		Index:      123456,
		Term:       7,
		Type:       raft.LogConfiguration,
		Data:       []byte("payload"),
		Extensions: []byte("ext"),
		AppendedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

func TestCodec_Layout(t *testing.T) {
	l := &raft.Log{Index: 300, Term: 2, Type: raft.LogNoop, Data: []byte("ab"),
		AppendedAt: time.Unix(1, 5)}
	got := appendLog(nil, l)
	want := []byte{
		1,          // version
		0xac, 0x02, // Index 300
		2,           // Term
		1,           // Type LogNoop
		2, 'a', 'b', // Data
		0, // Extensions
		1, // AppendedAt present
		2, // zigzag varint 1 second
		5, // nanoseconds
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding = %x, want %x", got, want)
	}
	if n := len(appendLog(nil, &raft.Log{Index: 1, Term: 1})); n != 7 {
		t.Fatalf("minimal record is %d bytes, want 7", n)
	}
}

func TestCodec_RejectsCorruption(t *testing.T) {
	good := appendLog(nil, sampleLog())
	var l raft.Log
	if err := decodeLog(good, &l); err != nil {
		t.Fatalf("decode good record: %v", err)
	}

	// Every strict prefix is truncated.
	for n := 0; n < len(good); n++ {
		if err := decodeLog(good[:n], &l); !errors.Is(err, errCorrupt) {
			t.Fatalf("decode of %d/%d bytes: %v, want errCorrupt", n, len(good), err)
		}
	}

	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	cases := map[string][]byte{
		"unknown version":  mutate(func(b []byte) []byte { b[0] = 2; return b }),
		"trailing byte":    mutate(func(b []byte) []byte { return append(b, 0) }),
		"bad time flag":    {1, 1, 1, 0, 0, 0, 7},
		"huge data length": {1, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"overlong varint":  {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		"nanos too large":  {1, 1, 1, 0, 0, 0, 1, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03},
	}
	for name, b := range cases {
		if err := decodeLog(b, &l); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: decode(%x) = %v, want errCorrupt", name, b, err)
		}
	}
}

func TestCodec_ParseLogKey(t *testing.T) {
	if idx, err := parseLogKey(logKey(0xdeadbeef)); err != nil || idx != 0xdeadbeef {
		t.Fatalf("parseLogKey = %d, %v", idx, err)
	}
	for _, k := range [][]byte{nil, {prefixLog}, append(logKey(1), 0), stableKey([]byte("12345678"))} {
		if _, err := parseLogKey(k); err == nil {
			t.Errorf("parseLogKey(%x) succeeded", k)
		}
	}
}

// FuzzDecodeLog checks that arbitrary bytes never panic the decoder and
// that whatever decodes re-encodes to something that decodes the same.
func FuzzDecodeLog(f *testing.F) {
	f.Add(appendLog(nil, sampleLog()))
	f.Add(appendLog(nil, &raft.Log{Index: 1}))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeLog(b, &l); err != nil {
			return
		}
		var again raft.Log
		if err := decodeLog(appendLog(nil, &l), &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		assertLogEqual(t, &l, &again)
	})
}
