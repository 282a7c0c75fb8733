package zktest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// waitStopped polls /proc until every thread of pid is in the stopped state, so that
// Pause returns only once the JVM can no longer answer.
func waitStopped(ctx context.Context, pid int) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		stopped, err := allThreadsStopped(pid)
		if err != nil {
			return err
		}
		if stopped {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("zktest: pid %d not stopped: %w", pid, ctx.Err())
		case <-tick.C:
		}
	}
}

func allThreadsStopped(pid int) (bool, error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false, fmt.Errorf("zktest: no threads of pid %d in /proc", pid)
	}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			return false, nil // a thread just ended; look again
		}
		// The state is the field after the parenthesised command name.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) {
			return false, fmt.Errorf("zktest: cannot parse %s: %q", path, s)
		}
		if st := s[i+2]; !strings.ContainsRune("TtZX", rune(st)) { // stopped, traced, or gone
			return false, nil
		}
	}
	return true, nil
}
