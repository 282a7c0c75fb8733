package recovery_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/recovery"
)

func (i *hsInst) counter(jobID string) recovery.CheckpointIDCounter {
	t := i.e.t
	if i.e.zk {
		c, err := recovery.NewZooKeeperIDCounter(i.cl, jobID, hsLog(t))
		require.NoError(t, err)
		return c
	}
	c, err := recovery.NewEmbeddedIDCounter(hsCtx(t), i.e.dir, jobID)
	require.NoError(t, err)
	t.Cleanup(func() { c.Shutdown(hsCtx(t), nil, false) })
	return c
}

func TestCheckpointIDCounter(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		c := e.instance().counter("job1")
		v, err := c.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), v)
		for want := int64(1); want <= 5; want++ {
			got, err := c.GetAndIncrement(ctx, e.guard)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		// Another instance continues where this one stopped.
		other := e.instance().counter("job1")
		v, err = other.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(6), v)

		require.NoError(t, other.SetCount(ctx, e.guard, 100))
		got, err := c.GetAndIncrement(ctx, e.guard)
		require.NoError(t, err)
		require.Equal(t, int64(100), got)

		require.NoError(t, c.Shutdown(ctx, e.guard, false))
		v, err = other.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(101), v)

		e.depose()
		_, err = other.GetAndIncrement(ctx, e.guard)
		require.ErrorIs(t, err, recovery.ErrNotLeader)
		require.ErrorIs(t, other.SetCount(ctx, e.guard, 5), recovery.ErrNotLeader)
		v, err = other.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(101), v)
	})
}

func TestCheckpointIDCounterTerminalRemoves(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		c := e.instance().counter("job1")
		_, err := c.GetAndIncrement(ctx, e.guard)
		require.NoError(t, err)
		require.NoError(t, c.Shutdown(ctx, e.guard, true))
		v, err := e.instance().counter("job1").Get(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), v)
	})
}

func TestCheckpointIDCounterConcurrentClients(t *testing.T) {
	e := newHAEnv(t, true, false)
	ctx := hsCtx(t)
	const each = 50
	counters := []recovery.CheckpointIDCounter{e.instance().counter("job1"), e.instance().counter("job1")}
	got := make([][]int64, len(counters))
	var wg sync.WaitGroup
	for i, c := range counters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				v, err := c.GetAndIncrement(ctx, e.guard)
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = append(got[i], v)
			}
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, vs := range got {
		for j, v := range vs {
			require.False(t, seen[v], "ID %d handed out twice", v)
			seen[v] = true
			if j > 0 {
				require.Greater(t, v, vs[j-1], "IDs of one client increase")
			}
		}
	}
	require.Len(t, seen, 2*each)
	for v := int64(1); v <= 2*each; v++ {
		require.True(t, seen[v], "ID %d missing", v)
	}
}

func TestCheckpointIDCounterRefusesWhileServerPaused(t *testing.T) {
	own := zktest.Start(t)
	root := own.Root(t)
	cl := hsConnect(t, own, root)
	c, err := recovery.NewZooKeeperIDCounter(cl, "job1", hsLog(t))
	require.NoError(t, err)
	g := &flagGuard{} // no guard ops: the connection check alone is under test
	ctx := hsCtx(t)
	v, err := c.GetAndIncrement(ctx, g)
	require.NoError(t, err)
	require.Equal(t, int64(1), v)

	require.NoError(t, own.Server(0).Pause())
	t.Cleanup(func() { own.Server(0).Resume() })
	require.Eventually(t, func() bool { return !cl.Connected() }, 20*time.Second, 10*time.Millisecond)
	_, err = c.GetAndIncrement(ctx, g)
	require.ErrorIs(t, err, recovery.ErrNotConnected)
	_, err = c.Get(ctx)
	require.ErrorIs(t, err, recovery.ErrNotConnected)

	require.NoError(t, own.Server(0).Resume())
	require.Eventually(t, cl.Connected, 20*time.Second, 10*time.Millisecond)
	v, err = c.GetAndIncrement(ctx, g)
	require.NoError(t, err)
	require.Equal(t, int64(2), v)
}
