//go:build !linux

package zktest

import "context"

// waitStopped cannot observe the stopped state portably; SIGSTOP takes effect at
// once for practical purposes.
func waitStopped(context.Context, int) error { return nil }
