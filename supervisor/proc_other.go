//go:build !linux

package supervisor

import (
	"os/exec"
	"syscall"
)

// setProcAttr starts an AM attempt in its own process group. Outside Linux there
// is no parent-death signal: an AM outlives a supervisor that is SIGKILLed (a
// supervisor that stops normally still stops it).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
