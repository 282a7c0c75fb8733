package supervisor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/logging"
)

// TestOneSupervisorPerApplication: while a supervisor of an application holds
// its lock — as a restarted one does from before it reads the record until it
// ends — a second one (a keeper's restart racing yarn-session -id) refuses to
// start, before it adopts or fences anything; once the first lets go, the next
// may start.
func TestOneSupervisorPerApplication(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	cfg := Config{App: containers.AppID{ClusterTimestamp: 1, Seq: 1}, Dir: dir,
		Budget: attempts.Budget{MaxAttempts: 2}, Executable: "/nonexistent", Logger: logging.ForTest(t)}
	first, err := New(cfg)
	require.NoError(t, err)

	second, err := New(cfg)
	require.ErrorIs(t, err, errLocked)
	require.ErrorContains(t, err, filepath.Join(dir, lockName))
	require.Nil(t, second)

	first.cm.Close()
	first.unlock()
	third, err := New(cfg)
	require.NoError(t, err)
	third.cm.Close()
	third.unlock()
}
