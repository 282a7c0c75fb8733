//go:build linux

// Package procidtest helps tests of code that verifies processes make the
// checks fail the way a loaded machine does.
package procidtest

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// WithoutFreeFDs runs fn while this process cannot open another file
// descriptor (every open, pidfd_open included, fails with EMFILE): it lowers
// RLIMIT_NOFILE's soft limit to a little above what is open now, fills the
// rest with /dev/null, runs fn, and undoes both. The whole process is affected:
// a test using it must not run in parallel with others.
func WithoutFreeFDs(t testing.TB, fn func()) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("procidtest: getrlimit: %v", err)
	}
	low := lim
	low.Cur = min(lim.Cur, 4096)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatalf("procidtest: setrlimit: %v", err)
	}
	defer func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Errorf("procidtest: restore the file limit: %v", err)
		}
	}()
	var fds []int
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EMFILE) {
			break
		}
		if err != nil {
			t.Fatalf("procidtest: open /dev/null: %v", err)
		}
		fds = append(fds, fd)
	}
	fn()
}

// WithZeroFileLimit runs fn with RLIMIT_NOFILE's soft limit at 0: no file opens
// (EMFILE) and poll(2) on any descriptor fails (EINVAL: more descriptors than
// the limit), as a failing pidfd poll does. The whole process is affected: a
// test using it must not run in parallel with others.
func WithZeroFileLimit(t testing.TB, fn func()) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("procidtest: getrlimit: %v", err)
	}
	zero := lim
	zero.Cur = 0
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &zero); err != nil {
		t.Fatalf("procidtest: setrlimit: %v", err)
	}
	defer func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Errorf("procidtest: restore the file limit: %v", err)
		}
	}()
	fn()
}
