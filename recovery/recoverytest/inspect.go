package recovery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
)

const inspJob = "job-1"

// inspCluster is one AM instance's stores of a cluster in an haEnv, and an
// Inspector over the same cluster.
type inspCluster struct {
	e      *haEnv
	inst   *hsInst
	graphs *recovery.JobGraphs
	cps    *recovery.Checkpoints
	in     *recovery.Inspector
}

func newInspCluster(t *testing.T, e *haEnv) *inspCluster {
	c := &inspCluster{e: e, inst: e.instance()}
	c.graphs, c.cps = inspStores(t, e, c.inst)
	c.in = &recovery.Inspector{Storage: e.st, ClusterPath: hsCluster, Logger: hsLog(t)}
	if e.zk {
		c.in.ZooKeeper = e.inspect
	} else {
		c.in.Embedded = e.dir
	}
	return c
}

// inspStores opens the job graph store and job-1's checkpoint store of one instance.
func inspStores(t *testing.T, e *haEnv, i *hsInst) (*recovery.JobGraphs, *recovery.Checkpoints) {
	ctx := hsCtx(t)
	if e.zk {
		cps, err := recovery.NewZooKeeperCheckpointStore(i.cl, e.st, hsCluster, i.id, hsLog(t), inspJob, 10)
		require.NoError(t, err)
		return recovery.NewZooKeeperJobGraphStore(i.cl, e.st, hsCluster, i.id, hsLog(t)), cps
	}
	g, err := recovery.NewEmbeddedJobGraphStore(ctx, e.dir, e.st, hsCluster, i.id, hsLog(t))
	require.NoError(t, err)
	t.Cleanup(func() { g.Stop() })
	cps, err := recovery.NewEmbeddedCheckpointStore(ctx, e.dir, e.st, hsCluster, i.id, hsLog(t), inspJob, 10)
	require.NoError(t, err)
	return g, cps
}

// p maps a pointer path to the form the report uses: a znode path, or a file
// name relative to the embedded directory.
func (c *inspCluster) p(rel string) string {
	if c.e.zk {
		return "/" + rel
	}
	return rel
}

func cpPath(id int) string {
	return "jobs/" + inspJob + "/checkpoints/" + strings.Repeat("0", 18) + string(rune('0'+id))
}

// healthy stores a job graph, two checkpoints and a counter at 3.
func (c *inspCluster) healthy(t *testing.T) {
	ctx := hsCtx(t)
	g := c.e.guard
	require.NoError(t, c.graphs.Put(ctx, g, inspJob, []byte("graph")))
	var counter recovery.CheckpointIDCounter
	if c.e.zk {
		zc, err := recovery.NewZooKeeperIDCounter(c.inst.cl, inspJob, hsLog(t))
		require.NoError(t, err)
		counter = zc
	} else {
		ec, err := recovery.NewEmbeddedIDCounter(ctx, c.e.dir, inspJob)
		require.NoError(t, err)
		t.Cleanup(func() { ec.Shutdown(ctx, g, false) })
		counter = ec
	}
	for range 2 {
		id, err := counter.GetAndIncrement(ctx, g)
		require.NoError(t, err)
		_, err = c.cps.Add(ctx, g, recovery.CompletedCheckpoint{ID: id, Timestamp: time.Now(), Metadata: []byte("meta")})
		require.NoError(t, err)
	}
}

// dangling stores job graph key and deletes its payload.
func (c *inspCluster) dangling(t *testing.T, graphs *recovery.JobGraphs, key string) {
	ctx := hsCtx(t)
	require.NoError(t, graphs.Put(ctx, c.e.guard, key, []byte("graph "+key)))
	require.NoError(t, c.e.st.Delete(ctx, c.e.payloadOf("submittedJobGraph-"+key+"-")))
}

// orphan writes a job graph payload no pointer names.
func (c *inspCluster) orphan(t *testing.T) string {
	name := hsCluster + "/submittedJobGraph-lost-" + uuid.NewString()
	_, err := recovery.WriteState(hsCtx(t), c.e.st, name, []byte("lost"))
	require.NoError(t, err)
	return name
}

func (c *inspCluster) inspect(t *testing.T) *recovery.Report {
	r, err := c.in.Inspect(hsCtx(t))
	require.NoError(t, err)
	t.Logf("report:\n%s", r)
	return r
}

func statusOf(t *testing.T, r *recovery.Report, p string) recovery.NodeReport {
	t.Helper()
	n, ok := r.Node(p)
	require.True(t, ok, "no node %s in the report", p)
	return n
}

func TestInspectHealthy(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		c := newInspCluster(t, e)
		c.healthy(t)
		r := c.inspect(t)
		require.True(t, r.Healthy())
		require.Empty(t, r.Orphans)
		ptrs := r.Pointers()
		require.Len(t, ptrs, 3)
		for _, n := range ptrs {
			assert.Equal(t, recovery.StatusOK, n.Status, n.Path)
			assert.False(t, n.Marked)
			require.Len(t, n.Locks, 1, n.Path)
			assert.Equal(t, c.inst.id.String(), n.Locks[0].Instance)
			assert.True(t, n.Locks[0].Live)
			assert.False(t, n.Locks[0].Ours)
			assert.True(t, n.LockedByOther())
			assert.Contains(t, n.Payload, hsCluster+"/")
		}
		assert.Equal(t, recovery.KindJobGraph, statusOf(t, r, c.p("jobgraphs/"+inspJob)).Kind)
		assert.Equal(t, recovery.KindCheckpoint, statusOf(t, r, c.p(cpPath(2))).Kind)
		counter := statusOf(t, r, c.p("jobs/"+inspJob+"/checkpoint_id_counter"))
		assert.Equal(t, recovery.KindIDCounter, counter.Kind)
		assert.Equal(t, "next ID 3", counter.Detail)
		if e.zk { // the test guard's node sits in the latch
			var latches int
			for _, n := range r.Nodes {
				if n.Kind == recovery.KindLatch {
					latches++
				}
			}
			assert.Equal(t, 1, latches)
		}
		s := r.String()
		assert.Contains(t, s, "orphan payloads: none")
		assert.NotContains(t, s, "problems")

		before := e.payloads()
		res, err := c.in.Clean(hsCtx(t), nil, 0)
		require.NoError(t, err)
		assert.Empty(t, res.Removed)
		assert.Equal(t, before, e.payloads())
	})
}

func TestInspectAndCleanProblems(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		c := newInspCluster(t, e)
		c.healthy(t)
		healthyPayloads := e.payloads()

		c.dangling(t, c.graphs, "gone")
		require.NoError(t, c.graphs.Put(ctx, e.guard, "bent", []byte("graph bent")))
		e.flipByte(e.payloadOf("submittedJobGraph-bent-"))
		require.NoError(t, c.graphs.Release(ctx, "gone"))
		require.NoError(t, c.graphs.Release(ctx, "bent"))
		junk := []byte("not a pointer")
		if e.zk {
			_, err := e.inspect.Create(ctx, "/jobgraphs/junk", junk, 0)
			require.NoError(t, err)
			_, err = e.inspect.Create(ctx, "/jobgraphs/junk/locks", nil, 0)
			require.NoError(t, err)
		} else {
			ptrs, err := hdfsstore.Open(ctx, "file://"+e.local)
			require.NoError(t, err)
			_, err = hdfsstore.PutBytes(ctx, ptrs, "jobgraphs/junk", junk)
			require.NoError(t, err)
			require.NoError(t, ptrs.Close())
		}
		orphan := c.orphan(t)
		var markedPayload string
		if e.zk { // a removal that stopped right after marking checkpoint 3
			_, err := c.cps.Add(ctx, e.guard, recovery.CompletedCheckpoint{ID: 3, Metadata: []byte("meta")})
			require.NoError(t, err)
			markedPayload = e.payloadOf("completedCheckpoint-" + inspJob + "-" + strings.Repeat("0", 18) + "3-")
			require.NoError(t, e.inspect.Delete(ctx, "/"+cpPath(3)+"/locks/"+c.inst.id.String(), -1))
			require.NoError(t, e.inspect.Delete(ctx, "/"+cpPath(3)+"/locks", -1))
		}
		bentPayload := e.payloadOf("submittedJobGraph-bent-")

		r := c.inspect(t)
		require.False(t, r.Healthy())
		assert.Equal(t, recovery.StatusMissing, statusOf(t, r, c.p("jobgraphs/gone")).Status)
		assert.Equal(t, recovery.StatusCorrupt, statusOf(t, r, c.p("jobgraphs/bent")).Status)
		assert.Equal(t, recovery.StatusUndecodable, statusOf(t, r, c.p("jobgraphs/junk")).Status)
		assert.Empty(t, statusOf(t, r, c.p("jobgraphs/gone")).Locks)
		for _, p := range []string{"jobgraphs/" + inspJob, cpPath(1), cpPath(2)} {
			assert.Equal(t, recovery.StatusOK, statusOf(t, r, c.p(p)).Status, p)
		}
		wantRemoved := []string{c.p("jobgraphs/bent"), c.p("jobgraphs/gone"), c.p("jobgraphs/junk"), orphan}
		if e.zk {
			m := statusOf(t, r, c.p(cpPath(3)))
			assert.True(t, m.Marked)
			assert.Equal(t, recovery.StatusOK, m.Status)
			assert.True(t, m.Cleanable())
			wantRemoved = append(wantRemoved, c.p(cpPath(3)))
		}
		require.Len(t, r.Orphans, 1)
		assert.Equal(t, orphan, r.Orphans[0].Name)
		assert.GreaterOrEqual(t, r.Orphans[0].Age, time.Duration(0))
		s := r.String()
		for _, want := range []string{"missing", "checksum mismatch", "undecodable", orphan} {
			assert.Contains(t, s, want)
		}
		if e.zk {
			assert.Contains(t, s, "marked for deletion")
		}

		res, err := c.in.Clean(ctx, r, 0)
		require.NoError(t, err)
		assert.ElementsMatch(t, wantRemoved, res.Removed)
		assert.Empty(t, res.Kept)

		// Exactly those went: the healthy payloads are what is left in storage.
		assert.Equal(t, healthyPayloads, e.payloads())
		assert.NotContains(t, e.payloads(), bentPayload)
		if e.zk {
			assert.NotContains(t, e.payloads(), markedPayload)
		}
		for _, k := range []string{"gone", "bent", "junk"} {
			assert.False(t, e.pointerExists("/jobgraphs", k), k)
		}

		r = c.inspect(t)
		require.True(t, r.Healthy())
		require.Len(t, r.Pointers(), 3)
		got, err := c.graphs.Recover(ctx, inspJob)
		require.NoError(t, err)
		assert.Equal(t, "graph", string(got))
		cp, skipped, ok, err := c.cps.Latest(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Empty(t, skipped)
		assert.EqualValues(t, 2, cp.ID)
	})
}

func TestInspectCleanKeepsPointersLockedByLiveInstance(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		c := newInspCluster(t, e)
		c.healthy(t)
		c.dangling(t, c.graphs, "gone")
		require.NoError(t, c.graphs.Release(ctx, "gone"))
		other := e.instance()
		otherGraphs, _ := inspStores(t, e, other)
		_, err := otherGraphs.Recover(ctx, "gone") // locks it, then finds it dangling
		require.ErrorIs(t, err, recovery.ErrDanglingPointer)

		if e.zk {
			// A lock of the inspecting session itself does not keep a pointer.
			mine := &hsInst{e: e, id: uuid.New(), cl: e.inspect}
			mineGraphs, _ := inspStores(t, e, mine)
			c.dangling(t, mineGraphs, "mine")
		}

		r := c.inspect(t)
		gone := statusOf(t, r, c.p("jobgraphs/gone"))
		assert.Equal(t, recovery.StatusMissing, gone.Status)
		require.Len(t, gone.Locks, 1)
		assert.Equal(t, other.id.String(), gone.Locks[0].Instance)
		assert.True(t, gone.Locks[0].Live)
		assert.True(t, gone.LockedByOther())
		if e.zk {
			m := statusOf(t, r, "/jobgraphs/mine")
			require.Len(t, m.Locks, 1)
			assert.True(t, m.Locks[0].Ours)
			assert.False(t, m.LockedByOther())
		}

		res, err := c.in.Clean(ctx, nil, 0)
		require.NoError(t, err)
		require.Len(t, res.Kept, 1)
		assert.Equal(t, c.p("jobgraphs/gone"), res.Kept[0].What)
		assert.Contains(t, res.Kept[0].Reason, "locked")
		assert.True(t, e.pointerExists("/jobgraphs", "gone"))
		if e.zk {
			assert.Equal(t, []string{"/jobgraphs/mine"}, res.Removed)
			assert.False(t, e.pointerExists("/jobgraphs", "mine"))
		} else {
			assert.Empty(t, res.Removed)
		}

		// Once the other instance lets go, clean removes it.
		require.NoError(t, otherGraphs.Release(ctx, "gone"))
		res, err = c.in.Clean(ctx, nil, 0)
		require.NoError(t, err)
		assert.Equal(t, []string{c.p("jobgraphs/gone")}, res.Removed)
		assert.True(t, c.inspect(t).Healthy())
	})
}

func TestInspectCleanKeepsYoungOrphans(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		c := newInspCluster(t, e)
		c.healthy(t)
		orphan := c.orphan(t)
		clock := time.Now()
		c.in.Now = func() time.Time { return clock }

		res, err := c.in.Clean(ctx, nil, recovery.DefaultOrphanGrace)
		require.NoError(t, err)
		assert.Empty(t, res.Removed)
		require.Len(t, res.Kept, 1)
		assert.Equal(t, orphan, res.Kept[0].What)
		assert.Contains(t, res.Kept[0].Reason, "grace")
		assert.Contains(t, e.payloads(), orphan)

		// A report taken before the orphan existed does not let clean touch it.
		clock = clock.Add(2 * recovery.DefaultOrphanGrace)
		res, err = c.in.Clean(ctx, &recovery.Report{}, recovery.DefaultOrphanGrace)
		require.NoError(t, err)
		assert.Empty(t, res.Removed)
		assert.Contains(t, e.payloads(), orphan)

		// Once older than the grace period, it goes.
		res, err = c.in.Clean(ctx, nil, recovery.DefaultOrphanGrace)
		require.NoError(t, err)
		assert.Equal(t, []string{orphan}, res.Removed)
		assert.NotContains(t, e.payloads(), orphan)
		assert.True(t, c.inspect(t).Healthy())
	})
}

func TestInspectRejectsBadTarget(t *testing.T) {
	st, _ := jrsOpenStore(t)
	_, err := (&recovery.Inspector{Storage: st}).Inspect(t.Context())
	require.Error(t, err)
	d, err := recovery.NewEmbeddedDir(t.TempDir())
	require.NoError(t, err)
	_, err = (&recovery.Inspector{Embedded: d, Storage: st, ClusterPath: "../x"}).Inspect(t.Context())
	require.ErrorIs(t, err, hdfsstore.ErrInvalidName)
}
