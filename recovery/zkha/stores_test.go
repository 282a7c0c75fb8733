package zkha_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
)

func TestPointerStoreGuardClientClosed(t *testing.T) {
	e, b := newZKEnv(t, recoverytest.FileStorage(t))
	ctx := recoverytest.Context(t)
	ps := e.Instance().Pointers("/things")
	g := newZKGuard(t, zkc, b.root)
	require.NoError(t, ps.Put(ctx, g, "a", []byte("one")))
	before := e.Payloads()
	g.closeClient() // the session ends: its ephemeral node goes at once
	require.ErrorIs(t, ps.Put(ctx, g, "a", []byte("two")), recovery.ErrNotLeader)
	require.ErrorIs(t, ps.Put(ctx, g, "b", []byte("two")), recovery.ErrNotLeader)
	require.Equal(t, before, e.Payloads())
	require.False(t, e.PointerExists("/things", "b"))
}

func TestPointerStoreMarkedForDeletion(t *testing.T) {
	e, b := newZKEnv(t, recoverytest.FileStorage(t))
	ctx := recoverytest.Context(t)
	inst := e.Instance()
	ps := inst.Pointers("/things")
	require.NoError(t, ps.Put(ctx, e.Guard(), "k", []byte("v")))
	require.NoError(t, ps.Put(ctx, e.Guard(), "again", []byte("v")))
	// A remove that stopped right after marking: the lock container is gone.
	for _, k := range []string{"k", "again"} {
		b.Mark(t, "/things", k, inst.ID)
	}

	keys, err := ps.Keys(ctx)
	require.NoError(t, err)
	require.Empty(t, keys)
	_, err = ps.Get(ctx, "k")
	require.ErrorIs(t, err, recovery.ErrNotFound)
	_, err = ps.GetAndLock(ctx, "k")
	require.ErrorIs(t, err, recovery.ErrNotFound)
	entries := ps.GetAll(ctx, []string{"k"}, false)
	require.ErrorIs(t, entries[0].Err, recovery.ErrNotFound)
	require.Len(t, e.Payloads(), 2)

	// A later remove finishes it: payload, then node.
	require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.Guard(), "k"))
	require.False(t, e.PointerExists("/things", "k"))
	require.Len(t, e.Payloads(), 1)

	// A put over a marked key finishes the removal and adds it anew.
	require.NoError(t, ps.Put(ctx, e.Guard(), "again", []byte("new")))
	got, err := ps.Get(ctx, "again")
	require.NoError(t, err)
	require.Equal(t, "new", string(got))
	require.Len(t, e.Payloads(), 1)
}

func TestCheckpointIDCounterConcurrentClients(t *testing.T) {
	e, _ := newZKEnv(t, recoverytest.FileStorage(t))
	ctx := recoverytest.Context(t)
	const each = 50
	counters := []recovery.CheckpointIDCounter{e.Instance().Counter("job1"), e.Instance().Counter("job1")}
	got := make([][]int64, len(counters))
	var wg sync.WaitGroup
	for i, c := range counters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				v, err := c.GetAndIncrement(ctx, e.Guard())
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
	c, err := backendOn(t, cl).CheckpointIDCounter(recoverytest.Context(t), "job1")
	require.NoError(t, err)
	g := recoverytest.NewFlagGuard() // no guard ops: the connection check alone is under test
	ctx := recoverytest.Context(t)
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
