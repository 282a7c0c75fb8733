package supervisor

import (
	"os/exec"
	"syscall"
)

// setProcAttr starts an AM attempt in its own process group (a signal to the
// supervisor's group does not reach it) and has the kernel SIGKILL it when the
// supervisor dies.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
