//go:build !linux

package kdctest

import "syscall"

// sysProcAttr: no parent-death signal outside Linux; the test's cleanup kills the KDC.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
