package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
)

const (
	checkpointVersion = 1
	checkpointHeader  = 1 + 8 + 8 + 2 + 8 + 2
	// fingerprintMax is how many leading bytes of a file its fingerprint covers.
	fingerprintMax = 256
	maxPathLen     = math.MaxUint16
)

// checkpoint is the decoded value of one file checkpoint.
type checkpoint struct {
	Offset int64  // end of the last appended line
	Size   int64  // file size when written
	FPLen  int    // bytes covered by FPHash
	FPHash uint64 // FNV-1a 64 of the first FPLen bytes
	Path   string // path the file had; informational
}

var errBadCheckpoint = errors.New("invalid file checkpoint")

// encode appends the checkpoint's wire form to dst.
func (c checkpoint) encode(dst []byte) []byte {
	path := c.Path
	if len(path) > maxPathLen {
		path = path[:maxPathLen]
	}
	dst = append(dst, checkpointVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Offset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Size))
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.FPLen))
	dst = binary.BigEndian.AppendUint64(dst, c.FPHash)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(path)))
	return append(dst, path...)
}

// decodeCheckpoint parses a checkpoint value. It never panics.
func decodeCheckpoint(b []byte) (checkpoint, error) {
	var c checkpoint
	if len(b) < checkpointHeader {
		return c, fmt.Errorf("%w: %d bytes, need at least %d", errBadCheckpoint, len(b), checkpointHeader)
	}
	if b[0] != checkpointVersion {
		return c, fmt.Errorf("%w: version %d", errBadCheckpoint, b[0])
	}
	off := binary.BigEndian.Uint64(b[1:])
	size := binary.BigEndian.Uint64(b[9:])
	fpLen := binary.BigEndian.Uint16(b[17:])
	c.FPHash = binary.BigEndian.Uint64(b[19:])
	pathLen := int(binary.BigEndian.Uint16(b[27:]))
	switch {
	case off > math.MaxInt64 || size > math.MaxInt64:
		return c, fmt.Errorf("%w: offset %d or size %d out of range", errBadCheckpoint, off, size)
	case off > size:
		return c, fmt.Errorf("%w: offset %d beyond size %d", errBadCheckpoint, off, size)
	case fpLen > fingerprintMax:
		return c, fmt.Errorf("%w: fingerprint over %d bytes", errBadCheckpoint, fpLen)
	case len(b) != checkpointHeader+pathLen:
		return c, fmt.Errorf("%w: %d bytes, path length says %d", errBadCheckpoint, len(b), checkpointHeader+pathLen)
	}
	c.Offset, c.Size, c.FPLen = int64(off), int64(size), int(fpLen)
	c.Path = string(b[checkpointHeader:])
	return c, nil
}

// fingerprint hashes b with FNV-1a 64.
func fingerprint(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b) // hash writes cannot fail
	return h.Sum64()
}

// readPrefix reads up to len(buf) bytes from the start of r without moving
// any read offset; fewer at the end of the file.
func readPrefix(r io.ReaderAt, buf []byte) ([]byte, error) {
	n, err := r.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}
