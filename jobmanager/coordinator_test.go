package jobmanager_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
)

// TestCoordinatorRecoverReadsTheLatestCheckpoint: Recover, what a deploy does
// before placing subtasks, finds no checkpoint for a fresh job, the latest one
// once some are stored, and refuses metadata that does not fit the job.
func TestCoordinatorRecoverReadsTheLatestCheckpoint(t *testing.T) {
	ctx := context.Background()
	cfg, err := conf.Load(conf.Options{ApplicationID: "application_1_0001"})
	require.NoError(t, err)
	svc, err := haservices.Open(ctx, cfg, haservices.Options{LocalDir: t.TempDir(), Logger: logging.ForTest(t)})
	require.NoError(t, err)
	t.Cleanup(func() { svc.Close() })
	grants := make(chan recovery.Grant, 1)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Election().Run(runCtx, func(g recovery.Grant) { grants <- g; <-g.Done() })
	}()
	t.Cleanup(func() { cancel(); <-done })
	var g recovery.Grant
	select {
	case g = <-grants:
	case <-time.After(10 * time.Second):
		t.Fatal("no leadership")
	}

	spec, err := job.ParseSpec([]byte("name: two\nparallelism: 2\npipeline:\n  - sequence: {rate: 1ms}\n  - file: {path: out}\n"), "two.yaml")
	require.NoError(t, err)
	graph := job.Graph{ID: job.NewJobID(), Spec: spec}
	encoded, err := graph.Encode()
	require.NoError(t, err)
	id := string(graph.ID)

	tms := jobmanager.NewTaskManagers(time.Second, 10*time.Second, logging.ForTest(t))
	c := jobmanager.NewCoordinator(tms, svc, testSecret, time.Second, time.Second, logging.ForTest(t))
	restored, err := c.Recover(ctx, id, encoded)
	require.NoError(t, err)
	require.Zero(t, restored, "a fresh job restores nothing")

	cps, err := svc.CheckpointStore(ctx, id)
	require.NoError(t, err)
	for cp := int64(1); cp <= 2; cp++ {
		md, err := json.Marshal(jobmanager.CheckpointMetadata{Handles: [][]byte{[]byte("h0"), []byte("h1")}})
		require.NoError(t, err)
		_, err = cps.Add(ctx, g, recovery.CompletedCheckpoint{JobID: id, ID: cp, Timestamp: time.Now(), Metadata: md})
		require.NoError(t, err)
	}
	restored, err = c.Recover(ctx, id, encoded)
	require.NoError(t, err)
	require.Equal(t, int64(2), restored)

	md, err := json.Marshal(jobmanager.CheckpointMetadata{Handles: [][]byte{[]byte("only one")}})
	require.NoError(t, err)
	_, err = cps.Add(ctx, g, recovery.CompletedCheckpoint{JobID: id, ID: 3, Timestamp: time.Now(), Metadata: md})
	require.NoError(t, err)
	_, err = c.Recover(ctx, id, encoded)
	var ue *recovery.UnreadableCheckpointError
	require.ErrorAs(t, err, &ue, "never skipped for checkpoint 2")
	require.Equal(t, int64(3), ue.ID)
	require.ErrorIs(t, err, recovery.ErrCorruptState)
	require.ErrorContains(t, err, "metadata holds 1 state handles, want 2")

	_, err = c.Recover(ctx, id, []byte("not a graph"))
	require.ErrorContains(t, err, "decode the job graph")
}

// TestCoordinatorReleasesItsCheckpointLocksWhenTheRunEnds: while a job runs
// here its restored checkpoint is locked by this instance; once its run ends
// (the grant ended, or the job was canceled) the lock is released, so that a
// cancel under the next leader can remove the checkpoint while this process
// lives on. Before, the locks stayed until the process's session ended.
func TestCoordinatorReleasesItsCheckpointLocksWhenTheRunEnds(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx := context.Background()
	spec, err := job.ParseSpec([]byte("name: one\nparallelism: 1\npipeline:\n  - sequence: {rate: 1ms}\n  - file: {path: out}\n"), "one.yaml")
	require.NoError(t, err)
	graph := job.Graph{ID: job.NewJobID(), Spec: spec}
	encoded, err := graph.Encode()
	require.NoError(t, err)
	id := string(graph.ID)
	cps, err := p.svc.CheckpointStore(ctx, id)
	require.NoError(t, err)
	md, err := json.Marshal(jobmanager.CheckpointMetadata{Handles: [][]byte{[]byte("h0")}})
	require.NoError(t, err)
	_, err = cps.Add(ctx, p.g, recovery.CompletedCheckpoint{JobID: id, ID: 1, Timestamp: time.Now(), Metadata: md})
	require.NoError(t, err)
	require.NoError(t, cps.Shutdown(ctx, p.g, false))
	locks := func() int {
		report, err := p.svc.Inspector().Inspect(ctx)
		require.NoError(t, err)
		n := 0
		for _, node := range report.Nodes {
			if node.Kind == recovery.KindCheckpoint && node.JobID == id {
				n += len(node.Locks)
			}
		}
		return n
	}
	require.Zero(t, locks())

	tms := jobmanager.NewTaskManagers(time.Second, 10*time.Second, logging.ForTest(t))
	c := jobmanager.NewCoordinator(tms, p.svc, testSecret, time.Second, time.Second, logging.ForTest(t))
	runCtx, cancel := context.WithCancel(p.g.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Deploy(runCtx, p.g, id, encoded) // restores checkpoint 1, then waits for a TaskManager
	}()
	require.Eventually(t, func() bool { return locks() == 1 }, 10*time.Second, 10*time.Millisecond,
		"the restored checkpoint is locked while the job runs here")
	cancel()
	<-done
	require.Zero(t, locks(), "the run ended: its locks are released")
}
