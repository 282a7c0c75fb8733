//go:build !linux

package recoverytest

import "os/exec"

// dieWithTest has no kernel help here: the test's cleanup kills the child, but a
// test binary killed outright may leave it running.
func dieWithTest(*exec.Cmd) {}
