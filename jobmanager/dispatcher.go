package jobmanager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/recovery"
)

// Job states as the dispatcher reports them.
const (
	JobRunning  = "RUNNING"
	JobCanceled = "CANCELED"
	// JobRecovering: the job's recovery failed for a reason that may pass (storage
	// or ZooKeeper unreachable); it is retried with backoff.
	JobRecovering = "RECOVERING"
	// JobRecoveryFailed: the job's latest checkpoint (or its job graph) is
	// unreadable. Nothing was changed; an operator falls back (`yarn-session
	// checkpoints fallback`).
	JobRecoveryFailed = "RECOVERY_FAILED"
)

// JobSubmission is POST /jobs: an encoded job graph and its ID.
type JobSubmission struct {
	JobID string `json:"jobId"`
	Name  string `json:"name"`
	Graph []byte `json:"graph"` // base64 in JSON
}

// Errors of Submit and Cancel; the REST handlers map them to status codes.
var (
	// ErrInvalidSubmission (400): the submission cannot run: a bad job ID, a graph
	// that does not decode, or a graph whose ID is not the job ID.
	ErrInvalidSubmission = errors.New("jobmanager: invalid submission")
	// ErrJobExists (409): the job ID names a job that runs, is being recovered or
	// submitted, or has a result already. Nothing was stored.
	ErrJobExists = errors.New("jobmanager: job exists")
	// ErrSinkInUse (409): a running job's file sink writes the same path.
	ErrSinkInUse = errors.New("jobmanager: sink path in use")
	// ErrJobNotRunning (404 unknown, 409 finished): Cancel of a job that does not run here.
	ErrJobNotRunning = errors.New("jobmanager: job not running")
	// ErrRecovering (503, retryable): the leader has not listed its stored jobs
	// yet, so it cannot tell whether a submission's ID or sink path is taken, nor
	// list every job.
	ErrRecovering = errors.New("jobmanager: the leader is still recovering its stored jobs; try again shortly")
	// ErrTooManyJobs (409): the session runs amkeeper.session.max-jobs jobs
	// already. Nothing was stored.
	ErrTooManyJobs = errors.New("jobmanager: too many jobs")
)

// submissionMeta is the submission's metadata, stored in the job graph payload
// beside the graph's own fields under the key "submission" (graph decoders ignore
// it; payloads stored without it recover with empty metadata).
type submissionMeta struct {
	Name      string    `json:"name,omitempty"`
	Submitted time.Time `json:"submitted"`
	// GraphSHA256 is GraphDigest of the submitted graph.
	GraphSHA256 string `json:"graphSha256,omitempty"`
}

// GraphDigest identifies a submission's graph: the hex SHA-256 of its encoded
// bytes as submitted. GET /jobs/{id} reports it (JobStatus.GraphSHA256), so a
// client whose acknowledgement was lost can tell its own submission from another.
func GraphDigest(graph []byte) string {
	sum := sha256.Sum256(graph)
	return hex.EncodeToString(sum[:])
}

// encodePayload adds m to the encoded graph as its "submission" field.
func encodePayload(graph []byte, m submissionMeta) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(graph, &fields); err != nil {
		return nil, fmt.Errorf("%w: graph is not a JSON object: %v", ErrInvalidSubmission, err)
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode submission metadata: %w", err)
	}
	fields["submission"] = mb
	return json.Marshal(fields)
}

// decodeMeta reads the submission metadata of a stored payload; none (a payload
// stored before it was kept) is the zero value.
func decodeMeta(payload []byte) submissionMeta {
	var p struct {
		Submission submissionMeta `json:"submission"`
	}
	_ = json.Unmarshal(payload, &p) // the graph itself is decoded, and its errors reported, by Deploy
	return p.Submission
}

// sinkPath returns the path a graph's file sink writes ("" for none), cleaned.
func sinkPath(g job.Graph) string {
	for _, st := range g.Spec.Pipeline {
		if fs, ok := st.Config.(*job.FileSinkConfig); ok {
			return path.Clean(fs.Path)
		}
	}
	return ""
}

// describe is how a job whose payload is stored is listed: JobRunning with its
// submitted name and its sink path, or — when its graph does not decode, so
// there is nothing to run — JobRecoveryFailed with why (ok false). Nothing is
// removed for it: the graph stays stored for an operator to look at or cancel.
func describe(id string, payload []byte) (st JobStatus, sink string, ok bool) {
	meta := decodeMeta(payload)
	g, err := job.DecodeGraph(payload)
	if err != nil {
		return JobStatus{JobID: id, Name: meta.Name, State: JobRecoveryFailed,
			Error: fmt.Sprintf("the stored job graph does not decode: %v", err)}, "", false
	}
	return JobStatus{JobID: id, Name: meta.Name, State: JobRunning}, sinkPath(g), true
}

// JobStatus is one job in GET /jobs.
type JobStatus struct {
	JobID string `json:"id"`
	Name  string `json:"name,omitempty"`
	State string `json:"status"`
	// Error, Checkpoint and File say why a job is JobRecovering or
	// JobRecoveryFailed: the cause, the checkpoint and the file it concerns.
	Error      string `json:"error,omitempty"`
	Checkpoint int64  `json:"checkpoint,omitempty"`
	File       string `json:"file,omitempty"`
	// GraphSHA256 is the GraphDigest of the job's submitted graph; only GET
	// /jobs/{id} of a job listed here reports it (empty for a job submitted
	// before it was kept).
	GraphSHA256 string `json:"graphSha256,omitempty"`
}

// timedJob is a job's status with when it was submitted and when it finished
// (zero: unknown, or not yet), which the Flink shapes report.
type timedJob struct {
	JobStatus
	Started, Ended time.Time
}

// DeployFunc runs a recovered or submitted job under the grant; the job package's
// coordinator plugs in here. It must return when ctx ends.
type DeployFunc func(ctx context.Context, g recovery.Grant, jobID string, graph []byte)

// Dispatcher keeps the jobs of the leader: a submission is acknowledged only once
// its graph is in the HA job graph store (payload in storage, pointer guarded by
// the leader's latch); on every grant it recovers the stored graphs, skipping jobs
// that already have a result, then finishes the cleanup of jobs whose result is
// still dirty. Nothing it starts outlives the grant it started under. Safe for
// concurrent use.
type Dispatcher struct {
	graphs  recovery.JobGraphStore
	results recovery.JobResultStore
	deploy  DeployFunc
	cleanup CheckpointServices // nil: cancel removes the job graph only
	log     zerolog.Logger

	// onRecovered, when set, is called once a grant's jobs are recovered.
	onRecovered func()
	// health, when set, says why a running job's tasks do not run (the coordinator's).
	health func(jobID string) (JobHealth, bool)
	// listAttempts is how many times a grant tries to list the stored jobs before
	// it gives the grant up.
	listAttempts int

	mu        sync.Mutex
	recovered bool // the current grant's jobs are recovered
	grant     recovery.Grant
	ctx       context.Context // the current grant's dispatcher context
	jobs      map[string]*dispatched
	gaveUp    chan struct{}        // closed when the current grant is given up
	pending   map[string]string    // job → sink path: submissions between checks and start
	finished  map[string]JobStatus // jobs canceled by this process
	cleaning  map[string]bool      // jobs whose HA data is being removed right now
	maxJobs   int                  // 0: no cap

	// recoveredC is closed once the current grant's jobs are recovered (d.mu).
	recoveredC chan struct{}

	// cleanupWake (buffered, 1) wakes finishCleanups after a failed cleanup.
	cleanupWake chan struct{}
	tasks       func(jobID string) jobTasks // set before serving; nil: none known
	// started and ended are when jobs this process knows were submitted (read
	// from their stored graphs) and canceled here.
	started, ended map[string]time.Time
}

type dispatched struct {
	status    JobStatus
	digest    string // GraphDigest of the submitted graph, "" when unknown
	sink      string // the file sink's path, "" for none
	canceling bool
	cancel    context.CancelFunc
	done      chan struct{}
}

// NewDispatcher returns a dispatcher over the HA stores; deploy may be nil.
func NewDispatcher(graphs recovery.JobGraphStore, results recovery.JobResultStore, deploy DeployFunc, log zerolog.Logger) *Dispatcher {
	return &Dispatcher{graphs: graphs, results: results, deploy: deploy, log: log, jobs: map[string]*dispatched{},
		listAttempts: 5, gaveUp: make(chan struct{}), pending: map[string]string{}, finished: map[string]JobStatus{},
		cleaning: map[string]bool{}, cleanupWake: make(chan struct{}, 1), started: map[string]time.Time{}, ended: map[string]time.Time{}}
}

// SetMaxJobs caps the jobs running or being submitted at once
// (amkeeper.session.max-jobs): a submission beyond it is ErrTooManyJobs. Recovered
// jobs are never refused.
func (d *Dispatcher) SetMaxJobs(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.maxJobs = n
}

// ReportHealth sets where Jobs learns why a job's tasks do not run (the
// coordinator's Health). Call it before Start.
func (d *Dispatcher) ReportHealth(f func(jobID string) (JobHealth, bool)) { d.health = f }

// GaveUp is closed when the dispatcher cannot recover the stored jobs of the
// current grant at all (listing them failed listAttempts times, with backoff):
// the AM then gives the grant up, so that the election grants it again (to this
// AM or another) and recovery starts over. Read it after Start.
func (d *Dispatcher) GaveUp() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gaveUp
}

// SetCleanup gives Cancel the job's checkpoint stores and state files to remove
// once the job's result is recorded, and the leadership check that fences REST
// actions. Call it before Start.
func (d *Dispatcher) SetCleanup(c CheckpointServices) { d.cleanup = c }

// checkLeading confirms that g still leads, with the backend's server when the
// dispatcher has the services: a request queued while this process was paused
// acts only if it still leads.
// Any failure of the check (not leading, or the backend unreachable, as for a
// process resumed after its session expired) is errNotLeading: the client asks
// again, of the leader.
func (d *Dispatcher) checkLeading(ctx context.Context, g recovery.Grant) error {
	err := g.Err()
	if d.cleanup != nil {
		err = d.cleanup.CheckLeadership(ctx, g)
	}
	if err != nil {
		return fmt.Errorf("%w: leadership check of session %s failed: %w", errNotLeading, g.SessionID(), err)
	}
	return nil
}

// OnRecovered sets f to be called each time a grant's stored jobs are recovered
// (their graphs read and their deploys started). Call it before Start.
func (d *Dispatcher) OnRecovered(f func()) { d.onRecovered = f }

// Start takes the grant at once (submissions are answered from now on: with
// ErrRecovering until the stored jobs are listed) and, in the background,
// recovers every stored job, then finishes unfinished cleanups; when ctx ends
// (derive it from the grant's context) it stops the jobs. The returned func
// waits for that.
func (d *Dispatcher) Start(ctx context.Context, g recovery.Grant) (wait func()) {
	d.mu.Lock()
	d.grant, d.ctx, d.recovered = g, ctx, false
	recovered := make(chan struct{})
	d.recoveredC = recovered
	gaveUp := make(chan struct{})
	d.gaveUp = gaveUp
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.lead(ctx, g, gaveUp, recovered)
	}()
	return func() { <-done }
}

func (d *Dispatcher) lead(ctx context.Context, g recovery.Grant, gaveUp, recovered chan struct{}) {
	start := time.Now()
	var n int
	var err error
	for b, i := newBackoff(), 1; ; i++ {
		if n, err = d.recover(ctx, g); err == nil || ctx.Err() != nil {
			break
		}
		if i >= d.listAttempts {
			d.log.Error().Err(err).Int("attempts", i).Str(logging.LeaderSession, g.SessionID().String()).
				Msg("dispatcher: cannot recover the stored jobs; giving the grant up so that recovery starts over")
			close(gaveUp)
			break
		}
		d.log.Warn().Err(err).Int("attempt", i).Msg("dispatcher: job recovery failed; retrying with backoff")
		b.wait(ctx)
	}
	if err == nil {
		logging.Since(d.log.Info().Int("jobs", n).Str(logging.LeaderSession, g.SessionID().String()), start).
			Msg("dispatcher: jobs recovered")
		d.mu.Lock()
		d.recovered = true
		close(recovered)
		d.mu.Unlock()
		if d.onRecovered != nil {
			d.onRecovered()
		}
		d.finishCleanups(ctx, g)
	}
	<-ctx.Done()
	d.mu.Lock()
	if d.grant == g {
		d.grant, d.ctx = nil, nil
	}
	jobs := d.jobs
	d.jobs = map[string]*dispatched{}
	d.mu.Unlock()
	for _, j := range jobs {
		j.cancel()
		<-j.done
	}
}

func (d *Dispatcher) recover(ctx context.Context, g recovery.Grant) (int, error) {
	ids, err := d.graphs.StoredJobIDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("list job graphs: %w", err)
	}
	finished, err := d.results.Finished(ctx)
	if err != nil {
		return 0, fmt.Errorf("result store: %w", err)
	}
	todo := make([]string, 0, len(ids))
	for _, id := range ids {
		if finished[id] {
			d.log.Info().Str(logging.Job, id).Msg("dispatcher: job has a result; not running it again")
			continue
		}
		todo = append(todo, id)
	}
	n := 0
	for _, e := range d.graphs.RecoverAll(ctx, todo) {
		switch {
		case errors.Is(e.Err, recovery.ErrNotFound):
			d.log.Info().Str(logging.Job, e.Key).Msg("dispatcher: job graph removed meanwhile")
		case e.Err != nil:
			d.recoverLater(ctx, g, e.Key, e.Err)
			n++
		default:
			d.start(ctx, g, e.Key, e.Payload)
			n++
		}
	}
	return n, nil
}

// start runs a job whose payload (graph and submission metadata) is stored,
// under the grant whose dispatcher context is parent. Once that grant has ended
// (a submission that raced its end) it does nothing: no entry outlives its grant,
// and the next grant recovers the stored job.
func (d *Dispatcher) start(parent context.Context, g recovery.Grant, id string, payload []byte) {
	ctx, cancel := context.WithCancel(parent)
	st, sink, ok := describe(id, payload)
	j := &dispatched{status: st, sink: sink, digest: decodeMeta(payload).GraphSHA256, cancel: cancel, done: make(chan struct{})}
	d.mu.Lock()
	if !d.currentLocked(parent) {
		d.mu.Unlock()
		cancel()
		return
	}
	if _, running := d.jobs[id]; running {
		d.mu.Unlock()
		cancel() // listed already (a recovery racing a submission of the same ID)
		return
	}
	d.jobs[id] = j
	if at := decodeMeta(payload).Submitted; !at.IsZero() {
		d.started[id] = at
	}
	d.mu.Unlock()
	if !ok {
		d.log.Error().Str(logging.Job, id).Str(logging.Reason, st.Error).
			Msg("dispatcher: the stored job graph does not decode; the job is listed as " + JobRecoveryFailed + " and kept")
	}
	go func() {
		defer close(j.done)
		d.run(ctx, g, id, payload, ok)
	}()
}

// currentLocked reports whether parent is the dispatcher context of the grant
// that leads now and has not ended. d.mu is held.
func (d *Dispatcher) currentLocked(parent context.Context) bool {
	return parent.Err() == nil && d.ctx == parent
}

// run deploys a job (runnable: its graph decodes) until ctx ends, then releases
// this instance's lock on its job graph, so that the next leader (or a cancel
// there) is not refused with ErrLocked while this process lives on.
func (d *Dispatcher) run(ctx context.Context, g recovery.Grant, id string, payload []byte, runnable bool) {
	if runnable && d.deploy != nil {
		d.deploy(ctx, g, id, payload)
	} else {
		<-ctx.Done()
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.graphs.Release(rctx, id); err != nil {
		d.log.Warn().Err(err).Str(logging.Job, id).Msg("dispatcher: cannot release the job graph lock; it goes with this process's session")
	}
}

// recoverLater lists a job whose graph could not be recovered with its error and
// retries with backoff until it recovers (then runs it), is removed, or ctx ends.
func (d *Dispatcher) recoverLater(parent context.Context, g recovery.Grant, id string, cause error) {
	ctx, cancel := context.WithCancel(parent)
	j := &dispatched{status: graphStatus(id, cause), cancel: cancel, done: make(chan struct{})}
	d.mu.Lock()
	if !d.currentLocked(parent) {
		d.mu.Unlock()
		cancel()
		return
	}
	if _, running := d.jobs[id]; running {
		d.mu.Unlock()
		cancel()
		return
	}
	d.jobs[id] = j
	d.mu.Unlock()
	log := d.log.With().Str(logging.Job, id).Logger()
	log.Error().Err(cause).Msg("dispatcher: cannot recover the job graph; the job is listed with the error and retried with backoff")
	go func() {
		defer close(j.done)
		for b := newBackoff(); ; {
			b.wait(ctx)
			if ctx.Err() != nil {
				return
			}
			payload, err := d.graphs.Recover(ctx, id)
			switch {
			case errors.Is(err, recovery.ErrNotFound):
				log.Info().Msg("dispatcher: job graph removed meanwhile")
				d.mu.Lock()
				if d.jobs[id] == j {
					delete(d.jobs, id)
				}
				d.mu.Unlock()
				return
			case err != nil:
				st := graphStatus(id, err)
				d.mu.Lock()
				changed := j.status.Error != st.Error
				j.status = st
				d.mu.Unlock()
				if changed {
					log.Warn().Err(err).Msg("dispatcher: job graph still unreadable; retrying")
				}
				continue
			}
			st, sink, ok := describe(id, payload)
			if ok {
				log.Info().Msg("dispatcher: job graph recovered")
			} else {
				log.Error().Str(logging.Reason, st.Error).
					Msg("dispatcher: the stored job graph does not decode; the job is listed as " + JobRecoveryFailed + " and kept")
			}
			d.mu.Lock()
			j.status, j.sink, j.digest = st, sink, decodeMeta(payload).GraphSHA256
			d.mu.Unlock()
			d.run(ctx, g, id, payload, ok)
			return
		}
	}()
}

// graphStatus is the status of a job whose graph cannot be recovered because of
// err: JobRecoveryFailed for a corrupt or dangling graph, JobRecovering otherwise.
func graphStatus(id string, err error) JobStatus {
	st := JobStatus{JobID: id, State: JobRecovering, Error: err.Error()}
	if errors.Is(err, recovery.ErrCorruptState) || errors.Is(err, recovery.ErrDanglingPointer) {
		st.State = JobRecoveryFailed
	}
	var pe *recovery.PayloadError
	if errors.As(err, &pe) {
		st.File = pe.Path
	}
	return st
}

var errNotLeading = errors.New("this AM does not lead; ask the leader (see rest_server leader retrieval)")

// Submit validates a submission, stores its graph with its metadata, then runs the
// job. It returns only once the graph is in the HA job graph store. It refuses
// (ErrInvalidSubmission) a graph that does not decode or whose ID is not the job
// ID, and (ErrJobExists, ErrSinkInUse) the ID of a job that runs, is being
// recovered or has a result, and a file sink path a running job writes. Until
// the grant's stored jobs are listed it refuses every submission with
// ErrRecovering (retryable).
func (d *Dispatcher) Submit(ctx context.Context, s JobSubmission) error {
	if err := recovery.ValidateJobID(s.JobID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSubmission, err)
	}
	graph, err := job.DecodeGraph(s.Graph)
	if err != nil {
		return fmt.Errorf("%w: job %s: %w", ErrInvalidSubmission, s.JobID, err)
	}
	if string(graph.ID) != s.JobID {
		return fmt.Errorf("%w: job %s: the graph's ID is %q; want the job ID", ErrInvalidSubmission, s.JobID, graph.ID)
	}
	payload, err := encodePayload(s.Graph, submissionMeta{Name: s.Name, Submitted: time.Now().UTC(), GraphSHA256: GraphDigest(s.Graph)})
	if err != nil {
		return fmt.Errorf("job %s: %w", s.JobID, err)
	}
	sink := sinkPath(graph)
	d.mu.Lock()
	g, leadCtx := d.grant, d.ctx
	if g == nil {
		d.mu.Unlock()
		return errNotLeading
	}
	if !d.recovered {
		// A stored job not listed yet may write the same sink path.
		d.mu.Unlock()
		return fmt.Errorf("submit job %s: %w", s.JobID, ErrRecovering)
	}
	if err := d.conflictLocked(s.JobID, sink); err != nil {
		d.mu.Unlock()
		return err
	}
	if n := len(d.jobs) + len(d.pending); d.maxJobs > 0 && n >= d.maxJobs {
		d.mu.Unlock()
		return fmt.Errorf("%w: job %s: the session runs %d jobs, the most %s (%d) allows; cancel one or raise the key",
			ErrTooManyJobs, s.JobID, n, conf.MaxJobs.Key(), d.maxJobs)
	}
	d.pending[s.JobID] = sink
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.pending, s.JobID)
		d.mu.Unlock()
	}()
	if err := d.checkLeading(ctx, g); err != nil {
		return fmt.Errorf("submit job %s: %w", s.JobID, err)
	}
	if done, err := d.results.Has(ctx, s.JobID); err != nil {
		return err
	} else if done {
		return fmt.Errorf("%w: job %s already finished (it has a result in the job result store)", ErrJobExists, s.JobID)
	}
	stored, err := d.graphs.StoredJobIDs(ctx)
	if err != nil {
		return fmt.Errorf("submit job %s: list job graphs: %w", s.JobID, err)
	}
	if slices.Contains(stored, s.JobID) {
		return fmt.Errorf("%w: job %s has a stored graph: it is being recovered; its graph stays as it is", ErrJobExists, s.JobID)
	}
	if err := d.graphs.Put(ctx, g, s.JobID, payload); err != nil {
		return fmt.Errorf("store job graph %s: %w", s.JobID, err)
	}
	d.log.Info().Str(logging.Job, s.JobID).Str("name", s.Name).Str("sink", sink).Msg("dispatcher: job submitted")
	d.start(leadCtx, g, s.JobID, payload)
	return nil
}

// conflictLocked refuses a submission of id writing to sink that clashes with a
// running or pending job. d.mu is held.
func (d *Dispatcher) conflictLocked(id, sink string) error {
	if _, ok := d.jobs[id]; ok {
		return fmt.Errorf("%w: job %s is running; cancel it first", ErrJobExists, id)
	}
	if _, ok := d.pending[id]; ok {
		return fmt.Errorf("%w: job %s is being submitted", ErrJobExists, id)
	}
	if sink == "" {
		return nil
	}
	for other, j := range d.jobs {
		if j.sink == sink {
			return fmt.Errorf("%w: job %s already writes sink path %q; give job %s another path", ErrSinkInUse, other, sink, id)
		}
	}
	for other, p := range d.pending {
		if p == sink {
			return fmt.Errorf("%w: job %s (being submitted) writes sink path %q; give job %s another path", ErrSinkInUse, other, sink, id)
		}
	}
	return nil
}

// Cancel ends a job for good: its result goes to the job result store first (so no
// later leader runs it again), then the job is stopped and its HA data removed —
// checkpoint pointers and metadata, checkpoint ID counter, task state files, job
// graph — and the result is marked clean. Committed sink output stays. Every step
// acts only while this process still leads (a cancel queued at a paused leader
// changes nothing). A failed cleanup leaves the result dirty: the job stays
// canceled, and finishCleanups retries it (here, and under every new leader).
func (d *Dispatcher) Cancel(ctx context.Context, jobID string) error {
	d.mu.Lock()
	g := d.grant
	j, ok := d.jobs[jobID]
	fin, wasFinished := d.finished[jobID]
	canceling := ok && j.canceling
	if ok && g != nil && !canceling {
		j.canceling = true
	}
	d.mu.Unlock()
	if g == nil {
		return errNotLeading
	}
	switch {
	case wasFinished:
		return fmt.Errorf("%w: job %s is %s already", ErrJobExists, jobID, fin.State)
	case canceling:
		return fmt.Errorf("%w: job %s is being canceled", ErrJobExists, jobID)
	case !ok:
		return fmt.Errorf("%w: job %s does not run under this leader", ErrJobNotRunning, jobID)
	}
	log := d.log.With().Str(logging.Job, jobID).Str(logging.LeaderSession, g.SessionID().String()).Logger()
	if err := d.checkLeading(ctx, g); err != nil {
		d.uncancel(j)
		return fmt.Errorf("cancel job %s: %w", jobID, err)
	}
	res := recovery.JobResult{JobID: jobID, State: JobCanceled, Finished: time.Now().UTC(), Name: j.status.Name}
	if err := d.results.CreateDirty(ctx, g, res); err != nil {
		d.uncancel(j)
		return fmt.Errorf("record the cancellation of %s: %w", jobID, err)
	}
	j.cancel()
	<-j.done
	d.mu.Lock()
	delete(d.jobs, jobID)
	d.finished[jobID] = JobStatus{JobID: jobID, Name: j.status.Name, State: JobCanceled}
	d.ended[jobID] = res.Finished
	d.mu.Unlock()
	err := d.cleanupJob(ctx, g, jobID)
	if errors.Is(err, errCleaning) {
		log.Info().Msg("dispatcher: job canceled; the cleanup of its HA data already runs in the background")
		return nil
	}
	if err != nil {
		select {
		case d.cleanupWake <- struct{}{}: // retried with backoff while this grant lasts
		default:
		}
		return fmt.Errorf("cancel job %s: result recorded, cleanup unfinished (retried in the background): %w", jobID, err)
	}
	log.Info().Msg("dispatcher: job canceled; its HA data removed")
	return nil
}

// cleanupJob removes a globally terminal job's HA data, then marks its result
// clean; both fenced by g. One cleanup of a job runs at a time: a job being
// cleaned up elsewhere in this process is skipped (errCleaning).
func (d *Dispatcher) cleanupJob(ctx context.Context, g recovery.Grant, jobID string) error {
	d.mu.Lock()
	if d.cleaning[jobID] {
		d.mu.Unlock()
		return fmt.Errorf("job %s: %w", jobID, errCleaning)
	}
	d.cleaning[jobID] = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.cleaning, jobID)
		d.mu.Unlock()
	}()
	if err := d.removeJobData(ctx, g, jobID); err != nil {
		return err
	}
	if err := d.results.MarkClean(ctx, g, jobID); err != nil {
		return fmt.Errorf("mark %s clean: %w", jobID, err)
	}
	return nil
}

var errCleaning = errors.New("its cleanup is running")

// finishCleanups runs while g leads, once its jobs are recovered: it finishes
// the cleanup of every job with a dirty result — globally terminal, its HA data
// maybe still there, because a cancel's cleanup failed here or under an earlier
// leader (a lock of the attempt that ran it, storage unreachable) — removing the
// job's HA data, then marking the result clean. Failures are retried with
// backoff; a cancel whose cleanup failed wakes it. It returns when ctx ends.
func (d *Dispatcher) finishCleanups(ctx context.Context, g recovery.Grant) {
	log := d.log.With().Str(logging.LeaderSession, g.SessionID().String()).Logger()
	b := newBackoff()
	for ctx.Err() == nil {
		dirty, err := d.results.Dirty(ctx)
		failed := err != nil
		if err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("dispatcher: cannot list the jobs whose cleanup is unfinished; retrying")
		}
		for _, r := range dirty {
			if ctx.Err() != nil {
				return
			}
			err := d.cleanupJob(ctx, g, r.JobID)
			switch {
			case err == nil:
				log.Info().Str(logging.Job, r.JobID).Str("state", r.State).Msg("dispatcher: cleanup of a finished job completed: its HA data removed, its result marked clean")
			case ctx.Err() != nil:
				return
			default:
				failed = true
				log.Warn().Err(err).Str(logging.Job, r.JobID).Msg("dispatcher: cleanup of a finished job unfinished; retrying with backoff")
			}
		}
		if failed {
			b.wait(ctx)
			continue
		}
		b.reset()
		select {
		case <-ctx.Done():
		case <-d.cleanupWake:
		}
	}
}

func (d *Dispatcher) uncancel(j *dispatched) {
	d.mu.Lock()
	j.canceling = false
	d.mu.Unlock()
}

// removeJobData removes a globally terminal job's HA data, fenced by g: its
// checkpoints (pointers and metadata), its checkpoint ID counter, its task state
// files under <StateRoot>/<job>/, then its job graph. Sink output is not HA data.
func (d *Dispatcher) removeJobData(ctx context.Context, g recovery.Grant, jobID string) error {
	if c := d.cleanup; c != nil {
		cps, err := c.CheckpointStore(ctx, jobID)
		if err != nil {
			return fmt.Errorf("open checkpoint store: %w", err)
		}
		if err := cps.Shutdown(ctx, g, true); err != nil {
			// What is left stays; the store is closed (and this instance's locks
			// dropped) so that the next try starts afresh.
			return errors.Join(err, cps.Shutdown(ctx, g, false))
		}
		counter, err := c.CheckpointIDCounter(ctx, jobID)
		if err != nil {
			return fmt.Errorf("open checkpoint ID counter: %w", err)
		}
		if err := counter.Shutdown(ctx, g, true); err != nil {
			return errors.Join(fmt.Errorf("remove checkpoint ID counter: %w", err), counter.Shutdown(ctx, g, false))
		}
		dir := c.StateRoot() + "/" + jobID + "/"
		if err := c.CheckLeadership(ctx, g); err != nil {
			return fmt.Errorf("remove task state %s: %w", dir, err)
		}
		if err := hdfsstore.RemoveAll(ctx, c.StateStorage(), dir); err != nil {
			return fmt.Errorf("remove task state %s: %w", dir, err)
		}
	}
	if err := d.graphs.Remove(ctx, g, jobID); err != nil {
		return fmt.Errorf("remove job graph %s: %w", jobID, err)
	}
	return nil
}

// Status returns a job as this dispatcher knows it: running, canceled here, or
// finished with a result in the job result store (as after a failover).
func (d *Dispatcher) Status(ctx context.Context, jobID string) (JobStatus, error) {
	j, err := d.status(ctx, jobID)
	return j.JobStatus, err
}

// status is Status with the job's times.
func (d *Dispatcher) status(ctx context.Context, jobID string) (timedJob, error) {
	d.mu.Lock()
	j, running := d.jobs[jobID]
	var st JobStatus
	if running {
		st = j.status
		st.GraphSHA256 = j.digest
	}
	fin, finished := d.finished[jobID]
	started, ended := d.started[jobID], d.ended[jobID]
	d.mu.Unlock()
	switch {
	case running:
		return timedJob{d.withHealth(st), started, time.Time{}}, nil
	case finished:
		return timedJob{fin, started, ended}, nil
	case d.listing():
		return timedJob{}, fmt.Errorf("job %s: %w", jobID, ErrRecovering)
	}
	if recovery.ValidateJobID(jobID) != nil {
		return timedJob{}, fmt.Errorf("%w: job %s is unknown", ErrJobNotRunning, jobID)
	}
	r, err := d.results.Result(ctx, jobID)
	if errors.Is(err, fs.ErrNotExist) {
		return timedJob{}, fmt.Errorf("%w: job %s is unknown", ErrJobNotRunning, jobID)
	}
	if err != nil {
		return timedJob{}, err
	}
	return timedJob{JobStatus{JobID: jobID, Name: r.Name, State: r.State}, started, r.Finished}, nil
}

// FinishedJobs lists the jobs with a result in the job result store, sorted by ID.
func (d *Dispatcher) FinishedJobs(ctx context.Context) ([]JobStatus, error) {
	fin, err := d.finishedJobs(ctx)
	out := make([]JobStatus, len(fin))
	for i, j := range fin {
		out[i] = j.JobStatus
	}
	return out, err
}

func (d *Dispatcher) finishedJobs(ctx context.Context) ([]timedJob, error) {
	ids, err := d.results.Finished(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]timedJob, 0, len(ids))
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		r, err := d.results.Result(ctx, id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // made clean between the listing and the read: read again next time
		}
		if err != nil {
			return nil, err
		}
		out = append(out, timedJob{JobStatus{JobID: id, Name: r.Name, State: r.State}, d.startedAt(id), r.Finished})
	}
	return out, nil
}

// listing reports whether this dispatcher leads and has not listed its stored
// jobs yet: a job missing from what it knows may be one of them.
func (d *Dispatcher) listing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.grant != nil && !d.recovered
}

// Recovered reports whether the current grant's stored jobs have been recovered.
func (d *Dispatcher) Recovered() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.recovered
}

// recoveredSignal returns a channel closed once the stored jobs of the grant
// last started (Start) are recovered; never closed if that grant gives up first.
func (d *Dispatcher) recoveredSignal() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.recoveredC
}

// runs reports whether jobID is a job of the current grant: running, recovered
// with an error (retried), or being submitted. Once the grant's jobs are
// recovered, a job it does not run is one this leader does not know: canceled,
// finished or removed.
func (d *Dispatcher) runs(jobID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, running := d.jobs[jobID]
	_, submitting := d.pending[jobID]
	return running || submitting
}

// Jobs lists the jobs of this grant, sorted by ID: running ones, and those whose
// recovery failed (JobRecovering, JobRecoveryFailed) with why.
func (d *Dispatcher) Jobs() []JobStatus {
	d.mu.Lock()
	out := make([]JobStatus, 0, len(d.jobs))
	for _, j := range d.jobs {
		out = append(out, j.status)
	}
	d.mu.Unlock()
	for i := range out {
		out[i] = d.withHealth(out[i])
	}
	sort.Slice(out, func(i, k int) bool { return out[i].JobID < out[k].JobID })
	return out
}

// withHealth is a running job's status as the coordinator sees it: a job whose
// tasks do not run because their recovery failed or is being retried shows that
// state and why. Jobs and Status both report through it.
func (d *Dispatcher) withHealth(st JobStatus) JobStatus {
	if d.health == nil || st.State != JobRunning {
		return st
	}
	if h, ok := d.health(st.JobID); ok {
		st.State, st.Error, st.Checkpoint, st.File = h.State, h.Error, h.Checkpoint, h.File
	}
	return st
}

// allJobs lists every job this dispatcher knows, sorted by ID: those of this
// grant (Jobs), and the finished ones — canceled here, or with a result in the
// job result store.
func (d *Dispatcher) allJobs(ctx context.Context) ([]timedJob, error) {
	if d.listing() {
		return nil, fmt.Errorf("list jobs: %w", ErrRecovering)
	}
	var out []timedJob
	seen := map[string]bool{}
	for _, j := range d.Jobs() {
		out = append(out, timedJob{j, d.startedAt(j.JobID), time.Time{}})
		seen[j.JobID] = true
	}
	d.mu.Lock()
	for id, j := range d.finished {
		if !seen[id] {
			out = append(out, timedJob{j, d.started[id], d.ended[id]})
			seen[id] = true
		}
	}
	d.mu.Unlock()
	fin, err := d.finishedJobs(ctx)
	if err != nil {
		return nil, err
	}
	for _, j := range fin {
		if !seen[j.JobID] {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].JobID < out[k].JobID })
	return out, nil
}

// startedAt is when a job this process started was submitted (zero: unknown).
func (d *Dispatcher) startedAt(jobID string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.started[jobID]
}

// reportTasks lets GET /jobs/overview and /jobs/{id} count a job's subtasks
// (the coordinator's); without it they report none. Call it before serving.
func (d *Dispatcher) reportTasks(f func(jobID string) jobTasks) { d.tasks = f }

func (d *Dispatcher) tasksOf(jobID string) jobTasks {
	if d.tasks == nil {
		return jobTasks{}
	}
	return d.tasks(jobID)
}

// Handler serves GET /jobs (every job, Flink's JobIdsWithStatusOverview),
// POST /jobs (submit), GET /jobs/overview (Flink's MultipleJobsDetails), GET
// /jobs/finished, GET /jobs/{id} (Flink's JobDetailsInfo, in every state) and
// POST /jobs/{id}/cancel. Errors are {"errors":[…]}.
func (d *Dispatcher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jobs", func(w http.ResponseWriter, r *http.Request) {
		jobs, err := d.allJobs(r.Context())
		if err != nil {
			httpjson.WriteRESTErrors(w, statusOf(err), err.Error())
			return
		}
		out := make([]JobIDStatus, len(jobs))
		for i, j := range jobs {
			out[i] = JobIDStatus{JobStatus: j.JobStatus, FlinkState: FlinkState(j.State)}
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"jobs": out})
	})
	mux.HandleFunc("GET /jobs/overview", func(w http.ResponseWriter, r *http.Request) {
		jobs, err := d.allJobs(r.Context())
		if err != nil {
			httpjson.WriteRESTErrors(w, statusOf(err), err.Error())
			return
		}
		now := time.Now()
		out := make([]JobOverview, len(jobs))
		for i, j := range jobs {
			out[i] = jobOverview(j, d.tasksOf(j.JobID), now)
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"jobs": out})
	})
	mux.HandleFunc("POST /jobs", func(w http.ResponseWriter, r *http.Request) {
		var s JobSubmission
		// A submission is at most 1 MiB (httpjson's default) of known fields.
		if err := (httpjson.Decoder{}).Decode(w, r, &s); err != nil {
			httpjson.WriteRESTErrors(w, httpjson.DecodeStatus(err), err.Error())
			return
		}
		if err := d.Submit(r.Context(), s); err != nil {
			httpjson.WriteRESTErrors(w, statusOf(err), err.Error())
			return
		}
		httpjson.Write(w, http.StatusAccepted, map[string]string{"jobid": s.JobID})
	})
	mux.HandleFunc("GET /jobs/finished", func(w http.ResponseWriter, r *http.Request) {
		jobs, err := d.FinishedJobs(r.Context())
		if err != nil {
			httpjson.WriteRESTErrors(w, http.StatusInternalServerError, err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"jobs": jobs})
	})
	mux.HandleFunc("GET /jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		j, err := d.status(r.Context(), r.PathValue("id"))
		if err != nil {
			httpjson.WriteRESTErrors(w, statusOf(err), err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, jobDetail(j, d.tasksOf(j.JobID), time.Now()))
	})
	mux.HandleFunc("POST /jobs/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		if err := d.Cancel(r.Context(), r.PathValue("id")); err != nil {
			status := statusOf(err)
			if errors.Is(err, ErrJobNotRunning) {
				status = http.StatusConflict // as before: not running here
			}
			httpjson.WriteRESTErrors(w, status, err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"status": JobCanceled})
	})
	return mux
}

// statusOf maps Submit's, Cancel's and Status's errors to HTTP status codes.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errNotLeading), errors.Is(err, recovery.ErrNotLeader), errors.Is(err, ErrRecovering):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrInvalidSubmission), errors.Is(err, recovery.ErrInvalidJobID):
		return http.StatusBadRequest
	case errors.Is(err, ErrJobExists), errors.Is(err, ErrSinkInUse), errors.Is(err, ErrTooManyJobs):
		return http.StatusConflict
	case errors.Is(err, ErrJobNotRunning):
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}
