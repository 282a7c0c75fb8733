package zkha_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
	"github.com/amkeeper/amkeeper/recovery/zkha"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

const inspJob = "job-1"

// cleanupServices are the services of cluster name under base: a session of
// their own and a handle of their own on e's storage, both closed by
// CloseAndCleanupAllData.
func cleanupServices(t *testing.T, base, name string, e *recoverytest.Env) (*zkclient.Client, *recovery.Services) {
	ctx := recoverytest.Context(t)
	cl := hsConnect(t, zkc, base+"/"+name)
	st, err := hdfsstore.Open(ctx, e.St.URI())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	svc, err := recovery.NewServices(recovery.ServicesConfig{Backend: backendOn(t, cl), Storage: st, ClusterPath: name,
		Instance: uuid.New(), RetainedCheckpoints: 3, Logger: recoverytest.Logger(t)})
	require.NoError(t, err)
	return cl, svc
}

// cleanupCluster fills cluster name under base: a leader latch node (the test
// guard), a job graph, checkpoints, a counter, a job result.
func cleanupCluster(t *testing.T, base, name string, e *recoverytest.Env) (*zkclient.Client, *zkGuard, *recovery.Services) {
	ctx := recoverytest.Context(t)
	cl, svc := cleanupServices(t, base, name, e)
	g := newZKGuard(t, zkc, base+"/"+name)
	graphs, err := svc.JobGraphStore(ctx)
	require.NoError(t, err)
	require.NoError(t, graphs.Put(ctx, g, inspJob, []byte("graph")))
	cps, err := svc.CheckpointStore(ctx, inspJob)
	require.NoError(t, err)
	counter, err := svc.CheckpointIDCounter(ctx, inspJob)
	require.NoError(t, err)
	for range 2 {
		id, err := counter.GetAndIncrement(ctx, g)
		require.NoError(t, err)
		_, err = cps.Add(ctx, g, recovery.CompletedCheckpoint{ID: id, Timestamp: time.Now(), Metadata: []byte("m")})
		require.NoError(t, err)
	}
	_, err = recovery.WriteState(ctx, e.St, name+"/job-result-store/x.json", []byte("{}"))
	require.NoError(t, err)
	return cl, g, svc
}

// TestCleanupAll removes clusters' data as recovery.Services.CloseAndCleanupAllData
// does with this backend: every znode under the chroot, then storage.
func TestCleanupAll(t *testing.T) {
	e, b := newZKEnv(t, recoverytest.FileStorage(t))
	ctx := recoverytest.Context(t)
	base := b.root
	cl1, g1, svc1 := cleanupCluster(t, base, "cluster-1", e)
	cl10, _, svc10 := cleanupCluster(t, base, "cluster-10", e)
	top := hsConnect(t, zkc, base)

	before1 := zkTree(t, top, "/cluster-1", "")
	before10 := zkTree(t, top, "/cluster-10", "")
	stBefore1, err := e.St.List(ctx, "cluster-1/")
	require.NoError(t, err)
	require.Len(t, stBefore1, 4)
	stBefore10, err := e.St.List(ctx, "cluster-10/")
	require.NoError(t, err)

	// A leader latch node: refused, nothing touched.
	err = zkha.CleanupZooKeeper(ctx, cl1, false)
	require.ErrorIs(t, err, zkha.ErrLeaderPresent)
	assert.Contains(t, err.Error(), "/leader/latch/")
	assert.Equal(t, before1, zkTree(t, top, "/cluster-1", ""))
	names, err := e.St.List(ctx, "cluster-1/")
	require.NoError(t, err)
	assert.Equal(t, stBefore1, names)

	// Once the leader is gone: every znode (the chroot too) and every file.
	g1.deleteNode(t)
	require.NoError(t, zkha.CleanupZooKeeper(ctx, cl1, false))
	require.NoError(t, svc1.CloseAndCleanupAllData(ctx))
	ok, _, err := top.Exists(ctx, "/cluster-1")
	require.NoError(t, err)
	assert.False(t, ok, "the cluster's chroot node is gone")
	names, err = e.St.List(ctx, "cluster-1/")
	require.NoError(t, err)
	assert.Empty(t, names)

	// The sibling whose name extends this one is untouched.
	assert.Equal(t, before10, zkTree(t, top, "/cluster-10", ""))
	names, err = e.St.List(ctx, "cluster-10/")
	require.NoError(t, err)
	assert.Equal(t, stBefore10, names)

	// Repeating is fine.
	_, again := cleanupServices(t, base, "cluster-1", e)
	require.NoError(t, again.CloseAndCleanupAllData(ctx))

	// Services clean up despite a latch node (the sibling's own leader here).
	require.ErrorIs(t, zkha.CleanupZooKeeper(ctx, cl10, false), zkha.ErrLeaderPresent)
	require.NoError(t, svc10.CloseAndCleanupAllData(ctx))
	ok, _, err = top.Exists(ctx, "/cluster-10")
	require.NoError(t, err)
	assert.False(t, ok)
	names, err = e.St.List(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, names)
}

func TestCleanupAllRefusesWithoutChroot(t *testing.T) {
	cl := hsConnect(t, zkc, "/")
	require.Error(t, zkha.CleanupZooKeeper(recoverytest.Context(t), cl, true))
	svc, err := recovery.NewServices(recovery.ServicesConfig{Backend: backendOn(t, cl),
		Storage: recoverytest.FileStorage(t).Store, ClusterPath: "cluster-1", Logger: recoverytest.Logger(t)})
	require.NoError(t, err)
	require.Error(t, svc.CloseAndCleanupAllData(recoverytest.Context(t)))
}
