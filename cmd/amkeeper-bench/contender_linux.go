package main

import "syscall"

// contenderProcAttr puts a contender in a process group of its own and has the
// kernel kill it when the bench dies (Pdeathsig; see startContender).
func contenderProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
