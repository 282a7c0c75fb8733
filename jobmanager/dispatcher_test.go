package jobmanager_test

import (
	"context"
	"errors"
	"sync"
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

const jobA = "0000000000000000000000000000000a"

// amProcess is one AM's HA services and dispatcher, as one process would have.
type amProcess struct {
	svc      *recovery.Services
	d        *jobmanager.Dispatcher
	mu       sync.Mutex
	deployed []string
	granted  chan struct{}
	stop     func()
}

func startDispatcher(t *testing.T, local string) *amProcess {
	cfg, err := conf.Load(conf.Options{ApplicationID: "application_1_0001"})
	require.NoError(t, err)
	ctx := context.Background()
	svc, err := haservices.Open(ctx, cfg, haservices.Options{LocalDir: local, Logger: logging.ForTest(t)})
	require.NoError(t, err)
	graphs, err := svc.JobGraphStore(ctx)
	require.NoError(t, err)
	results, err := svc.JobResultStore()
	require.NoError(t, err)
	p := &amProcess{svc: svc, granted: make(chan struct{})}
	p.d = jobmanager.NewDispatcher(graphs, results, func(ctx context.Context, g recovery.Grant, id string, graph []byte) {
		p.mu.Lock()
		p.deployed = append(p.deployed, id+":"+string(graph))
		p.mu.Unlock()
		<-ctx.Done()
	}, logging.ForTest(t))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Election().Run(runCtx, func(g recovery.Grant) {
			wait := p.d.Start(g.Context(), g) // the dispatcher leads once Start returns
			close(p.granted)
			wait()
		})
	}()
	var once sync.Once
	p.stop = func() { once.Do(func() { cancel(); <-done; svc.Close() }) }
	t.Cleanup(p.stop)
	select {
	case <-p.granted:
	case <-time.After(10 * time.Second):
		t.Fatal("no leadership")
	}
	// Submissions are answered 503 until the grant's stored jobs are listed.
	require.Eventually(t, p.d.Recovered, 10*time.Second, 5*time.Millisecond)
	return p
}

func (p *amProcess) deployments() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.deployed...)
}

// encodedGraph is a valid encoded job graph of id writing to sink path path.
func encodedGraph(t *testing.T, id, path string) []byte {
	t.Helper()
	spec, err := job.ParseSpec([]byte("name: counting\nparallelism: 1\npipeline:\n  - sequence: {rate: 1s}\n  - file: {path: "+path+"}\n"), "test.yaml")
	require.NoError(t, err)
	b, err := job.Graph{ID: job.JobID(id), Spec: spec}.Encode()
	require.NoError(t, err)
	return b
}

func TestDispatcherSubmitRecoverCancel(t *testing.T) {
	local := t.TempDir()
	ctx := context.Background()
	first := startDispatcher(t, local)
	graphA := encodedGraph(t, jobA, "counts")
	require.Error(t, first.d.Submit(ctx, jobmanager.JobSubmission{JobID: "not-hex!", Graph: graphA}))
	require.ErrorIs(t, first.d.Submit(ctx, jobmanager.JobSubmission{JobID: jobA, Graph: []byte("g")}), jobmanager.ErrInvalidSubmission)
	require.NoError(t, first.d.Submit(ctx, jobmanager.JobSubmission{JobID: jobA, Name: "counting", Graph: graphA}))
	require.ErrorIs(t, first.d.Submit(ctx, jobmanager.JobSubmission{JobID: jobA, Name: "again", Graph: graphA}), jobmanager.ErrJobExists)
	require.Eventually(t, func() bool { return len(first.deployments()) == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, []jobmanager.JobStatus{{JobID: jobA, Name: "counting", State: jobmanager.JobRunning}}, first.d.Jobs())
	first.stop() // the AM process is gone

	second := startDispatcher(t, local)
	require.Eventually(t, func() bool { return len(second.deployments()) == 1 }, 5*time.Second, 5*time.Millisecond,
		"the next AM recovers the stored job graph")
	require.Len(t, second.deployments(), 1)
	require.Equal(t, []jobmanager.JobStatus{{JobID: jobA, Name: "counting", State: jobmanager.JobRunning}}, second.d.Jobs(),
		"the recovered job keeps its name")

	require.NoError(t, second.d.Cancel(ctx, jobA))
	require.Empty(t, second.d.Jobs())
	require.ErrorIs(t, second.d.Submit(ctx, jobmanager.JobSubmission{JobID: jobA, Graph: graphA}), jobmanager.ErrJobExists,
		"a finished job is not resubmitted")
	second.stop()

	third := startDispatcher(t, local)
	require.Eventually(t, third.d.Recovered, 5*time.Second, 5*time.Millisecond)
	require.Empty(t, third.d.Jobs(), "a canceled job stays canceled after a failover")
	require.Empty(t, third.deployments())
	st, err := third.d.Status(ctx, jobA)
	require.NoError(t, err)
	require.Equal(t, jobmanager.JobStatus{JobID: jobA, Name: "counting", State: jobmanager.JobCanceled}, st,
		"the canceled job stays queryable from the job result store")
}

// unlistable is a job graph store whose listing always fails.
type unlistable struct{ recovery.JobGraphStore }

func (unlistable) StoredJobIDs(context.Context) ([]string, error) {
	return nil, errors.New("storage unreachable")
}

// TestDispatcherGivesUpAGrantItCannotRecover: when the stored jobs cannot be
// listed (five tries with backoff), GaveUp closes so the AM gives the grant up;
// the grant's jobs are never reported recovered.
func TestDispatcherGivesUpAGrantItCannotRecover(t *testing.T) {
	cfg, err := conf.Load(conf.Options{ApplicationID: "application_1_0001"})
	require.NoError(t, err)
	ctx := context.Background()
	svc, err := haservices.Open(ctx, cfg, haservices.Options{LocalDir: t.TempDir(), Logger: logging.ForTest(t)})
	require.NoError(t, err)
	t.Cleanup(func() { svc.Close() })
	graphs, err := svc.JobGraphStore(ctx)
	require.NoError(t, err)
	results, err := svc.JobResultStore()
	require.NoError(t, err)
	d := jobmanager.NewDispatcher(unlistable{graphs}, results, nil, logging.ForTest(t))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	grants := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Election().Run(runCtx, func(g recovery.Grant) {
			dctx, stop := context.WithCancel(g.Context())
			wait := d.Start(dctx, g)
			grants <- struct{}{}
			select {
			case <-d.GaveUp():
			case <-g.Done():
			}
			stop()
			wait()
		})
	}()
	<-grants
	select {
	case <-grants:
		// The first grant was given up and the election granted again.
	case <-time.After(20 * time.Second):
		t.Fatal("the grant was not given up")
	}
	require.False(t, d.Recovered())
	cancel()
	<-done
}
