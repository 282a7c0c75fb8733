//go:build !linux

package main

import "syscall"

// contenderProcAttr puts a contender in a process group of its own. Without
// Linux's Pdeathsig a contender outlives a bench that is killed (one that ends
// normally still kills every contender it started).
func contenderProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
