package zkha_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// zkTree returns every znode (path → data) under p, p included.
func zkTree(t *testing.T, cl *zkclient.Client, p string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		data, _, err := cl.Get(hsCtx(t), p)
		require.NoError(t, err)
		out[p] = string(data)
		kids, _, err := cl.Children(hsCtx(t), p)
		require.NoError(t, err)
		for _, k := range kids {
			walk(p + "/" + k)
		}
	}
	walk(p)
	return out
}

// cleanupCluster fills cluster name under base: a leader latch node (the test
// guard), a job graph, checkpoints, a counter, an orphan, blobs-like files.
func cleanupCluster(t *testing.T, base, name string, e *haEnv) (*zkclient.Client, *zkGuard) {
	ctx := hsCtx(t)
	cl := hsConnect(t, zkc, base+"/"+name)
	g := newZKGuard(t, base+"/"+name)
	i := &hsInst{e: e, id: uuid.New(), cl: cl}
	graphs := recovery.NewZooKeeperJobGraphStore(cl, e.st, name, i.id, hsLog(t))
	require.NoError(t, graphs.Put(ctx, g, inspJob, []byte("graph")))
	cps, err := recovery.NewZooKeeperCheckpointStore(cl, e.st, name, i.id, hsLog(t), inspJob, 3)
	require.NoError(t, err)
	counter, err := recovery.NewZooKeeperIDCounter(cl, inspJob, hsLog(t))
	require.NoError(t, err)
	for range 2 {
		id, err := counter.GetAndIncrement(ctx, g)
		require.NoError(t, err)
		_, err = cps.Add(ctx, g, recovery.CompletedCheckpoint{ID: id, Timestamp: time.Now(), Metadata: []byte("m")})
		require.NoError(t, err)
	}
	_, err = recovery.WriteState(ctx, e.st, name+"/job-result-store/x.json", []byte("{}"))
	require.NoError(t, err)
	return cl, g
}

func TestCleanupAll(t *testing.T) {
	e := newHAEnv(t, true, false)
	ctx := hsCtx(t)
	base := e.root
	cl1, g1 := cleanupCluster(t, base, "cluster-1", e)
	cl10, _ := cleanupCluster(t, base, "cluster-10", e)
	top := hsConnect(t, zkc, base)

	before1 := zkTree(t, top, "/cluster-1")
	before10 := zkTree(t, top, "/cluster-10")
	stBefore1, err := e.st.List(ctx, "cluster-1/")
	require.NoError(t, err)
	require.Len(t, stBefore1, 4)
	stBefore10, err := e.st.List(ctx, "cluster-10/")
	require.NoError(t, err)

	// A leader latch node: refused, nothing touched.
	err = recovery.CleanupAll(ctx, cl1, e.st, "cluster-1", false)
	require.ErrorIs(t, err, recovery.ErrLeaderPresent)
	assert.Contains(t, err.Error(), "/leader/latch/")
	assert.Equal(t, before1, zkTree(t, top, "/cluster-1"))
	names, err := e.st.List(ctx, "cluster-1/")
	require.NoError(t, err)
	assert.Equal(t, stBefore1, names)

	// Once the leader is gone: every znode (the chroot too) and every file.
	g1.deleteNode(t)
	require.NoError(t, recovery.CleanupAll(ctx, cl1, e.st, "cluster-1", false))
	ok, _, err := top.Exists(ctx, "/cluster-1")
	require.NoError(t, err)
	assert.False(t, ok, "the cluster's chroot node is gone")
	names, err = e.st.List(ctx, "cluster-1/")
	require.NoError(t, err)
	assert.Empty(t, names)

	// The sibling whose name extends this one is untouched.
	assert.Equal(t, before10, zkTree(t, top, "/cluster-10"))
	names, err = e.st.List(ctx, "cluster-10/")
	require.NoError(t, err)
	assert.Equal(t, stBefore10, names)

	// Repeating is fine.
	require.NoError(t, recovery.CleanupAll(ctx, cl1, e.st, "cluster-1", false))

	// force deletes despite a latch node (the sibling's own leader here).
	require.ErrorIs(t, recovery.CleanupZooKeeper(ctx, cl10, false), recovery.ErrLeaderPresent)
	require.NoError(t, recovery.CleanupAll(ctx, cl10, e.st, "cluster-10", true))
	ok, _, err = top.Exists(ctx, "/cluster-10")
	require.NoError(t, err)
	assert.False(t, ok)
	names, err = e.st.List(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, names)
}

func TestCleanupAllRefusesWithoutChroot(t *testing.T) {
	cl := hsConnect(t, zkc, "/")
	st, _ := jrsOpenStore(t)
	require.Error(t, recovery.CleanupZooKeeper(hsCtx(t), cl, true))
	require.Error(t, recovery.CleanupAll(hsCtx(t), cl, st, "cluster-1", true))
}
