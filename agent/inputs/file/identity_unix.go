//go:build unix

package file

import (
	"fmt"
	"os"
	"syscall"
)

// identityOf returns the (device, inode) pair of a stat result.
func identityOf(fi os.FileInfo) (fileKey, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, fmt.Errorf("no device and inode for %s", fi.Name())
	}
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil //nolint:unconvert // Dev is 32 bits on some platforms
}
