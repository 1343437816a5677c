//go:build !unix

package file

import (
	"errors"
	"os"
)

// identityOf is not available without device and inode numbers.
func identityOf(os.FileInfo) (fileKey, error) {
	return fileKey{}, errors.New("the file input needs device and inode numbers (unix)")
}
