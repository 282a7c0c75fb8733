package recoverytest

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

// guardNodeMark is part of the name of a node that deposing a Guard deletes (the
// ZooKeeper test guard's latch node): the suites leave it out of snapshots.
const guardNodeMark = "/leader/latch/test-"

func testPointerStorePutGetReplaceRemove(t *testing.T, e *Env) {
	ctx := Context(t)
	ps := e.Instance().Pointers("/things")

	keys, err := ps.Keys(ctx)
	require.NoError(t, err)
	require.Empty(t, keys)
	_, err = ps.Get(ctx, "a")
	require.ErrorIs(t, err, recovery.ErrNotFound)

	require.NoError(t, ps.Put(ctx, e.Guard(), "a", []byte("one")))
	require.NoError(t, ps.Put(ctx, e.Guard(), "b", []byte("two")))
	first := e.PayloadOf("state-a-")
	got, err := ps.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, "one", string(got))

	// Replace: new payload, the old one deleted after the pointer moved.
	require.NoError(t, ps.Put(ctx, e.Guard(), "a", []byte("one, again")))
	got, err = ps.GetAndLock(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, "one, again", string(got))
	require.NotEqual(t, first, e.PayloadOf("state-a-"))

	keys, err = ps.Keys(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, keys)

	entries := ps.GetAll(ctx, []string{"b", "a", "missing"}, true)
	require.Len(t, entries, 3)
	require.Equal(t, "b", entries[0].Key)
	require.Equal(t, "two", string(entries[0].Payload))
	require.Equal(t, "one, again", string(entries[1].Payload))
	require.ErrorIs(t, entries[2].Err, recovery.ErrNotFound)

	require.NoError(t, ps.Release(ctx, "a"))
	require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.Guard(), "a"))
	require.False(t, e.PointerExists("/things", "a"))
	_, err = ps.Get(ctx, "a")
	require.ErrorIs(t, err, recovery.ErrNotFound)
	require.Len(t, e.Payloads(), 1) // only b's
	require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.Guard(), "a"), "removing a missing key")

	require.Error(t, ps.Put(ctx, e.Guard(), "../x", nil))
	require.Error(t, ps.Put(ctx, e.Guard(), "locks", nil))
}

func testPointerStoreDeposedChangesNothing(t *testing.T, e *Env) {
	ctx := Context(t)
	ps := e.Instance().Pointers("/things")
	require.NoError(t, ps.Put(ctx, e.Guard(), "a", []byte("one")))
	before := e.Snapshot()

	e.Depose()
	require.ErrorIs(t, ps.Put(ctx, e.Guard(), "b", []byte("new")), recovery.ErrNotLeader)
	require.ErrorIs(t, ps.Put(ctx, e.Guard(), "a", []byte("replaced")), recovery.ErrNotLeader)
	require.ErrorIs(t, ps.ReleaseAndTryRemove(ctx, e.Guard(), "a"), recovery.ErrNotLeader)

	after := e.Snapshot()
	for k := range before {
		if strings.Contains(k, guardNodeMark) {
			delete(before, k) // the guard node itself is what deposing deleted
		}
	}
	require.Equal(t, before, after)
	got, err := ps.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, "one", string(got))
}

func testPointerStoreDanglingAndCorrupt(t *testing.T, e *Env) {
	ctx := Context(t)
	ps := e.Instance().Pointers("/things")
	require.NoError(t, ps.Put(ctx, e.Guard(), "gone", []byte("payload")))
	require.NoError(t, ps.Put(ctx, e.Guard(), "bent", []byte("payload")))

	require.NoError(t, e.St.Delete(ctx, e.PayloadOf("state-gone-")))
	_, err := ps.Get(ctx, "gone")
	require.ErrorIs(t, err, recovery.ErrDanglingPointer)
	require.ErrorIs(t, err, fs.ErrNotExist)

	e.FlipByte(e.PayloadOf("state-bent-"))
	_, err = ps.GetAndLock(ctx, "bent")
	require.ErrorIs(t, err, recovery.ErrCorruptState)

	// Both can still be removed.
	require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.Guard(), "gone"))
	require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.Guard(), "bent"))
	require.Empty(t, e.Payloads())
}

func testPointerStoreRemoveRefusedWhileLocked(t *testing.T, e *Env) {
	ctx := Context(t)
	a := e.Instance().Pointers("/things")
	b := e.Instance().Pointers("/things")
	require.NoError(t, a.Put(ctx, e.Guard(), "k", []byte("v")))
	got, err := b.GetAndLock(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(got))

	err = a.ReleaseAndTryRemove(ctx, e.Guard(), "k")
	require.ErrorIs(t, err, recovery.ErrLocked)
	require.True(t, e.PointerExists("/things", "k"))
	require.Len(t, e.Payloads(), 1)
	keys, err := b.Keys(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"k"}, keys)

	require.NoError(t, b.Release(ctx, "k"))
	require.NoError(t, a.ReleaseAndTryRemove(ctx, e.Guard(), "k"))
	require.False(t, e.PointerExists("/things", "k"))
	require.Empty(t, e.Payloads())
}
