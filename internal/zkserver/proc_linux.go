package zkserver

import (
	"errors"
	"os"
	"strconv"

	"github.com/amkeeper/amkeeper/internal/procid"
)

// processGone reports whether pid no longer runs; a zombie counts as gone
// (procid reads /proc, a process reaped while it reads included).
func processGone(pid int) bool {
	_, err := procid.Of(pid)
	return errors.Is(err, procid.ErrNotRunning)
}

// cmdline returns pid's NUL-separated command line from /proc; an error
// satisfying errors.Is(err, os.ErrNotExist) means the process is gone.
func cmdline(pid int) ([]byte, error) {
	return os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
}
