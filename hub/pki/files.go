package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// WriteSecretFile writes data to path with mode 0600, atomically: see
// [WriteFile]. Use it for every private key.
func WriteSecretFile(path string, data []byte) error {
	return WriteFile(path, data, 0o600)
}

// WriteFile writes data to path with the given permission bits, atomically:
// the data goes to a temporary file in the same directory, created with mode
// 0600, which is given its final mode, synced, and renamed over path; the
// directory is then synced. Readers see either the old content or the new,
// and the file never exists with a wider mode than requested. An existing
// path is replaced (a symbolic link is replaced, not followed).
func WriteFile(path string, data []byte, mode fs.FileMode) error {
	return writeAtomic(path, data, mode, false)
}

// writeAtomic implements WriteFile. With noClobber it fails with an error
// wrapping fs.ErrExist instead of replacing an existing path: the temporary
// file is hard-linked into place, which the kernel refuses atomically if the
// name exists.
func writeAtomic(path string, data []byte, mode fs.FileMode, noClobber bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if !closed {
			_ = f.Close()
		}
		// After a successful rename tmp no longer exists; after a link it
		// must go in every case.
		if err != nil || noClobber {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode.Perm()); err != nil {
		return fmt.Errorf("write %s: set mode: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	closed = true
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w", path, err)
	}
	if noClobber {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("write %s: refusing to overwrite: %w", path, fs.ErrExist)
			}
			// Hard links unsupported here: check then rename (not atomic
			// against a concurrent writer, but still never clobbers a file
			// that existed before the check).
			if _, serr := os.Lstat(path); serr == nil {
				return fmt.Errorf("write %s: refusing to overwrite: %w", path, fs.ErrExist)
			}
			if err := os.Rename(tmp, path); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
		}
	} else if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	return nil
}

// syncDir makes a rename or link in dir durable. Windows cannot open
// directories for syncing; there it is a no-op.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
