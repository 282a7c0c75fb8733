package containers

import (
	"os/exec"
	"syscall"
	"unsafe"
)

// setProcAttr puts the container in its own process group, so no signal sent to the
// supervisor's or the AM's group reaches it, and has the kernel SIGKILL it when the
// thread that forked it dies (see startLocked for why that thread lives exactly as
// long as the container).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitExited blocks until the child pid has exited, without reaping it
// (waitid with WNOWAIT). While the child is an unreaped zombie its PID, and so its
// process group ID, cannot be reused, which makes signalling the group safe.
func waitExited(pid int) bool {
	const pPID = 1     // idtype_t P_PID
	var info [128]byte // siginfo_t; contents unused
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return true
		case syscall.EINTR:
			continue
		default:
			// ECHILD: already reaped or not ours; let Wait report it.
			return false
		}
	}
}
