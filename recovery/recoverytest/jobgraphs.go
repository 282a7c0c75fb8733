package recovery_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

func (i *hsInst) jobGraphs() *recovery.JobGraphs {
	t := i.e.t
	var s *recovery.JobGraphs
	if i.e.zk {
		s = recovery.NewZooKeeperJobGraphStore(i.cl, i.e.st, hsCluster, i.id, hsLog(t))
	} else {
		var err error
		s, err = recovery.NewEmbeddedJobGraphStore(hsCtx(t), i.e.dir, i.e.st, hsCluster, i.id, hsLog(t))
		require.NoError(t, err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// graphEvents records listener calls.
type graphEvents struct {
	mu      sync.Mutex
	added   []string
	removed []string
}

func (g *graphEvents) OnAddedJobGraph(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.added = append(g.added, id)
}

func (g *graphEvents) OnRemovedJobGraph(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removed = append(g.removed, id)
}

func (g *graphEvents) get() (added, removed []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.added), slices.Clone(g.removed)
}

func TestJobGraphStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		s := e.instance().jobGraphs()
		require.NoError(t, s.Start(ctx, nil))

		require.NoError(t, s.Put(ctx, e.guard, "job1", []byte("graph 1")))
		require.NoError(t, s.Put(ctx, e.guard, "job2", []byte("graph 2")))
		require.NoError(t, s.Put(ctx, e.guard, "job2", []byte("graph 2b")))
		require.True(t, e.pointerExists(recovery.JobGraphsDir, "job1"))
		require.Regexp(t, `^cluster-1/submittedJobGraph-job1-[0-9a-f-]{36}$`, e.payloadOf("job1"))

		ids, err := s.JobIDs(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"job1", "job2"}, ids)

		// A new leader (another instance) recovers them, pipelined.
		s2 := e.instance().jobGraphs()
		entries := s2.RecoverAll(ctx, ids)
		require.NoError(t, entries[0].Err)
		require.NoError(t, entries[1].Err)
		require.Equal(t, "graph 1", string(entries[0].Payload))
		require.Equal(t, "graph 2b", string(entries[1].Payload))
		g, err := s2.Recover(ctx, "job1")
		require.NoError(t, err)
		require.Equal(t, "graph 1", string(g))

		// The old one cannot remove what the new one holds.
		require.ErrorIs(t, s.Remove(ctx, e.guard, "job1"), recovery.ErrLocked)
		require.NoError(t, s2.Release(ctx, "job1"))
		require.NoError(t, s2.Remove(ctx, e.guard, "job1"))
		require.NoError(t, s2.Remove(ctx, e.guard, "job1"))
		_, err = s2.Recover(ctx, "job1")
		require.ErrorIs(t, err, recovery.ErrNotFound)
		ids, err = s.JobIDs(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"job2"}, ids)
		require.Len(t, e.payloads(), 1)

		e.depose()
		require.ErrorIs(t, s.Put(ctx, e.guard, "job3", []byte("x")), recovery.ErrNotLeader)
		require.ErrorIs(t, s2.Remove(ctx, e.guard, "job2"), recovery.ErrNotLeader)
		require.Len(t, e.payloads(), 1)
	})
}

func TestJobGraphStoreListenerHearsOthers(t *testing.T) {
	e := newHAEnv(t, true, false)
	ctx := hsCtx(t)
	mine, theirs := e.instance().jobGraphs(), e.instance().jobGraphs()
	ev := &graphEvents{}
	require.NoError(t, mine.Start(ctx, ev))
	require.NoError(t, mine.Put(ctx, e.guard, "own", []byte("g")))
	require.NoError(t, theirs.Put(ctx, e.guard, "other", []byte("g")))
	require.Eventually(t, func() bool {
		added, _ := ev.get()
		return slices.Equal(added, []string{"other"})
	}, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, mine.Release(ctx, "own"))
	require.NoError(t, theirs.Remove(ctx, e.guard, "other"))
	require.NoError(t, theirs.Remove(ctx, e.guard, "own"))
	require.Eventually(t, func() bool {
		_, removed := ev.get()
		slices.Sort(removed)
		return slices.Equal(removed, []string{"other", "own"})
	}, 10*time.Second, 10*time.Millisecond)
	added, _ := ev.get()
	require.Equal(t, []string{"other"}, added, "own additions are not reported")
	require.NoError(t, mine.Stop())
	require.NoError(t, mine.Stop())
}
