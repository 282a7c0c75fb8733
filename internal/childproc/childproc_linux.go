package childproc

import "syscall"

// SysProcAttr returns the attributes of a child that must not outlive its
// parent: the kernel SIGKILLs it when the thread that forked it ends.
func SysProcAttr(g Group) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: bool(g), Pdeathsig: syscall.SIGKILL}
}
