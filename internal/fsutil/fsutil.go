// Package fsutil holds small file-system helpers shared by the packages that keep
// local state files (pid files, connection info, configuration they generate).
// Private directories are internal/privdir's.
package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic publishes b at path with permission perm: it writes a temporary
// file in the same directory, syncs it, renames it over path and syncs the
// directory. A reader sees the old content or the new, never part of either; on
// error path is left as it was and no temporary file remains.
func WriteFileAtomic(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	return nil
}
