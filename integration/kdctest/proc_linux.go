//go:build linux

package kdctest

import "syscall"

// sysProcAttr kills the KDC with the test binary.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
