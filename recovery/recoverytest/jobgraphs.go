package recoverytest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

func testJobGraphStore(t *testing.T, e *Env) {
	ctx := Context(t)
	s := e.Instance().JobGraphs()

	require.NoError(t, s.Put(ctx, e.Guard(), "job1", []byte("graph 1")))
	require.NoError(t, s.Put(ctx, e.Guard(), "job2", []byte("graph 2")))
	require.NoError(t, s.Put(ctx, e.Guard(), "job2", []byte("graph 2b")))
	require.True(t, e.PointerExists(recovery.JobGraphsDir, "job1"))
	require.Regexp(t, `^cluster-1/submittedJobGraph-job1-[0-9a-f-]{36}$`, e.PayloadOf("job1"))

	ids, err := s.JobIDs(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"job1", "job2"}, ids)

	// A new leader (another instance) recovers them, pipelined.
	s2 := e.Instance().JobGraphs()
	entries := s2.RecoverAll(ctx, ids)
	require.NoError(t, entries[0].Err)
	require.NoError(t, entries[1].Err)
	require.Equal(t, "graph 1", string(entries[0].Payload))
	require.Equal(t, "graph 2b", string(entries[1].Payload))
	g, err := s2.Recover(ctx, "job1")
	require.NoError(t, err)
	require.Equal(t, "graph 1", string(g))

	// The old one cannot remove what the new one holds.
	require.ErrorIs(t, s.Remove(ctx, e.Guard(), "job1"), recovery.ErrLocked)
	require.NoError(t, s2.Release(ctx, "job1"))
	require.NoError(t, s2.Remove(ctx, e.Guard(), "job1"))
	require.NoError(t, s2.Remove(ctx, e.Guard(), "job1"))
	_, err = s2.Recover(ctx, "job1")
	require.ErrorIs(t, err, recovery.ErrNotFound)
	ids, err = s.JobIDs(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"job2"}, ids)
	require.Len(t, e.Payloads(), 1)

	e.Depose()
	require.ErrorIs(t, s.Put(ctx, e.Guard(), "job3", []byte("x")), recovery.ErrNotLeader)
	require.ErrorIs(t, s2.Remove(ctx, e.Guard(), "job2"), recovery.ErrNotLeader)
	require.Len(t, e.Payloads(), 1)
}
