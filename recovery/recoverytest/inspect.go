package recoverytest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

const inspJob = "job-1"

// inspCluster is one AM instance's stores of a cluster in an Env, and an
// Inspector over the same cluster.
type inspCluster struct {
	e      *Env
	inst   *Instance
	graphs *recovery.JobGraphs
	cps    *recovery.Checkpoints
	ib     recovery.Backend // the inspector's
	in     *recovery.Inspector
}

func newInspCluster(t *testing.T, e *Env) *inspCluster {
	c := &inspCluster{e: e, inst: e.Instance()}
	c.graphs, c.cps = inspStores(c.inst)
	c.ib = e.Backend.Inspecting(t)
	c.in = &recovery.Inspector{Backend: c.ib, Storage: e.St, ClusterPath: Cluster, Logger: Logger(t)}
	return c
}

// inspStores opens the job graph store and job-1's checkpoint store of one instance.
func inspStores(i *Instance) (*recovery.JobGraphs, *recovery.Checkpoints) {
	return i.JobGraphs(), i.Checkpoints(inspJob, 10)
}

// p maps a pointer path to the form the report uses.
func (c *inspCluster) p(rel string) string { return c.e.Backend.ReportPath(rel) }

func cpPath(id int) string {
	return "jobs/" + inspJob + "/checkpoints/" + strings.Repeat("0", 18) + string(rune('0'+id))
}

// healthy stores a job graph, two checkpoints and a counter at 3.
func (c *inspCluster) healthy(t *testing.T) {
	ctx := Context(t)
	g := c.e.Guard()
	require.NoError(t, c.graphs.Put(ctx, g, inspJob, []byte("graph")))
	counter := c.inst.Counter(inspJob)
	for range 2 {
		id, err := counter.GetAndIncrement(ctx, g)
		require.NoError(t, err)
		_, err = c.cps.Add(ctx, g, recovery.CompletedCheckpoint{ID: id, Timestamp: time.Now(), Metadata: []byte("meta")})
		require.NoError(t, err)
	}
}

// dangling stores job graph key and deletes its payload.
func (c *inspCluster) dangling(t *testing.T, graphs *recovery.JobGraphs, key string) {
	ctx := Context(t)
	require.NoError(t, graphs.Put(ctx, c.e.Guard(), key, []byte("graph "+key)))
	require.NoError(t, c.e.St.Delete(ctx, c.e.PayloadOf("submittedJobGraph-"+key+"-")))
}

// orphan writes a job graph payload no pointer names.
func (c *inspCluster) orphan(t *testing.T) string {
	name := Cluster + "/submittedJobGraph-lost-" + uuid.NewString()
	_, err := recovery.WriteState(Context(t), c.e.St, name, []byte("lost"))
	require.NoError(t, err)
	return name
}

func (c *inspCluster) inspect(t *testing.T) *recovery.Report {
	r, err := c.in.Inspect(Context(t))
	require.NoError(t, err)
	t.Logf("report:\n%s", r)
	return r
}

func statusOf(t *testing.T, r *recovery.Report, p string) recovery.NodeReport {
	t.Helper()
	for _, n := range r.Nodes {
		if n.Path == p {
			return n
		}
	}
	require.Failf(t, "no such node", "no node %s in the report", p)
	return recovery.NodeReport{}
}

// pointers returns the report's pointer nodes.
func pointers(r *recovery.Report) []recovery.NodeReport {
	var out []recovery.NodeReport
	for _, n := range r.Nodes {
		if n.Kind == recovery.KindJobGraph || n.Kind == recovery.KindCheckpoint {
			out = append(out, n)
		}
	}
	return out
}

func testInspectHealthy(t *testing.T, e *Env) {
	c := newInspCluster(t, e)
	c.healthy(t)
	r := c.inspect(t)
	require.True(t, r.Healthy())
	require.Empty(t, r.Orphans)
	ptrs := pointers(r)
	require.Len(t, ptrs, 3)
	for _, n := range ptrs {
		assert.Equal(t, recovery.StatusOK, n.Status, n.Path)
		assert.False(t, n.Marked)
		require.Len(t, n.Locks, 1, n.Path)
		assert.Equal(t, c.inst.ID.String(), n.Locks[0].Instance)
		assert.True(t, n.Locks[0].Live)
		assert.False(t, n.Locks[0].Ours)
		assert.True(t, n.LockedByOther())
		assert.Contains(t, n.Payload, Cluster+"/")
		assert.Equal(t, e.Guard().SessionID().String(), n.Leader, "%s: the pointer is stamped with the leader session that stored it", n.Path)
	}
	cp := statusOf(t, r, c.p(cpPath(2)))
	assert.Equal(t, e.Guard().SessionID(), cp.PayloadLeader, "the checkpoint payload is stamped with the leader session that stored it")
	assert.Equal(t, uuid.Nil, statusOf(t, r, c.p("jobgraphs/"+inspJob)).PayloadLeader, "only checkpoint payloads are read for a stamp")
	assert.Equal(t, recovery.KindJobGraph, statusOf(t, r, c.p("jobgraphs/"+inspJob)).Kind)
	assert.Equal(t, recovery.KindCheckpoint, statusOf(t, r, c.p(cpPath(2))).Kind)
	counter := statusOf(t, r, c.p("jobs/"+inspJob+"/checkpoint_id_counter"))
	assert.Equal(t, recovery.KindIDCounter, counter.Kind)
	assert.Equal(t, "next ID 3", counter.Detail)
	var latches int // a test guard's latch node
	for _, n := range r.Nodes {
		if n.Kind == recovery.KindLatch {
			latches++
		}
	}
	assert.Equal(t, e.Backend.GuardLatches(), latches)
	s := r.String()
	assert.Contains(t, s, "orphan payloads: none")
	assert.NotContains(t, s, "problems")

	before := e.Payloads()
	res, err := c.in.Clean(Context(t), nil, 0)
	require.NoError(t, err)
	assert.Empty(t, res.Removed)
	assert.Equal(t, before, e.Payloads())
}

func testInspectAndCleanProblems(t *testing.T, e *Env) {
	ctx := Context(t)
	c := newInspCluster(t, e)
	c.healthy(t)
	healthyPayloads := e.Payloads()

	c.dangling(t, c.graphs, "gone")
	require.NoError(t, c.graphs.Put(ctx, e.Guard(), "bent", []byte("graph bent")))
	e.FlipByte(e.PayloadOf("submittedJobGraph-bent-"))
	require.NoError(t, c.graphs.Release(ctx, "gone"))
	require.NoError(t, c.graphs.Release(ctx, "bent"))
	junk := []byte("not a pointer")
	e.Backend.WritePointer(t, "/jobgraphs", "junk", junk)
	orphan := c.orphan(t)
	var markedPayload string
	marking, marks := e.Backend.(Marking)
	if marks { // a removal that stopped right after marking checkpoint 3
		_, err := c.cps.Add(ctx, e.Guard(), recovery.CompletedCheckpoint{ID: 3, Metadata: []byte("meta")})
		require.NoError(t, err)
		markedPayload = e.PayloadOf("completedCheckpoint-" + inspJob + "-" + strings.Repeat("0", 18) + "3-")
		marking.Mark(t, recovery.CheckpointsDir(inspJob), strings.Repeat("0", 18)+"3", c.inst.ID)
	}
	bentPayload := e.PayloadOf("submittedJobGraph-bent-")

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
	if marks {
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
	if marks {
		assert.Contains(t, s, "marked for deletion")
	}

	res, err := c.in.Clean(ctx, r, 0)
	require.NoError(t, err)
	assert.ElementsMatch(t, wantRemoved, res.Removed)
	assert.Empty(t, res.Kept)

	// Exactly those went: the healthy payloads are what is left in storage.
	assert.Equal(t, healthyPayloads, e.Payloads())
	assert.NotContains(t, e.Payloads(), bentPayload)
	if marks {
		assert.NotContains(t, e.Payloads(), markedPayload)
	}
	for _, k := range []string{"gone", "bent", "junk"} {
		assert.False(t, e.PointerExists("/jobgraphs", k), k)
	}

	r = c.inspect(t)
	require.True(t, r.Healthy())
	require.Len(t, pointers(r), 3)
	got, err := c.graphs.Recover(ctx, inspJob)
	require.NoError(t, err)
	assert.Equal(t, "graph", string(got))
	cp, ok, err := c.cps.Latest(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.EqualValues(t, 2, cp.ID)
}

func testInspectCleanKeepsPointersLockedByLiveInstance(t *testing.T, e *Env) {
	ctx := Context(t)
	c := newInspCluster(t, e)
	c.healthy(t)
	c.dangling(t, c.graphs, "gone")
	require.NoError(t, c.graphs.Release(ctx, "gone"))
	other := e.Instance()
	otherGraphs, _ := inspStores(other)
	_, err := otherGraphs.Recover(ctx, "gone") // locks it, then finds it dangling
	require.ErrorIs(t, err, recovery.ErrDanglingPointer)

	sessions := e.Backend.SessionLocks()
	if sessions {
		// A lock of the inspecting session itself does not keep a pointer.
		mine := e.InstanceOn(c.ib)
		mineGraphs, _ := inspStores(mine)
		c.dangling(t, mineGraphs, "mine")
	}

	r := c.inspect(t)
	gone := statusOf(t, r, c.p("jobgraphs/gone"))
	assert.Equal(t, recovery.StatusMissing, gone.Status)
	require.Len(t, gone.Locks, 1)
	assert.Equal(t, other.ID.String(), gone.Locks[0].Instance)
	assert.True(t, gone.Locks[0].Live)
	assert.True(t, gone.LockedByOther())
	if sessions {
		m := statusOf(t, r, c.p("jobgraphs/mine"))
		require.Len(t, m.Locks, 1)
		assert.True(t, m.Locks[0].Ours)
		assert.False(t, m.LockedByOther())
	}

	res, err := c.in.Clean(ctx, nil, 0)
	require.NoError(t, err)
	require.Len(t, res.Kept, 1)
	assert.Equal(t, c.p("jobgraphs/gone"), res.Kept[0].What)
	assert.Contains(t, res.Kept[0].Reason, "locked")
	assert.True(t, e.PointerExists("/jobgraphs", "gone"))
	if sessions {
		assert.Equal(t, []string{c.p("jobgraphs/mine")}, res.Removed)
		assert.False(t, e.PointerExists("/jobgraphs", "mine"))
	} else {
		assert.Empty(t, res.Removed)
	}

	// Once the other instance lets go, clean removes it.
	require.NoError(t, otherGraphs.Release(ctx, "gone"))
	res, err = c.in.Clean(ctx, nil, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{c.p("jobgraphs/gone")}, res.Removed)
	assert.True(t, c.inspect(t).Healthy())
}

func testInspectCleanKeepsYoungOrphans(t *testing.T, e *Env) {
	ctx := Context(t)
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
	assert.Contains(t, e.Payloads(), orphan)

	// A report taken before the orphan existed does not let clean touch it.
	clock = clock.Add(2 * recovery.DefaultOrphanGrace)
	res, err = c.in.Clean(ctx, &recovery.Report{}, recovery.DefaultOrphanGrace)
	require.NoError(t, err)
	assert.Empty(t, res.Removed)
	assert.Contains(t, e.Payloads(), orphan)

	// Once older than the grace period, it goes.
	res, err = c.in.Clean(ctx, nil, recovery.DefaultOrphanGrace)
	require.NoError(t, err)
	assert.Equal(t, []string{orphan}, res.Removed)
	assert.NotContains(t, e.Payloads(), orphan)
	assert.True(t, c.inspect(t).Healthy())
}
