//go:build !linux

package containers

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the container in its own process group. Outside Linux there is no
// parent-death signal: containers outlive a supervisor that is SIGKILLed.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// waitExited cannot wait without reaping here; the reaper falls back to Wait alone,
// which leaves a short window in which a group signal could reach a recycled PID.
func waitExited(int) bool { return false }
