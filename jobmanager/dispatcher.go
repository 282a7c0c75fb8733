package jobmanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
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
}

// DeployFunc runs a recovered or submitted job under the grant; the job package's
// coordinator plugs in here. It must return when ctx ends.
type DeployFunc func(ctx context.Context, g recovery.Grant, jobID string, graph []byte)

// Dispatcher keeps the jobs of the leader: a submission is acknowledged only once
// its graph is in the HA job graph store (payload in storage, pointer guarded by
// the leader's latch); on every grant it recovers the stored graphs, skipping jobs
// that already have a result. Safe for concurrent use.
type Dispatcher struct {
	graphs  recovery.JobGraphStore
	results recovery.JobResultStore
	deploy  DeployFunc
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
	gaveUp    chan struct{} // closed when the current grant is given up
}

type dispatched struct {
	status JobStatus
	cancel context.CancelFunc
	done   chan struct{}
}

// NewDispatcher returns a dispatcher over the HA stores; deploy may be nil.
func NewDispatcher(graphs recovery.JobGraphStore, results recovery.JobResultStore, deploy DeployFunc, log zerolog.Logger) *Dispatcher {
	return &Dispatcher{graphs: graphs, results: results, deploy: deploy, log: log, jobs: map[string]*dispatched{},
		listAttempts: 5, gaveUp: make(chan struct{})}
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

// OnRecovered sets f to be called each time a grant's stored jobs are recovered
// (their graphs read and their deploys started). Call it before Start.
func (d *Dispatcher) OnRecovered(f func()) { d.onRecovered = f }

// Start takes the grant at once (submissions are accepted from now on) and, in
// the background, recovers every stored job; when ctx ends (derive it from the
// grant's context) it stops the jobs. The returned func waits for that.
func (d *Dispatcher) Start(ctx context.Context, g recovery.Grant) (wait func()) {
	d.mu.Lock()
	d.grant, d.ctx, d.recovered = g, ctx, false
	gaveUp := make(chan struct{})
	d.gaveUp = gaveUp
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.lead(ctx, g, gaveUp)
	}()
	return func() { <-done }
}

func (d *Dispatcher) lead(ctx context.Context, g recovery.Grant, gaveUp chan struct{}) {
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
		d.mu.Unlock()
		if d.onRecovered != nil {
			d.onRecovered()
		}
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
			d.start(ctx, g, e.Key, "", e.Payload)
			n++
		}
	}
	return n, nil
}

func (d *Dispatcher) start(parent context.Context, g recovery.Grant, id, name string, graph []byte) {
	ctx, cancel := context.WithCancel(parent)
	j := &dispatched{status: JobStatus{JobID: id, Name: name, State: JobRunning}, cancel: cancel, done: make(chan struct{})}
	d.mu.Lock()
	if _, running := d.jobs[id]; running {
		d.mu.Unlock()
		cancel() // a resubmission of a running job only replaced its stored graph
		return
	}
	d.jobs[id] = j
	d.mu.Unlock()
	go func() {
		defer close(j.done)
		if d.deploy != nil {
			d.deploy(ctx, g, id, graph)
		} else {
			<-ctx.Done()
		}
	}()
}

// recoverLater lists a job whose graph could not be recovered with its error and
// retries with backoff until it recovers (then runs it), is removed, or ctx ends.
func (d *Dispatcher) recoverLater(parent context.Context, g recovery.Grant, id string, cause error) {
	ctx, cancel := context.WithCancel(parent)
	j := &dispatched{status: graphStatus(id, cause), cancel: cancel, done: make(chan struct{})}
	d.mu.Lock()
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
			graph, err := d.graphs.Recover(ctx, id)
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
			log.Info().Msg("dispatcher: job graph recovered")
			d.mu.Lock()
			j.status = JobStatus{JobID: id, State: JobRunning}
			d.mu.Unlock()
			if d.deploy != nil {
				d.deploy(ctx, g, id, graph)
			} else {
				<-ctx.Done()
			}
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

// Submit stores the graph, then runs the job. It returns only once the graph is
// in the HA job graph store.
func (d *Dispatcher) Submit(ctx context.Context, s JobSubmission) error {
	if err := recovery.ValidateJobID(s.JobID); err != nil {
		return err
	}
	d.mu.Lock()
	g, leadCtx := d.grant, d.ctx
	d.mu.Unlock()
	if g == nil {
		return errNotLeading
	}
	if done, err := d.results.Has(ctx, s.JobID); err != nil {
		return err
	} else if done {
		return fmt.Errorf("job %s already finished", s.JobID)
	}
	if err := d.graphs.Put(ctx, g, s.JobID, s.Graph); err != nil {
		return fmt.Errorf("store job graph %s: %w", s.JobID, err)
	}
	d.log.Info().Str(logging.Job, s.JobID).Str("name", s.Name).Msg("dispatcher: job submitted")
	d.start(leadCtx, g, s.JobID, s.Name, s.Graph)
	return nil
}

// Cancel ends a job for good: its result goes to the job result store first (so no
// later leader runs it again), then its graph is removed.
func (d *Dispatcher) Cancel(ctx context.Context, jobID string) error {
	d.mu.Lock()
	g := d.grant
	j, ok := d.jobs[jobID]
	d.mu.Unlock()
	if g == nil {
		return errNotLeading
	}
	if !ok {
		return fmt.Errorf("job %s is not running", jobID)
	}
	if err := d.results.CreateDirty(ctx, recovery.JobResult{JobID: jobID, State: JobCanceled, Finished: time.Now()}); err != nil {
		return fmt.Errorf("record the cancellation of %s: %w", jobID, err)
	}
	j.cancel()
	<-j.done
	d.mu.Lock()
	delete(d.jobs, jobID)
	d.mu.Unlock()
	if err := d.graphs.Remove(ctx, g, jobID); err != nil {
		return fmt.Errorf("remove job graph %s: %w", jobID, err)
	}
	if err := d.results.MarkClean(ctx, jobID); err != nil {
		return fmt.Errorf("mark %s clean: %w", jobID, err)
	}
	d.log.Info().Str(logging.Job, jobID).Msg("dispatcher: job canceled")
	return nil
}

// Recovered reports whether the current grant's stored jobs have been recovered.
func (d *Dispatcher) Recovered() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.recovered
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
	for i, j := range out {
		if d.health == nil || j.State != JobRunning {
			continue
		}
		if h, ok := d.health(j.JobID); ok {
			out[i].State, out[i].Error, out[i].Checkpoint, out[i].File = h.State, h.Error, h.Checkpoint, h.File
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].JobID < out[k].JobID })
	return out
}

// Handler serves /jobs (GET list, POST submit), /jobs/{id} (GET) and
// /jobs/{id}/cancel (POST).
func (d *Dispatcher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jobs", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]any{"jobs": d.Jobs()})
	})
	mux.HandleFunc("POST /jobs", func(w http.ResponseWriter, r *http.Request) {
		var s JobSubmission
		// A submission is at most 1 MiB (httpjson's default) of known fields.
		if err := (httpjson.Decoder{}).Decode(w, r, &s); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := d.Submit(r.Context(), s); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, errNotLeading) || errors.Is(err, recovery.ErrNotLeader) {
				status = http.StatusServiceUnavailable
			}
			http.Error(w, err.Error(), status)
			return
		}
		httpjson.Write(w, http.StatusAccepted, map[string]string{"jobid": s.JobID})
	})
	mux.HandleFunc("GET /jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		for _, j := range d.Jobs() {
			if j.JobID == id {
				httpjson.Write(w, http.StatusOK, j)
				return
			}
		}
		http.Error(w, fmt.Sprintf("job %s is not running", id), http.StatusNotFound)
	})
	mux.HandleFunc("POST /jobs/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		if err := d.Cancel(r.Context(), r.PathValue("id")); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"status": JobCanceled})
	})
	return mux
}
