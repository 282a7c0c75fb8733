//go:build !linux

package childproc

import "syscall"

// SysProcAttr returns the attributes of a child process. There is no
// parent-death signal on this platform: the child outlives a parent that dies
// without stopping it.
func SysProcAttr(g Group) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: bool(g)}
}

// Outliving returns the attributes of a child that must outlive its parent.
func Outliving(g Group) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: bool(g)}
}
