package procid

import (
	"errors"
	"fmt"
)

// Identity names one process of one boot.
type Identity struct {
	PID int `json:"pid"`
	// StartTicks is the process's start time in clock ticks since boot (field
	// 22 of /proc/<pid>/stat). 0 means it is not known (it could not be read):
	// Verify and Open of a running PID then fail with ErrUnverifiable, as the
	// process cannot be told from another that reused the PID.
	StartTicks uint64 `json:"startTicks"`
}

func (id Identity) String() string { return fmt.Sprintf("pid %d (start %d)", id.PID, id.StartTicks) }

// ErrNotRunning says the recorded process does not run any more: its PID is
// gone, a zombie, or now names another process.
var ErrNotRunning = errors.New("procid: process not running")

// ErrUnverifiable says a process could not be checked for a reason other than
// its being gone (pidfd_open or reading /proc failed: EMFILE, ENOMEM, EPERM…;
// no start time recorded).
// The process may well run: a caller must not treat it as dead.
var ErrUnverifiable = errors.New("procid: cannot verify the process")
