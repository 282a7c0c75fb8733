//go:build unix

package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockName is the file whose lock the supervisor of an application holds for
// as long as it runs: two supervisors of one application would both adopt its
// processes, both fence and count a dead AM, and both start its next attempt.
const lockName = "supervisor.lock"

// errLocked: another supervisor of the application holds its lock.
var errLocked = errors.New("supervisor: another supervisor of this application runs")

// lockApp takes the application directory's supervisor lock (an flock, released
// by the kernel when this process ends however it ends; the descriptor is
// close-on-exec, so the AMs and containers do not inherit it).
func lockApp(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("supervisor: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (it holds %s): stop it first, or attach to it with yarn-session -id", errLocked, path)
		}
		return nil, fmt.Errorf("supervisor: lock %s: %w", path, err)
	}
	return f, nil
}
