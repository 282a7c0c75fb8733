package recoverytest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

// Leaders keeps what a LeaderRetriever told about one component's leader.
type Leaders struct {
	mu    sync.Mutex
	infos []recovery.LeaderInfo
}

// Follow retrieves component's leader through r until the test ends.
func Follow(t testing.TB, r recovery.LeaderRetriever, component string) *Leaders {
	l := &Leaders{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Retrieve(ctx, component, func(i recovery.LeaderInfo) {
			l.mu.Lock()
			l.infos = append(l.infos, i)
			l.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

// Latest returns the leader told last (zero before any) and how many
// notifications came.
func (l *Leaders) Latest() (recovery.LeaderInfo, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.infos) == 0 {
		return recovery.LeaderInfo{}, 0
	}
	return l.infos[len(l.infos)-1], len(l.infos)
}

// RequireLeader waits, 15 s at most, until the leader told last satisfies want.
func RequireLeader(t testing.TB, l *Leaders, want func(recovery.LeaderInfo) bool, msg string) {
	t.Helper()
	require.Eventually(t, func() bool { i, _ := l.Latest(); return want(i) }, 15*time.Second, 5*time.Millisecond, msg)
}
