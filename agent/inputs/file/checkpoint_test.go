package file

import (
	"bytes"
	"strings"
	"testing"
)

func TestCheckpoint_RoundTrip(t *testing.T) {
	for _, c := range []checkpoint{
		{},
		{Offset: 12, Size: 40, FPLen: 40, FPHash: 0xdeadbeef, Path: "/var/log/app.log"},
		{Offset: 1 << 40, Size: 1 << 41, FPLen: fingerprintMax, FPHash: ^uint64(0), Path: strings.Repeat("p", 300)},
	} {
		b := c.encode(nil)
		if len(b) != checkpointHeader+len(c.Path) {
			t.Fatalf("encoded %d bytes, want %d", len(b), checkpointHeader+len(c.Path))
		}
		got, err := decodeCheckpoint(b)
		if err != nil || got != c {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", c, got, err)
		}
	}
	long := checkpoint{Path: strings.Repeat("x", maxPathLen+10)}
	if got, err := decodeCheckpoint(long.encode(nil)); err != nil || len(got.Path) != maxPathLen {
		t.Fatalf("over-long path: %d bytes, %v", len(got.Path), err)
	}
}

func TestCheckpoint_DecodeRejects(t *testing.T) {
	good := checkpoint{Offset: 5, Size: 10, FPLen: 10, Path: "/a"}.encode(nil)
	cases := map[string][]byte{
		"empty":       nil,
		"short":       good[:checkpointHeader-1],
		"version":     append([]byte{2}, good[1:]...),
		"trailing":    append(bytes.Clone(good), 'x'),
		"cut path":    good[:len(good)-1],
		"offset>size": checkpoint{Offset: 11, Size: 10}.encode(nil),
		"fp too long": checkpoint{FPLen: fingerprintMax + 1}.encode(nil),
		"negative":    checkpoint{Offset: -1, Size: -1}.encode(nil),
	}
	for name, b := range cases {
		if c, err := decodeCheckpoint(b); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, c)
		}
	}
}

func FuzzCheckpointDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(checkpoint{}.encode(nil))
	f.Add(checkpoint{Offset: 12, Size: 40, FPLen: 40, FPHash: 99, Path: "/var/log/syslog"}.encode(nil))
	f.Add(checkpoint{Offset: 11, Size: 10}.encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCheckpoint(b)
		if err != nil {
			return
		}
		if c.Offset < 0 || c.Offset > c.Size || c.FPLen < 0 || c.FPLen > fingerprintMax {
			t.Fatalf("accepted an impossible checkpoint %+v", c)
		}
		// The format is fixed-width, so a valid value re-encodes to itself.
		if again := c.encode(nil); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, decoded from %x", again, b)
		}
	})
}
