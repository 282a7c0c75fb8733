package recoverytest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

func testCheckpointIDCounter(t *testing.T, e *Env) {
	ctx := Context(t)
	c := e.Instance().Counter("job1")
	v, err := c.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), v)
	for want := int64(1); want <= 5; want++ {
		got, err := c.GetAndIncrement(ctx, e.Guard())
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	// Another instance continues where this one stopped.
	other := e.Instance().Counter("job1")
	v, err = other.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(6), v)

	require.NoError(t, other.SetCount(ctx, e.Guard(), 100))
	got, err := c.GetAndIncrement(ctx, e.Guard())
	require.NoError(t, err)
	require.Equal(t, int64(100), got)

	require.NoError(t, c.Shutdown(ctx, e.Guard(), false))
	v, err = other.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(101), v)

	e.Depose()
	_, err = other.GetAndIncrement(ctx, e.Guard())
	require.ErrorIs(t, err, recovery.ErrNotLeader)
	require.ErrorIs(t, other.SetCount(ctx, e.Guard(), 5), recovery.ErrNotLeader)
	v, err = other.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(101), v)
}

func testCheckpointIDCounterTerminalRemoves(t *testing.T, e *Env) {
	ctx := Context(t)
	c := e.Instance().Counter("job1")
	_, err := c.GetAndIncrement(ctx, e.Guard())
	require.NoError(t, err)
	require.NoError(t, c.Shutdown(ctx, e.Guard(), true))
	v, err := e.Instance().Counter("job1").Get(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), v)
}
