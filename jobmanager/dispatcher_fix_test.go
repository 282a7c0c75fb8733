package jobmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
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

const jobB = "0000000000000000000000000000000b"

// haProcess is one process's HA services holding a leadership grant, for tests
// that drive a dispatcher's grants themselves.
type haProcess struct {
	svc     *recovery.Services
	graphs  recovery.JobGraphStore
	results recovery.JobResultStore
	g       recovery.Grant
}

// leadingServices opens the HA services on local and waits for their grant,
// held until the test ends.
func leadingServices(t *testing.T, local string) *haProcess {
	t.Helper()
	cfg, err := conf.Load(conf.Options{ApplicationID: "application_1_0001"})
	require.NoError(t, err)
	ctx := context.Background()
	svc, err := haservices.Open(ctx, cfg, haservices.Options{LocalDir: local, Logger: logging.ForTest(t)})
	require.NoError(t, err)
	p := &haProcess{svc: svc}
	p.graphs, err = svc.JobGraphStore(ctx)
	require.NoError(t, err)
	p.results, err = svc.JobResultStore()
	require.NoError(t, err)
	grants := make(chan recovery.Grant, 1)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Election().Run(runCtx, func(g recovery.Grant) { grants <- g; <-g.Done() })
	}()
	t.Cleanup(func() { cancel(); <-done; svc.Close() })
	select {
	case p.g = <-grants:
	case <-time.After(10 * time.Second):
		t.Fatal("no leadership")
	}
	return p
}

// deployLog is a DeployFunc that records each deployment and runs it until its
// context ends.
type deployLog struct {
	mu   sync.Mutex
	ctxs []context.Context
}

func (l *deployLog) deploy(ctx context.Context, _ recovery.Grant, _ string, _ []byte) {
	l.mu.Lock()
	l.ctxs = append(l.ctxs, ctx)
	l.mu.Unlock()
	<-ctx.Done()
}

// live is how many deployments run now.
func (l *deployLog) live() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ctx := range l.ctxs {
		if ctx.Err() == nil {
			n++
		}
	}
	return n
}

func (l *deployLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ctxs)
}

// startGrant starts d on p's grant with its own context; the returned func
// ends it and waits.
func startGrant(t *testing.T, d *jobmanager.Dispatcher, p *haProcess) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(p.g.Context())
	wait := d.Start(ctx, p.g)
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wait() }) }
	t.Cleanup(stop)
	return stop
}

// blockingPut is a job graph store whose Put waits for release.
type blockingPut struct {
	recovery.JobGraphStore
	entered, release chan struct{}
}

func (b *blockingPut) Put(ctx context.Context, g recovery.Guard, id string, graph []byte) error {
	close(b.entered)
	<-b.release
	return b.JobGraphStore.Put(ctx, g, id, graph)
}

// TestSubmitRacingTheEndOfAGrantLeavesNothingBehind: a submission whose graph
// is stored while its grant ends is acknowledged (the graph is stored) but does
// not stay listed under the ended grant; the next grant recovers and runs it.
// Before, the stale entry made the next grant skip the job: shown RUNNING, never run.
func TestSubmitRacingTheEndOfAGrantLeavesNothingBehind(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	store := &blockingPut{JobGraphStore: p.graphs, entered: make(chan struct{}), release: make(chan struct{})}
	deployed := &deployLog{}
	d := jobmanager.NewDispatcher(store, p.results, deployed.deploy, logging.ForTest(t))
	stop := startGrant(t, d, p)
	require.Eventually(t, d.Recovered, 5*time.Second, 5*time.Millisecond)

	submitted := make(chan error, 1)
	go func() {
		submitted <- d.Submit(context.Background(), jobmanager.JobSubmission{JobID: jobA, Name: "counting", Graph: encodedGraph(t, jobA, "counts")})
	}()
	<-store.entered
	stop() // the grant's dispatcher ends while the graph is being stored
	close(store.release)
	require.NoError(t, <-submitted, "the graph is stored: the submission is acknowledged")
	require.Empty(t, d.Jobs(), "nothing outlives its grant")
	require.Zero(t, deployed.live())

	startGrant(t, d, p)
	require.Eventually(t, func() bool { return deployed.live() == 1 }, 5*time.Second, 5*time.Millisecond,
		"the next grant recovers and runs the job")
	require.Equal(t, []jobmanager.JobStatus{{JobID: jobA, Name: "counting", State: jobmanager.JobRunning}}, d.Jobs())
}

// TestStatusShowsTheCoordinatorsHealth: GET /jobs/{id} (Status) reports a job
// whose recovery failed as GET /jobs does, not as RUNNING.
func TestStatusShowsTheCoordinatorsHealth(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	d := jobmanager.NewDispatcher(p.graphs, p.results, (&deployLog{}).deploy, logging.ForTest(t))
	failed := jobmanager.JobHealth{State: jobmanager.JobRecoveryFailed, Error: "checkpoint 7 is unreadable", Checkpoint: 7, File: "f"}
	d.ReportHealth(func(id string) (jobmanager.JobHealth, bool) { return failed, id == jobA })
	startGrant(t, d, p)
	require.Eventually(t, d.Recovered, 5*time.Second, 5*time.Millisecond)
	graph := encodedGraph(t, jobA, "counts")
	require.NoError(t, d.Submit(context.Background(), jobmanager.JobSubmission{JobID: jobA, Name: "counting", Graph: graph}))
	want := jobmanager.JobStatus{JobID: jobA, Name: "counting", State: jobmanager.JobRecoveryFailed,
		Error: "checkpoint 7 is unreadable", Checkpoint: 7, File: "f"}
	require.Equal(t, []jobmanager.JobStatus{want}, d.Jobs())
	st, err := d.Status(context.Background(), jobA)
	require.NoError(t, err)
	want.GraphSHA256 = jobmanager.GraphDigest(graph) // GET /jobs/{id} identifies the submission too
	require.Equal(t, want, st)
}

// failingRecoverAll is a job graph store whose first RecoverAll fails for every
// job, as storage unreachable for a moment does.
type failingRecoverAll struct {
	recovery.JobGraphStore
	calls atomic.Int32
}

func (f *failingRecoverAll) RecoverAll(ctx context.Context, ids []string) []recovery.Entry {
	if f.calls.Add(1) > 1 {
		return f.JobGraphStore.RecoverAll(ctx, ids)
	}
	out := make([]recovery.Entry, len(ids))
	for i, id := range ids {
		out[i] = recovery.Entry{Key: id, Err: errors.New("storage unreachable")}
	}
	return out
}

// TestJobRecoveredLaterKeepsItsNameAndSink: a job whose graph is recovered only
// on a retry keeps its submitted name, and its sink path is refused to another
// job as a job recovered at once would be.
func TestJobRecoveredLaterKeepsItsNameAndSink(t *testing.T) {
	local := t.TempDir()
	ctx := context.Background()
	first := startDispatcher(t, local)
	require.NoError(t, first.d.Submit(ctx, jobmanager.JobSubmission{JobID: jobA, Name: "counting", Graph: encodedGraph(t, jobA, "counts")}))
	first.stop()

	p := leadingServices(t, local)
	deployed := &deployLog{}
	d := jobmanager.NewDispatcher(&failingRecoverAll{JobGraphStore: p.graphs}, p.results, deployed.deploy, logging.ForTest(t))
	startGrant(t, d, p)
	require.Eventually(t, func() bool { return deployed.live() == 1 }, 10*time.Second, 5*time.Millisecond, "recovered on a retry")
	require.Equal(t, []jobmanager.JobStatus{{JobID: jobA, Name: "counting", State: jobmanager.JobRunning}}, d.Jobs())
	err := d.Submit(ctx, jobmanager.JobSubmission{JobID: jobB, Name: "other", Graph: encodedGraph(t, jobB, "counts")})
	require.ErrorIs(t, err, jobmanager.ErrSinkInUse)
	require.ErrorContains(t, err, jobA)
}

// blockingRecoverAll is a job graph store whose RecoverAll waits for release.
type blockingRecoverAll struct {
	recovery.JobGraphStore
	release chan struct{}
}

func (b *blockingRecoverAll) RecoverAll(ctx context.Context, ids []string) []recovery.Entry {
	select {
	case <-b.release:
	case <-ctx.Done(): // the grant ended first (a failed test's cleanup)
	}
	return b.JobGraphStore.RecoverAll(ctx, ids)
}

// TestSubmitWaitsUntilTheStoredJobsAreListed: until the new leader has listed
// its stored jobs, a submission is answered 503 (retryable), so that one writing
// the sink path of a stored job not listed yet is refused once it is.
func TestSubmitWaitsUntilTheStoredJobsAreListed(t *testing.T) {
	local := t.TempDir()
	ctx := context.Background()
	first := startDispatcher(t, local)
	require.NoError(t, first.d.Submit(ctx, jobmanager.JobSubmission{JobID: jobA, Name: "counting", Graph: encodedGraph(t, jobA, "counts")}))
	first.stop()

	p := leadingServices(t, local)
	store := &blockingRecoverAll{JobGraphStore: p.graphs, release: make(chan struct{})}
	d := jobmanager.NewDispatcher(store, p.results, (&deployLog{}).deploy, logging.ForTest(t))
	startGrant(t, d, p)
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	sameSink := jobmanager.JobSubmission{JobID: jobB, Name: "other", Graph: encodedGraph(t, jobB, "counts")}
	status, body := postJSON(t, srv.URL+"/jobs", sameSink)
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, "still recovering its stored jobs")
	close(store.release)
	require.Eventually(t, d.Recovered, 5*time.Second, 5*time.Millisecond)
	status, body = postJSON(t, srv.URL+"/jobs", sameSink)
	require.Equal(t, http.StatusConflict, status, body)
	require.Contains(t, body, jobA)
	stored, err := p.graphs.StoredJobIDs(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{jobA}, stored)
}

// TestUndecodableStoredGraphFailsItsRecovery: a stored graph that does not
// decode is listed as RECOVERY_FAILED with the reason, never deployed, and kept.
func TestUndecodableStoredGraphFailsItsRecovery(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx := context.Background()
	payload := []byte(`{"id":"` + jobA + `","spec":{"parallelism":"many"},"submission":{"name":"broken"}}`)
	_, decodeErr := job.DecodeGraph(payload)
	require.Error(t, decodeErr)
	require.NoError(t, p.graphs.Put(ctx, p.g, jobA, payload))

	deployed := &deployLog{}
	d := jobmanager.NewDispatcher(p.graphs, p.results, deployed.deploy, logging.ForTest(t))
	startGrant(t, d, p)
	require.Eventually(t, d.Recovered, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, []jobmanager.JobStatus{{JobID: jobA, Name: "broken", State: jobmanager.JobRecoveryFailed,
		Error: "the stored job graph does not decode: " + decodeErr.Error()}}, d.Jobs())
	st, err := d.Status(ctx, jobA)
	require.NoError(t, err)
	require.Equal(t, jobmanager.JobRecoveryFailed, st.State)
	require.Zero(t, deployed.count(), "nothing to run")
	stored, err := p.graphs.StoredJobIDs(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{jobA}, stored, "the graph is kept")
}

// unreachableLeadership is the HA services of a process whose leadership check
// fails for a reason other than ErrNotLeader once failing is set (as a
// resumed process's, whose ZooKeeper session expired while it was paused).
type unreachableLeadership struct {
	*recovery.Services
	failing atomic.Bool
}

func (u *unreachableLeadership) CheckLeadership(ctx context.Context, g recovery.Guard) error {
	if u.failing.Load() {
		return errors.New("zk: session has been expired by the server")
	}
	return u.Services.CheckLeadership(ctx, g)
}

// TestCancelRefusedByTheLeadershipCheckIs503: a cancel that the leadership
// check refuses is answered 503 (ask the leader), not 500, and records nothing.
func TestCancelRefusedByTheLeadershipCheckIs503(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx := context.Background()
	d := jobmanager.NewDispatcher(p.graphs, p.results, (&deployLog{}).deploy, logging.ForTest(t))
	services := &unreachableLeadership{Services: p.svc}
	d.SetCleanup(services)
	startGrant(t, d, p)
	require.Eventually(t, d.Recovered, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, d.Submit(ctx, jobmanager.JobSubmission{JobID: jobA, Name: "counting", Graph: encodedGraph(t, jobA, "counts")}))
	services.failing.Store(true)
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	status, body := postJSON(t, srv.URL+"/jobs/"+jobA+"/cancel", struct{}{})
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, "session has been expired")
	finished, err := p.results.Finished(ctx)
	require.NoError(t, err)
	require.Empty(t, finished)
	require.Equal(t, []jobmanager.JobStatus{{JobID: jobA, Name: "counting", State: jobmanager.JobRunning}}, d.Jobs())
}

// TestNewLeaderFinishesAnUnfinishedCleanup: a job whose result is recorded
// (dirty) but whose HA data a cancel could not remove has it removed by the next
// leader once its jobs are recovered, and its result marked clean; the job stays
// queryable.
func TestNewLeaderFinishesAnUnfinishedCleanup(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx := context.Background()
	require.NoError(t, p.graphs.Put(ctx, p.g, jobA, encodedGraph(t, jobA, "counts")))
	cps, err := p.svc.CheckpointStore(ctx, jobA)
	require.NoError(t, err)
	_, err = cps.Add(ctx, p.g, recovery.CompletedCheckpoint{JobID: jobA, ID: 1, Timestamp: time.Now(), Metadata: []byte(`{}`)})
	require.NoError(t, err)
	counter, err := p.svc.CheckpointIDCounter(ctx, jobA)
	require.NoError(t, err)
	_, err = counter.GetAndIncrement(ctx, p.g)
	require.NoError(t, err)
	require.NoError(t, p.results.CreateDirty(ctx, p.g, recovery.JobResult{JobID: jobA, State: jobmanager.JobCanceled, Finished: time.Now().UTC(), Name: "counting"}))
	require.NoError(t, cps.Shutdown(ctx, p.g, false))
	require.NoError(t, counter.Shutdown(ctx, p.g, false))
	require.NoError(t, p.graphs.Release(ctx, jobA))

	deployed := &deployLog{}
	d := jobmanager.NewDispatcher(p.graphs, p.results, deployed.deploy, logging.ForTest(t))
	d.SetCleanup(p.svc)
	startGrant(t, d, p)
	require.Eventually(t, func() bool {
		dirty, err := p.results.Dirty(ctx)
		return err == nil && len(dirty) == 0
	}, 10*time.Second, 10*time.Millisecond, "the result is marked clean")
	stored, err := p.graphs.StoredJobIDs(ctx)
	require.NoError(t, err)
	require.False(t, slices.Contains(stored, jobA), "the job graph is removed")
	report, err := p.svc.Inspector().Inspect(ctx)
	require.NoError(t, err)
	for _, n := range report.Nodes {
		require.NotEqual(t, jobA, n.JobID, "no pointer or counter of the job is left: %+v", n)
	}
	st, err := d.Status(ctx, jobA)
	require.NoError(t, err)
	require.Equal(t, jobmanager.JobStatus{JobID: jobA, Name: "counting", State: jobmanager.JobCanceled}, st)
	require.Zero(t, deployed.count(), "a finished job is never run again")
}

// postJSON posts v as JSON to url and returns the status and the body.
func postJSON(t *testing.T, url string, v any) (int, string) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}
