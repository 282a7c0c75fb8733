package childproc

import "syscall"

// SysProcAttr returns the attributes of a child that must not outlive its
// parent: the kernel SIGKILLs it when the thread that forked it ends.
func SysProcAttr(g Group) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: bool(g), Pdeathsig: syscall.SIGKILL}
}

// Outliving returns the attributes of a child that must outlive its parent
// (an AM or a container, which keep running while no supervisor watches): a
// process group as g says, and no parent-death signal.
func Outliving(g Group) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: bool(g)}
}
