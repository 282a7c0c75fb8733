package jobmanager_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// lateWrites is a backend whose first checkpoint write behaves as the ZooKeeper
// client does under load: the call waits (its request not yet sent), and when
// its context ends first the caller gets the context's error while the request
// is still applied later — here when the test closes late. A write whose
// context does not end goes on once the test closes release.
type lateWrites struct {
	recovery.Backend
	entered, release, late, applied chan struct{}
	once                            sync.Once
	abandoned                       atomic.Bool
}

func newLateWrites(b recovery.Backend) *lateWrites {
	return &lateWrites{Backend: b, entered: make(chan struct{}), release: make(chan struct{}),
		late: make(chan struct{}), applied: make(chan struct{})}
}

func (b *lateWrites) PointerStore(ctx context.Context, cfg recovery.PointerStoreConfig) (recovery.PointerStore, error) {
	ps, err := b.Backend.PointerStore(ctx, cfg)
	if err != nil || !strings.HasSuffix(cfg.Dir, "/checkpoints") {
		return ps, err
	}
	return &latePointers{PointerStore: ps, b: b, cfg: cfg}, nil
}

type latePointers struct {
	recovery.PointerStore
	b   *lateWrites
	cfg recovery.PointerStoreConfig
}

func (s *latePointers) Put(ctx context.Context, g recovery.Guard, key string, payload []byte) error {
	first := false
	s.b.once.Do(func() { first = true; close(s.b.entered) })
	if !first {
		return s.PointerStore.Put(ctx, g, key, payload)
	}
	select {
	case <-ctx.Done():
		s.b.abandoned.Store(true)
		go func() {
			defer close(s.b.applied)
			<-s.b.late
			// The request as sent: it does not know the store was closed since.
			ps, err := s.b.Backend.PointerStore(context.Background(), s.cfg)
			if err == nil {
				_ = ps.Put(context.Background(), g, key, payload)
			}
		}()
		return ctx.Err()
	case <-s.b.release:
		return s.PointerStore.Put(ctx, g, key, payload)
	}
}

func (s *latePointers) RemoveDir(ctx context.Context, g recovery.Guard) error {
	if d, ok := s.PointerStore.(recovery.DirRemover); ok {
		return d.RemoveDir(ctx, g)
	}
	return nil
}

// ackingTM is a TaskManager that runs nothing and acknowledges every command.
type ackingTM struct{}

func (ackingTM) Status() tmapi.Status                                          { return tmapi.Status{} }
func (ackingTM) CheckLeader(string) error                                      { return nil }
func (ackingTM) Deploy(context.Context, tmapi.Deployment) error                { return nil }
func (ackingTM) Cancel(string) int                                             { return 1 }
func (ackingTM) CompleteCheckpoint(context.Context, tmapi.TaskID, int64) error { return nil }
func (ackingTM) AbortCheckpoint(context.Context, tmapi.TaskID, int64) error    { return nil }
func (ackingTM) TriggerCheckpoint(context.Context, tmapi.TaskID, int64) (tmapi.CheckpointAck, error) {
	return tmapi.CheckpointAck{Handle: []byte("h0")}, nil
}

// TestCancelDuringACheckpointWriteLeavesNoCheckpoint: a job is canceled while
// its coordinator stores a completed checkpoint whose request is not yet sent.
// Cancel returns only once the job's HA data is removed, and nothing of the job
// is left in the pointer store afterwards. Before, the cancel ended the write's
// context: the write was abandoned, the cleanup ran and returned, and the
// abandoned create landed after it — a checkpoint pointer, locked by the old
// run, left behind a canceled job whose result was already marked clean.
func TestCancelDuringACheckpointWriteLeavesNoCheckpoint(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx := context.Background()
	log := logging.ForTest(t)
	lw := newLateWrites(p.svc.Backend())
	svc, err := recovery.NewServices(recovery.ServicesConfig{Backend: lw, Storage: p.svc.Storage(),
		ClusterPath: strings.TrimSuffix(p.svc.StateRoot(), "/state"), RetainedCheckpoints: 1, Logger: log})
	require.NoError(t, err) // not closed: p.svc owns the backend and storage

	tm := httptest.NewServer(tmapi.TaskManagerHandler(ackingTM{}, testSecret))
	t.Cleanup(tm.Close)
	tms := jobmanager.NewTaskManagers(time.Second, time.Minute, log)
	tms.SetLeader(p.g.SessionID())
	_, err = tms.Register(ctx, tmapi.Registration{ContainerID: "c1", Slots: 1, Address: tm.URL, LeaderSession: p.g.SessionID().String()})
	require.NoError(t, err)
	coord := jobmanager.NewCoordinator(tms, svc, testSecret, 10*time.Millisecond, 10*time.Second, log)
	runs := make(chan context.Context, 1)
	deploy := func(ctx context.Context, g recovery.Grant, id string, payload []byte) {
		runs <- ctx
		coord.Deploy(ctx, g, id, payload)
	}
	require.NoError(t, p.graphs.Put(ctx, p.g, jobA, encodedGraph(t, jobA, "counts")))
	require.NoError(t, p.graphs.Release(ctx, jobA))
	d := jobmanager.NewDispatcher(p.graphs, p.results, deploy, log)
	d.SetCleanup(svc)
	startGrant(t, d, p)

	var run context.Context
	select {
	case run = <-runs:
	case <-time.After(20 * time.Second):
		t.Fatal("the job was not deployed")
	}
	select {
	case <-lw.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("no checkpoint was stored")
	}
	canceled := make(chan error, 1)
	go func() { canceled <- d.Cancel(ctx, jobA) }()
	select {
	case <-run.Done(): // the cancel recorded the result and ends the run
	case <-time.After(20 * time.Second):
		t.Fatal("the cancel did not end the job's run")
	}
	close(lw.release)
	select {
	case err := <-canceled:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the cancel did not return")
	}
	if lw.abandoned.Load() {
		close(lw.late)
		<-lw.applied
	}

	report, err := p.svc.Inspector().Inspect(ctx)
	require.NoError(t, err)
	for _, n := range report.Nodes {
		require.NotEqual(t, jobA, n.JobID, "no pointer or counter of the canceled job is left: %+v", n)
	}
	dirty, err := p.results.Dirty(ctx)
	require.NoError(t, err)
	require.Empty(t, dirty, "the cancel's cleanup finished")
	st, err := d.Status(ctx, jobA)
	require.NoError(t, err)
	require.Equal(t, jobmanager.JobCanceled, st.State)
}
