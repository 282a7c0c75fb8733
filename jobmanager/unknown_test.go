package jobmanager_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// blockingList is a job graph store whose listing waits for release: a leader
// still recovering its jobs.
type blockingList struct {
	recovery.JobGraphStore
	release chan struct{}
}

func (b *blockingList) StoredJobIDs(ctx context.Context) ([]string, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.JobGraphStore.StoredJobIDs(ctx)
}

// cancelingTM is a TaskManager that records the jobs it is told to cancel.
type cancelingTM struct {
	ackingTM
	mu       sync.Mutex
	canceled []string
}

func (tm *cancelingTM) Cancel(jobID string) int {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.canceled = append(tm.canceled, jobID)
	return 1
}

func (tm *cancelingTM) jobs() []string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return slices.Clone(tm.canceled)
}

// TestTasksOfAJobTheLeaderDoesNotKnowAreCanceledOnceItsJobsAreRecovered: a
// TaskManager registers with a subtask of job A (stored, so recovered) and one
// of job B (no graph: canceled or removed while leaderless). While the leader
// is still listing its jobs, B is not unknown yet: nothing is canceled. Once its
// jobs are recovered, B's tasks are canceled at once — not after the
// TaskManager's grace period — and A's never; a later registration with B's
// task again is answered with a cancel again.
func TestTasksOfAJobTheLeaderDoesNotKnowAreCanceledOnceItsJobsAreRecovered(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx := context.Background()
	log := logging.ForTest(t)
	require.NoError(t, p.graphs.Put(ctx, p.g, jobA, encodedGraph(t, jobA, "counts")))
	require.NoError(t, p.graphs.Release(ctx, jobA))

	fake := &cancelingTM{}
	srv := httptest.NewServer(tmapi.TaskManagerHandler(fake, testSecret))
	t.Cleanup(srv.Close)
	tms := jobmanager.NewTaskManagers(time.Second, time.Minute, log)
	tms.SetLeader(p.g.SessionID())
	register := func() {
		_, err := tms.Register(ctx, tmapi.Registration{ContainerID: "c1", Slots: 2, Address: srv.URL, LeaderSession: p.g.SessionID().String(),
			Tasks: []tmapi.RunningTask{{JobID: jobA, Subtask: 0, Execution: "e1"}, {JobID: jobB, Subtask: 0, Execution: "e2"}}})
		require.NoError(t, err)
	}
	register()
	coord := jobmanager.NewCoordinator(tms, p.svc, testSecret, time.Hour, 10*time.Second, log)
	graphs := &blockingList{JobGraphStore: p.graphs, release: make(chan struct{})}
	d := jobmanager.NewDispatcher(graphs, p.results, nil, log)
	startGrant(t, d, p)
	swept := make(chan struct{})
	sctx, stop := context.WithCancel(p.g.Context())
	go func() { defer close(swept); coord.CancelUnknown(sctx, p.g, d, log) }()
	t.Cleanup(func() { stop(); <-swept })

	require.Never(t, func() bool { return len(fake.jobs()) > 0 }, 500*time.Millisecond, 10*time.Millisecond,
		"while the leader is still recovering its jobs, no job is unknown: nothing is canceled")
	require.False(t, d.Recovered())

	close(graphs.release)
	require.Eventually(t, d.Recovered, 20*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return slices.Equal(fake.jobs(), []string{jobB}) }, 20*time.Second, 5*time.Millisecond,
		"once the jobs are recovered, the unknown job's tasks are canceled (and only they)")

	register() // the TaskManager registers again, still reporting B's task
	require.Eventually(t, func() bool { return slices.Equal(fake.jobs(), []string{jobB, jobB}) }, 20*time.Second, 5*time.Millisecond,
		"a new registration with the unknown job's task is answered with a cancel again")
	require.NotContains(t, fake.jobs(), jobA, "the recovered job's task is never canceled")
}
