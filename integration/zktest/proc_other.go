//go:build !linux

package zktest

import (
	"context"
	"os/exec"
	"syscall"
)

// setProcAttr puts the JVM in its own process group. Outside Linux there is no
// parent-death signal: only the cleanup paths stop the JVM.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// waitStopped cannot observe the stopped state portably; SIGSTOP takes effect at
// once for practical purposes.
func waitStopped(context.Context, int) error { return nil }
