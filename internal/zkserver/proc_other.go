//go:build !linux

package zkserver

import (
	"errors"
	"fmt"
	"syscall"
)

// processGone reports whether pid no longer runs. Without /proc a zombie cannot
// be told from a live process: it counts as running until its parent reaps it.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// cmdline cannot read another process's command line without /proc, so inspect
// cannot verify that a live pid is our server: it treats it as foreign, and Stop
// refuses to signal it (ErrNotOurs).
func cmdline(pid int) ([]byte, error) {
	return nil, fmt.Errorf("zkserver: command line of pid %d: %w (no /proc outside Linux)", pid, errors.ErrUnsupported)
}
