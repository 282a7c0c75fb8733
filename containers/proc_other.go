//go:build !linux

package containers

// waitExited cannot wait without reaping here; the reaper falls back to Wait alone,
// which leaves a short window in which a group signal could reach a recycled PID.
func waitExited(int) bool { return false }
