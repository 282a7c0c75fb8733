//go:build unix

package fsutil

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrNotOurs: a directory that must be private belongs to another user.
var ErrNotOurs = errors.New("fsutil: directory owned by another user")

// PrivateDir makes dir (and missing parents) exist as a directory only its owner
// can enter, owned by this process's effective user. An existing directory that
// is ours but open to group or others is made 0700 (made reports it: the caller
// says so); one owned by another user is refused (ErrNotOurs), because this
// process cannot make it private and its owner can read or replace what is put
// there. dir itself may be a symlink to such a directory.
func PrivateDir(dir string) (made bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("fsutil: create private directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return false, fmt.Errorf("fsutil: private directory: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("fsutil: private directory %s: not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return false, fmt.Errorf("%w: %s belongs to uid %d, not to uid %d running this: choose another directory, or chown it and chmod 700",
			ErrNotOurs, dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return false, nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return false, fmt.Errorf("fsutil: make %s private (mode 700, was %o): %w", dir, fi.Mode().Perm(), err)
	}
	return true, nil
}
