package containers

import (
	"syscall"
	"unsafe"
)

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
