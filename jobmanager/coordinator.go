package jobmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// CheckpointServices opens a job's HA checkpoint stores (*recovery.Services).
type CheckpointServices interface {
	CheckpointStore(ctx context.Context, jobID string) (*recovery.Checkpoints, error)
	CheckpointIDCounter(ctx context.Context, jobID string) (recovery.CheckpointIDCounter, error)
	// Storage holds the sinks' output. StateStorage and StateRoot locate the
	// TaskManagers' state files, which the coordinator removes once no retained
	// checkpoint needs them.
	Storage() hdfsstore.Store
	StateStorage() hdfsstore.Store
	StateRoot() string
	// CheckLeadership confirms with the backend's server that g still leads; it
	// fences side effects in storage (state discards, job results).
	CheckLeadership(ctx context.Context, g recovery.Guard) error
}

var _ CheckpointServices = (*recovery.Services)(nil)

// ExecutionRecorder records a job's graph with the execution that runs it
// (recovery.JobGraphs): a write guarded by the grant, made before the tasks of a
// new execution are deployed.
type ExecutionRecorder interface {
	Put(ctx context.Context, g recovery.Guard, jobID string, graph []byte) error
}

var _ ExecutionRecorder = (*recovery.JobGraphs)(nil)

// defaultAdoptWait bounds how long a new leader waits for the TaskManagers to
// report every subtask of a job in its recorded execution before it restores the
// job instead. It ends sooner when every container the application runs has
// registered (expectContainers).
const defaultAdoptWait = 10 * time.Second

// CheckpointMetadata is what a completed checkpoint stores (as JSON, in
// recovery.CompletedCheckpoint.Metadata): each subtask's state handle, in subtask
// order.
type CheckpointMetadata struct {
	Handles [][]byte `json:"handles"`
}

// Coordinator runs jobs on the registered TaskManagers under a grant: it deploys
// every subtask (restored from the job's latest checkpoint — an unreadable one
// stops that job's recovery, see Deploy), triggers
// checkpoints on the interval — at most one in flight — stores each completed one
// (guarded by the grant) before telling the tasks to commit, and fails the whole
// job over (redeploys from the latest checkpoint) when a TaskManager goes away or a
// task cannot take its snapshot. A checkpoint that fails on the coordinator's side
// while the grant still holds — the HA services unreachable (a ZooKeeper
// connection suspended under tolerate-suspended-connections, no quorum) or its
// store write failed and the store, once it answers, does not have it — is
// aborted and the next one is tried on the interval; the tasks run on.
type Coordinator struct {
	tms      *TaskManagers
	services CheckpointServices
	interval time.Duration
	timeout  time.Duration
	client   *tmapi.TaskManagerClient
	log      zerolog.Logger
	// recorder records each new execution with its job; nil: executions are
	// not recorded and running tasks never adopted.
	recorder  ExecutionRecorder
	adoptWait time.Duration
	// expected lists the containers the application runs (known false or nil:
	// unknown): once each has registered, a subtask none of them reports will
	// not come.
	expected func() (ids []string, known bool)

	mu       sync.Mutex
	changed  chan struct{}     // closed (and replaced) when a job's tasks are deployed
	deployed map[string]string // job → leader session its tasks were last deployed under
	health   map[string]JobHealth
	graphs   map[string]job.Graph // job → its decoded graph, while it runs here
	// restoreFrom is an operator's fall-back (Fallback): the job restores from
	// this retained checkpoint instead of its newest until it completes a newer one.
	restoreFrom map[string]int64
	wake        map[string]chan struct{} // job → signalled (buffered, 1) by Fallback
	stats       *statsBook               // checkpoints, restores, failovers per job (REST, metrics)
	// discard is signalled (buffered, 1) after each completed checkpoint of a
	// job: its state discarder removes what no retained checkpoint needs, off
	// the checkpoint loop (a storage call that hangs must not stop checkpoints).
	discard map[string]chan struct{}
}

// JobHealth is why a job does not run, as GET /jobs shows it: State is
// JobRecovering (a transient error, retried with backoff) or JobRecoveryFailed (an
// unreadable checkpoint: it waits for an operator), Error says what and where.
type JobHealth struct {
	State      string `json:"status"`
	Error      string `json:"error,omitempty"`
	Checkpoint int64  `json:"checkpoint,omitempty"`
	File       string `json:"file,omitempty"`
}

// NewCoordinator returns a coordinator; secret is the application secret its
// commands to TaskManagers carry, interval the default checkpoint interval
// (execution.checkpointing.interval), timeout bounds one checkpoint.
func NewCoordinator(tms *TaskManagers, services CheckpointServices, secret appsecret.Secret, interval, timeout time.Duration, log zerolog.Logger) *Coordinator {
	return &Coordinator{tms: tms, services: services, interval: interval, timeout: timeout, log: log,
		client: tmapi.NewTaskManagerClient(&http.Client{Timeout: timeout}, secret), deployed: map[string]string{},
		health: map[string]JobHealth{}, graphs: map[string]job.Graph{}, restoreFrom: map[string]int64{}, wake: map[string]chan struct{}{},
		discard: map[string]chan struct{}{}, changed: make(chan struct{}), stats: newStatsBook(), adoptWait: defaultAdoptWait}
}

// RecordExecutions has the coordinator record every execution it deploys with
// its job (through r, guarded by the grant), and adopt the running tasks of a
// job's recorded execution instead of restoring it. Call it before the
// coordinator runs.
func (c *Coordinator) RecordExecutions(r ExecutionRecorder) { c.recorder = r }

// expectContainers tells the coordinator which containers the application
// runs, so that it restores a job at once when all of them registered without
// every subtask of the job. Call it before the coordinator runs.
func (c *Coordinator) expectContainers(f func() ([]string, bool)) { c.expected = f }

// allRegistered reports whether every expected container has registered.
func (c *Coordinator) allRegistered(tms []TaskManagerInfo) bool {
	if c.expected == nil {
		return false
	}
	ids, known := c.expected()
	if !known {
		return false
	}
	for _, id := range ids {
		if !slices.ContainsFunc(tms, func(tm TaskManagerInfo) bool { return tm.ContainerID == id }) {
			return false
		}
	}
	return true
}

// useHTTP has the commands to TaskManagers made with hc (internal TLS). Call it
// before the coordinator runs.
func (c *Coordinator) useHTTP(hc *http.Client, secret appsecret.Secret) {
	c.client = tmapi.NewTaskManagerClient(hc, secret)
}

// Deployed returns a channel closed the next time a job's tasks are deployed.
func (c *Coordinator) Deployed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// AllDeployed reports whether every job has its tasks deployed under grant g.
func (c *Coordinator) AllDeployed(jobs []JobStatus, g recovery.Grant) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, j := range jobs {
		if c.deployed[j.JobID] != g.SessionID().String() {
			return false
		}
	}
	return true
}

// Deploy is a DeployFunc: it runs one job until ctx ends. A transient failure to
// restore (storage or ZooKeeper unreachable) is retried with backoff, the job
// listed as JobRecovering meanwhile; an unreadable checkpoint stops the job as
// JobRecoveryFailed until an operator falls back (Fallback) — nothing is changed
// in ZooKeeper or storage.
func (c *Coordinator) Deploy(ctx context.Context, g recovery.Grant, jobID string, encoded []byte) {
	log := c.log.With().Str(logging.Job, jobID).Str(logging.LeaderSession, g.SessionID().String()).Logger()
	defer c.forget(jobID)
	var graph job.Graph
	var cps *recovery.Checkpoints
	var counter recovery.CheckpointIDCounter
	for b := newBackoff(); ; {
		var err error
		graph, cps, counter, err = c.open(ctx, jobID, encoded)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		c.setHealth(log, jobID, err)
		b.wait(ctx)
	}
	defer c.release(log, g, cps, counter)
	defer c.startDiscarder(ctx, g, log, jobID, cps)()
	c.mu.Lock()
	c.graphs[jobID] = graph
	c.mu.Unlock()
	interval := graph.Spec.IntervalOr(c.interval)
	b := newBackoff()
	// Only the first run under this grant may adopt what an earlier leader
	// deployed: after a failure here the job restores.
	adopt := c.recorder != nil && graph.Execution != ""
	to := &takeover{}
	if graph.Execution != "" && c.recorder == nil {
		to.why = "executions are not recorded: nothing to adopt"
	}
	for ctx.Err() == nil {
		err := c.runOnce(ctx, g, log, jobID, &graph, &encoded, adopt, to, cps, counter, interval)
		adopt = false
		if ctx.Err() != nil {
			c.stats.undeployed(jobID, nil, time.Now())
			if g.Err() == nil {
				// Still leading: the job was canceled. Stop its tasks everywhere.
				c.stopTasks(g, jobID)
			}
			return
		}
		c.stats.undeployed(jobID, err, time.Now())
		// The next placement may put subtasks elsewhere: none of this execution may
		// run on beside them (a TaskManager replaces only the subtask it is sent).
		c.stopTasks(g, jobID)
		if !c.restoreFailed(err) {
			log.Warn().Err(err).Msg("job failover: redeploying from the latest checkpoint")
			b.reset()
			wait(ctx, 200*time.Millisecond)
			continue
		}
		if failed := c.setHealth(log, jobID, err); failed != nil {
			// Nothing to retry: wait for an operator's fall-back (or the end).
			select {
			case <-ctx.Done():
				return
			case <-c.wakeup(jobID):
			}
			continue
		}
		b.wait(ctx)
	}
}

// release ends a job's run here: its checkpoint store drops this instance's
// locks and closes (checkpoints kept), its ID counter closes (kept). Otherwise a
// process that lives on after its run (a deposed leader, a standby again) would
// hold the locks until its session ends, and a cancel under the next leader
// could not remove the job's checkpoints (ErrLocked).
func (c *Coordinator) release(log zerolog.Logger, g recovery.Grant, cps *recovery.Checkpoints, counter recovery.CheckpointIDCounter) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := errors.Join(cps.Shutdown(ctx, g, false), counter.Shutdown(ctx, g, false)); err != nil {
		log.Warn().Err(err).Msg("cannot release the job's checkpoint locks; they go with this process's session")
	}
}

// FallbackPlan is what falling a job back to a retained checkpoint does: the
// replay from To commits again, under new part names, what Duplicated parts hold
// (the job's committed parts of checkpoints newer than To; nothing is removed).
type FallbackPlan struct {
	JobID      string   `json:"jobId"`
	To         int64    `json:"to"`
	Retained   []int64  `json:"retained"`   // the job's retained checkpoints
	Duplicated []string `json:"duplicated"` // committed parts the replay duplicates
	Done       bool     `json:"done"`       // the fall-back was made (confirmed)
}

// ErrFallback matches every refused fall-back.
var ErrFallback = errors.New("jobmanager: fall-back refused")

// Fallback plans (confirm false) or makes (confirm true) an operator's fall-back
// of a job whose recovery failed to its retained checkpoint to. Making it changes
// nothing in ZooKeeper or storage: the job restores from to (reading it must
// succeed) instead of its newest checkpoint until it completes a newer one, which
// then subsumes the unreadable ones as usual. It is Flink's restart from a chosen
// retained checkpoint.
func (c *Coordinator) Fallback(ctx context.Context, jobID string, to int64, confirm bool) (FallbackPlan, error) {
	plan := FallbackPlan{JobID: jobID, To: to}
	c.mu.Lock()
	h := c.health[jobID]
	graph, known := c.graphs[jobID]
	c.mu.Unlock()
	if !known {
		return plan, fmt.Errorf("%w: job %s does not run under this leader", ErrFallback, jobID)
	}
	if h.State != JobRecoveryFailed {
		return plan, fmt.Errorf("%w: job %s: its recovery did not fail (status %q); a fall-back is for a job whose latest checkpoint is unreadable", ErrFallback, jobID, h.State)
	}
	if to <= 0 || to >= h.Checkpoint {
		return plan, fmt.Errorf("%w: job %s: --to %d: want a retained checkpoint older than the unreadable %d", ErrFallback, jobID, to, h.Checkpoint)
	}
	cps, err := c.services.CheckpointStore(ctx, jobID)
	if err != nil {
		return plan, fmt.Errorf("jobmanager: fall back job %s: checkpoint store: %w", jobID, err)
	}
	if plan.Retained, err = cps.IDs(ctx); err != nil {
		return plan, fmt.Errorf("jobmanager: fall back job %s: list checkpoints: %w", jobID, err)
	}
	if !slices.Contains(plan.Retained, to) {
		return plan, fmt.Errorf("%w: job %s: checkpoint %d is not retained (retained: %v)", ErrFallback, jobID, to, plan.Retained)
	}
	if _, _, err := restore(ctx, cps, jobID, to, graph.Spec.Parallelism); err != nil {
		return plan, fmt.Errorf("%w: job %s: checkpoint %d: %w", ErrFallback, jobID, to, err)
	}
	st := c.services.Storage()
	plan.Duplicated = []string{}
	for _, step := range graph.Spec.Pipeline {
		fs, ok := step.Config.(*job.FileSinkConfig)
		if !ok {
			continue
		}
		parts, err := job.CommittedParts(ctx, st, job.OutputDir(taskmanager.OutputRoot, fs.Path))
		if err != nil {
			return plan, fmt.Errorf("jobmanager: fall back job %s: %w", jobID, err)
		}
		for _, p := range parts {
			if p.Job == job.JobID(jobID) && p.Checkpoint > to {
				plan.Duplicated = append(plan.Duplicated, p.Name)
			}
		}
	}
	if !confirm {
		return plan, nil
	}
	c.mu.Lock()
	c.restoreFrom[jobID] = to
	c.mu.Unlock()
	select {
	case c.wakeup(jobID) <- struct{}{}:
	default: // already signalled
	}
	plan.Done = true
	c.log.Warn().Str(logging.Job, jobID).Int64(logging.Checkpoint, to).Int64("unreadable_checkpoint", h.Checkpoint).
		Strs("duplicated", plan.Duplicated).Msg("operator fall-back: the job restores from an older checkpoint")
	return plan, nil
}

// errRestore marks an error of restoring a job (reading its checkpoint or
// deploying its state), as opposed to one of running it.
type errRestore struct{ err error }

func (e *errRestore) Error() string { return e.err.Error() }
func (e *errRestore) Unwrap() error { return e.err }

func (c *Coordinator) restoreFailed(err error) bool {
	var re *errRestore
	return errors.As(err, &re)
}

// setHealth records why the job does not run: an unreadable checkpoint is
// JobRecoveryFailed (logged once, returned), anything else JobRecovering.
func (c *Coordinator) setHealth(log zerolog.Logger, jobID string, err error) *recovery.UnreadableCheckpointError {
	var ue *recovery.UnreadableCheckpointError
	h := JobHealth{State: JobRecovering, Error: err.Error()}
	failed := errors.As(err, &ue)
	if failed {
		h = JobHealth{State: JobRecoveryFailed, Error: err.Error(), Checkpoint: ue.ID, File: ue.File}
	}
	c.mu.Lock()
	prev := c.health[jobID]
	c.health[jobID] = h
	c.mu.Unlock()
	switch {
	case failed && prev != h:
		log.Error().Int64(logging.Checkpoint, ue.ID).Str(logging.File, ue.File).Err(err).
			Msg("job recovery failed: its latest checkpoint is unreadable; nothing was changed. " +
				"Fall back to an older checkpoint with `yarn-session checkpoints fallback`")
		return ue
	case failed:
		return ue
	case prev.Error != h.Error:
		log.Warn().Err(err).Msg("job recovery: retrying with backoff")
	}
	return nil
}

// Health returns why a job does not run under this leader (ok false: nothing
// to report — it runs, or is not known here).
func (c *Coordinator) Health(jobID string) (JobHealth, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.health[jobID]
	return h, ok
}

// wakeup returns the channel Fallback signals for jobID: a signal sent before
// the job waits is kept (the buffer), not lost.
func (c *Coordinator) wakeup(jobID string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.wake[jobID]
	if !ok {
		ch = make(chan struct{}, 1)
		c.wake[jobID] = ch
	}
	return ch
}

// forget drops what this grant knew of a job that no longer runs here.
func (c *Coordinator) forget(jobID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.health, jobID)
	delete(c.graphs, jobID)
	delete(c.restoreFrom, jobID)
	delete(c.wake, jobID)
}

// Recover is what Deploy does before it places any subtask, without placing
// one: decode the job's graph, open its checkpoint store and ID counter, and read
// its latest completed checkpoint. It returns that checkpoint's ID (0:
// none, the job would start fresh). The recovery benchmark (cmd/amkeeper-bench)
// times it for many jobs.
func (c *Coordinator) Recover(ctx context.Context, jobID string, encoded []byte) (int64, error) {
	graph, cps, _, err := c.open(ctx, jobID, encoded)
	if err != nil {
		return 0, fmt.Errorf("jobmanager: recover job %s: %w", jobID, err)
	}
	restored, _, err := restore(ctx, cps, jobID, 0, graph.Spec.Parallelism)
	if err != nil {
		return 0, fmt.Errorf("jobmanager: recover job %s: %w", jobID, err)
	}
	return restored, nil
}

// open decodes a job's graph and opens its checkpoint stores.
func (c *Coordinator) open(ctx context.Context, jobID string, encoded []byte) (
	job.Graph, *recovery.Checkpoints, recovery.CheckpointIDCounter, error) {
	graph, err := job.DecodeGraph(encoded)
	if err != nil {
		return job.Graph{}, nil, nil, fmt.Errorf("decode the job graph: %w", err)
	}
	cps, err := c.services.CheckpointStore(ctx, jobID)
	if err != nil {
		return job.Graph{}, nil, nil, fmt.Errorf("checkpoint store: %w", err)
	}
	counter, err := c.services.CheckpointIDCounter(ctx, jobID)
	if err != nil {
		return job.Graph{}, nil, nil, fmt.Errorf("checkpoint ID counter: %w", err)
	}
	return graph, cps, counter, nil
}

// restore reads the latest completed checkpoint of a job with p subtasks — or,
// with from > 0, the retained checkpoint from (an operator's fall-back): its ID
// (0: none) and each subtask's state handle (nil ones when there is none). An
// unreadable checkpoint is a *recovery.UnreadableCheckpointError; it is never
// skipped.
func restore(ctx context.Context, cps *recovery.Checkpoints, jobID string, from int64, p int) (int64, [][]byte, error) {
	var latest recovery.CompletedCheckpoint
	ok := true
	var err error
	if from > 0 {
		latest, err = cps.Get(ctx, from)
	} else {
		latest, ok, err = cps.Latest(ctx)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("recover the latest checkpoint: %w", err)
	}
	if !ok {
		return 0, make([][]byte, p), nil
	}
	var md CheckpointMetadata
	if err := json.Unmarshal(latest.Metadata, &md); err != nil {
		return 0, nil, recovery.NewUnreadableCheckpoint(jobID, latest.ID, "",
			fmt.Errorf("%w: metadata undecodable: %w", recovery.ErrCorruptState, err))
	}
	if len(md.Handles) != p {
		return 0, nil, recovery.NewUnreadableCheckpoint(jobID, latest.ID, "",
			fmt.Errorf("%w: metadata holds %d state handles, want %d (the job's parallelism)", recovery.ErrCorruptState, len(md.Handles), p))
	}
	return latest.ID, md.Handles, nil
}

// runOnce adopts the job's running tasks (when adopt is set and they all run in
// its recorded execution) or deploys a new execution of it, restored from its
// latest checkpoint, and checkpoints it until something fails.
//
// The first run under a grant whose tasks run records how the job was taken
// over (to; Takeover): adopted, restored (and why not adopted) or started.
func (c *Coordinator) runOnce(ctx context.Context, g recovery.Grant, log zerolog.Logger, jobID string, graph *job.Graph, payload *[]byte, adopt bool, to *takeover,
	cps *recovery.Checkpoints, counter recovery.CheckpointIDCounter, interval time.Duration) error {
	start := time.Now()
	p := graph.Spec.Parallelism
	if adopt {
		// The first checkpoint's ID is taken from the counter while the
		// TaskManagers re-register (a guarded ZooKeeper write of its own): any ID
		// the counter hands this grant is above every ID an earlier leader took.
		// When the job is not adopted it is left unused, a gap in the IDs.
		ahead := make(chan checkpointID, 1)
		go func() {
			id, err := counter.GetAndIncrement(ctx, g)
			ahead <- checkpointID{id, err}
		}()
		placement, last, notAdopted := c.adopt(ctx, log, jobID, *graph)
		first := <-ahead
		to.why = notAdopted
		if notAdopted == "" {
			c.mu.Lock()
			c.deployed[jobID] = g.SessionID().String()
			delete(c.health, jobID)
			c.stats.adopted(jobID, placement)
			to.record(c.stats, jobID, Takeover{Outcome: TakeoverAdopted, Execution: graph.Execution, Checkpoint: last})
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
			logging.Since(log.Info().Str("execution", graph.Execution).Int64("last_checkpoint", last).Int("subtasks", p), start).
				Msg("job adopted: its tasks kept running through the failover")
			// Checkpoints paused while no leader ran them: take one now.
			if err := c.checkpointAs(ctx, g, log, jobID, placement, cps, first); err != nil {
				var skipped *errCheckpointSkipped
				if !errors.As(err, &skipped) {
					return err
				}
				log.Warn().Err(err).Msg("checkpoint failed; the tasks run on and the next one is tried on the interval")
			}
			return c.supervise(ctx, g, log, jobID, *graph, placement, cps, counter, interval)
		}
	}
	c.mu.Lock()
	from := c.restoreFrom[jobID]
	c.mu.Unlock()
	restored, handles, err := restore(ctx, cps, jobID, from, p)
	if err != nil {
		return &errRestore{err}
	}
	placement, err := c.place(ctx, p)
	if err != nil {
		return err
	}
	if graph.Execution != "" {
		// An earlier execution may still run anywhere (kept through a
		// leaderless time): none of it may run beside the new one.
		c.stopTasks(g, jobID)
	}
	encoded, err := c.newExecution(ctx, g, graph, *payload)
	if err != nil {
		return err
	}
	*payload = encoded
	for sub, tm := range placement {
		d := tmapi.Deployment{JobID: jobID, Subtask: sub, Graph: encoded, Handle: handles[sub]}
		if err := c.client.Deploy(ctx, tm.Address, g.SessionID(), d); err != nil {
			err = fmt.Errorf("deploy subtask %d on %s: %w", sub, tm.ContainerID, err)
			if errors.Is(err, tmapi.ErrUnusableState) {
				// The TaskManager cannot use a state file this checkpoint references:
				// the file is named in its message.
				return &errRestore{recovery.NewUnreadableCheckpoint(jobID, restored, "", err)}
			}
			return err
		}
	}
	c.mu.Lock()
	c.deployed[jobID] = g.SessionID().String()
	delete(c.health, jobID)
	c.stats.deployed(jobID, restored, time.Now(), placement)
	if to.why == "" {
		to.record(c.stats, jobID, Takeover{Outcome: TakeoverStarted, Execution: graph.Execution})
	} else {
		to.record(c.stats, jobID, Takeover{Outcome: TakeoverRestored, Execution: graph.Execution, Checkpoint: restored, Reason: to.why})
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	logging.Since(log.Info().Int64("restored_checkpoint", restored).Str("execution", graph.Execution).Int("subtasks", p), start).Msg("job deployed")
	return c.supervise(ctx, g, log, jobID, *graph, placement, cps, counter, interval)
}

// takeover is what a job's run under one grant knows of how it took the job
// over, until its tasks first run and the Takeover is recorded.
type takeover struct {
	recorded bool
	// why the running tasks were not adopted ("": they were, or the job had
	// never been deployed).
	why string
}

// record records t (at now) once per grant.
func (to *takeover) record(b *statsBook, jobID string, t Takeover) {
	if to.recorded {
		return
	}
	to.recorded = true
	t.At = time.Now().UnixMilli()
	b.tookOver(jobID, t)
}

// newExecution names a new execution of the job and records it with the job's
// stored graph payload (guarded by g: a deposed leader deploys nothing),
// returning the payload to deploy: the stored one with its "execution" field set,
// everything else in it (the submission's metadata) kept. Without a recorder the
// execution is named but not recorded.
func (c *Coordinator) newExecution(ctx context.Context, g recovery.Grant, graph *job.Graph, payload []byte) ([]byte, error) {
	execution := uuid.NewString()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return nil, fmt.Errorf("record execution %s: the job graph is not a JSON object: %w", execution, err)
	}
	fields["execution"], _ = json.Marshal(execution)
	encoded, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("record execution %s: %w", execution, err)
	}
	if c.recorder != nil {
		if err := c.recorder.Put(ctx, g, string(graph.ID), encoded); err != nil {
			return nil, fmt.Errorf("record execution %s: %w", execution, err)
		}
	}
	graph.Execution = execution
	return encoded, nil
}

// adopt waits (at most adoptWait) for the registered TaskManagers to report every
// subtask of the job running in its recorded execution, and returns where each
// runs and the highest checkpoint any of them snapshotted, or why it cannot
// adopt them (not empty). It gives up at once when one reports a subtask of the
// job in another execution, or twice.
func (c *Coordinator) adopt(ctx context.Context, log zerolog.Logger, jobID string, graph job.Graph) ([]TaskManagerInfo, int64, string) {
	deadline := time.NewTimer(c.adoptWait)
	defer deadline.Stop()
	// The expected containers become known without a registration change.
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		changed := c.tms.Changed()
		tms := c.tms.List()
		placement, last, missing, why := adoption(tms, jobID, graph.Execution, graph.Spec.Parallelism)
		switch {
		case why != "":
			log.Info().Str(logging.Reason, why).Msg("running tasks not adopted: restoring the job")
			return nil, 0, why
		case missing == 0:
			return placement, last, ""
		case c.allRegistered(tms):
			why = fmt.Sprintf("%s not running in execution %s (every TaskManager registered)", missingSubtasks(placement), graph.Execution)
			log.Info().Int("missing_subtasks", missing).Str(logging.Reason, why).
				Msg("running tasks not adopted: every TaskManager registered, not every subtask runs in the recorded execution; restoring the job")
			return nil, 0, why
		}
		select {
		case <-ctx.Done():
			return nil, 0, "leadership ended"
		case <-deadline.C:
			why = fmt.Sprintf("%s not running in execution %s after %v", missingSubtasks(placement), graph.Execution, c.adoptWait)
			log.Info().Int("missing_subtasks", missing).Dur("waited", c.adoptWait).Str(logging.Reason, why).
				Msg("running tasks not adopted: not every subtask runs in the recorded execution; restoring the job")
			return nil, 0, why
		case <-changed:
		case <-poll.C:
		}
	}
}

// missingSubtasks names the subtasks a placement has no TaskManager for:
// "subtask 1", "subtasks 0, 2".
func missingSubtasks(placement []TaskManagerInfo) string {
	var ids []string
	for i, tm := range placement {
		if tm.ContainerID == "" {
			ids = append(ids, strconv.Itoa(i))
		}
	}
	if len(ids) == 1 {
		return "subtask " + ids[0]
	}
	return "subtasks " + strings.Join(ids, ", ")
}

// adoption matches the tasks TaskManagers reported against a job's recorded
// execution with p subtasks: where each subtask runs, the highest checkpoint
// one snapshotted, how many are missing, and why adopting is impossible
// (empty: possible once none is missing).
func adoption(tms []TaskManagerInfo, jobID, execution string, p int) ([]TaskManagerInfo, int64, int, string) {
	placement := make([]TaskManagerInfo, p)
	found := make([]bool, p)
	var last int64
	for _, tm := range tms {
		for _, t := range tm.Tasks {
			if t.JobID != jobID {
				continue
			}
			switch {
			case t.Execution != execution:
				return nil, 0, 0, fmt.Sprintf("subtask %d runs on %s in execution %q, not the recorded %q", t.Subtask, tm.ContainerID, t.Execution, execution)
			case t.Subtask < 0 || t.Subtask >= p:
				return nil, 0, 0, fmt.Sprintf("%s runs subtask %d of a job with %d", tm.ContainerID, t.Subtask, p)
			case found[t.Subtask]:
				return nil, 0, 0, fmt.Sprintf("subtask %d runs twice (%s and %s)", t.Subtask, placement[t.Subtask].ContainerID, tm.ContainerID)
			}
			found[t.Subtask], placement[t.Subtask] = true, tm
			last = max(last, t.LastCheckpoint)
		}
	}
	missing := 0
	for _, f := range found {
		if !f {
			missing++
		}
	}
	return placement, last, missing, ""
}

// supervise checkpoints the job's tasks on placement until something fails.
func (c *Coordinator) supervise(ctx context.Context, g recovery.Grant, log zerolog.Logger, jobID string, graph job.Graph, placement []TaskManagerInfo,
	cps *recovery.Checkpoints, counter recovery.CheckpointIDCounter, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.tms.Changed():
			if lost := c.lost(placement); lost != "" {
				return fmt.Errorf("taskmanager %s is gone", lost)
			}
			c.dropStrays(ctx, g, log, jobID, graph.Execution, placement)
		case <-tick.C:
			if err := c.checkpoint(ctx, g, log, jobID, placement, cps, counter); err != nil {
				var skipped *errCheckpointSkipped
				if !errors.As(err, &skipped) {
					return err
				}
				log.Warn().Err(err).Msg("checkpoint failed; the tasks run on and the next one is tried on the interval")
			}
		}
	}
}

// place assigns subtasks to registered TaskManagers' slots, waiting until there
// are enough.
func (c *Coordinator) place(ctx context.Context, p int) ([]TaskManagerInfo, error) {
	for {
		changed := c.tms.Changed()
		var slots []TaskManagerInfo
		tms := c.tms.List() // sorted by container ID
		for i := 0; ; i++ {
			added := false
			for _, tm := range tms {
				if i < tm.Slots {
					slots = append(slots, tm)
					added = true
				}
			}
			if !added {
				break
			}
		}
		if len(slots) >= p {
			return slots[:p], nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

func (c *Coordinator) lost(placement []TaskManagerInfo) string {
	live := map[string]bool{}
	for _, tm := range c.tms.List() {
		live[tm.ContainerID] = true
	}
	for _, tm := range placement {
		if !live[tm.ContainerID] {
			return tm.ContainerID
		}
	}
	return ""
}

// checkpointID is an ID taken from a job's checkpoint ID counter, or why none was.
type checkpointID struct {
	id  int64
	err error
}

// checkpoint takes one checkpoint: trigger everywhere, store it (guarded), then
// tell every task it completed. A failure aborts it and fails the job over.
func (c *Coordinator) checkpoint(ctx context.Context, g recovery.Grant, log zerolog.Logger, jobID string,
	placement []TaskManagerInfo, cps *recovery.Checkpoints, counter recovery.CheckpointIDCounter) error {
	id, err := counter.GetAndIncrement(ctx, g)
	return c.checkpointAs(ctx, g, log, jobID, placement, cps, checkpointID{id, err})
}

// checkpointAs is checkpoint with its ID (or the error of taking one) already
// taken from the counter.
func (c *Coordinator) checkpointAs(ctx context.Context, g recovery.Grant, log zerolog.Logger, jobID string,
	placement []TaskManagerInfo, cps *recovery.Checkpoints, taken checkpointID) (err error) {
	start := time.Now()
	id, err := taken.id, taken.err
	if err != nil {
		err = fmt.Errorf("checkpoint ID: %w", err)
		if errors.Is(err, recovery.ErrNotConnected) && g.Err() == nil {
			// Nothing was triggered; an increment whose outcome is unknown only
			// leaves a gap in the IDs.
			return &errCheckpointSkipped{err}
		}
		return err
	}
	c.stats.triggered(jobID)
	rec := checkpointRecord{ID: id, Triggered: start, Subtasks: len(placement)}
	defer func() {
		if rec.Acked.IsZero() {
			rec.Acked = time.Now()
		}
		if err != nil {
			rec.Failure = err.Error()
		}
		c.stats.finished(jobID, rec)
	}()
	tctx, cancelTimeout := context.WithTimeout(ctx, c.timeout)
	defer cancelTimeout()
	// A TaskManager of the placement that goes silent ends the checkpoint now,
	// not at the checkpoint timeout: a host cut off never answers, and the job
	// fails over only once this returns.
	cctx, cancel := context.WithCancelCause(tctx)
	defer cancel(nil)
	go c.watchPlacement(cctx, placement, func(lost string) { cancel(errTaskManagerGone{lost}) })
	handles := make([][]byte, len(placement))
	errs := make([]error, len(placement))
	var wg sync.WaitGroup
	for sub, tm := range placement {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ack, err := c.client.TriggerCheckpoint(cctx, tm.Address, g.SessionID(), tmapi.TaskID{JobID: jobID, Subtask: sub}, id)
			errs[sub], handles[sub] = err, ack.Handle
		}()
	}
	wg.Wait()
	var gone errTaskManagerGone
	if errors.As(context.Cause(cctx), &gone) {
		// Tell the others; the lost one would not answer either.
		c.each(ctx, g, jobID, placement, "abort", id, func(ctx context.Context, tm string, session uuid.UUID, task tmapi.TaskID, id int64) error {
			if placement[task.Subtask].ContainerID == gone.containerID {
				return nil
			}
			return c.client.AbortCheckpoint(ctx, tm, session, task, id)
		})
		return fmt.Errorf("checkpoint %d aborted: %w", id, gone)
	}
	if err := errors.Join(errs...); err != nil {
		c.each(ctx, g, jobID, placement, "abort", id, c.client.AbortCheckpoint)
		return fmt.Errorf("checkpoint %d aborted: %w", id, err)
	}
	md, _ := json.Marshal(CheckpointMetadata{Handles: handles})
	rec.Size = int64(len(md))
	// The store's write settles before this run can end: the ZooKeeper client
	// abandons a call whose context ends, and the abandoned request may still be
	// applied later. Under ctx, a cancel that ended the run mid-write could remove
	// the job's checkpoints first and the abandoned create land after it: a
	// checkpoint pointer, locked by this instance, left behind a canceled job. So
	// the write outlives the job's cancel; only the end of the grant (its later
	// writes are fenced) or the checkpoint timeout cut it short.
	sctx, scancel := context.WithTimeout(g.Context(), c.timeout)
	defer scancel()
	if err := cps.Store(sctx, g, recovery.CompletedCheckpoint{JobID: jobID, ID: id, Timestamp: time.Now(), Metadata: md}); err != nil {
		err = fmt.Errorf("store checkpoint %d: %w", id, err)
		// The write's outcome may be unknown (the connection dropped under it):
		// an abort would remove state a stored pointer references, so ask the
		// store first.
		stored, rerr := c.stored(ctx, g, cps, id)
		switch {
		case rerr != nil:
			// Still unknown: no abort. Unstored, its state files go with the
			// older ones once a newer checkpoint is retained (discardState).
			return fmt.Errorf("%w; %w", err, rerr)
		case !stored:
			c.each(ctx, g, jobID, placement, "abort", id, c.client.AbortCheckpoint)
			return &errCheckpointSkipped{err}
		}
		log.Warn().Err(err).Int64(logging.Checkpoint, id).Msg("checkpoint stored although its store write reported an error")
	}
	rec.Acked = time.Now() // stored: complete, whatever the commit commands meet
	c.mu.Lock()
	delete(c.restoreFrom, jobID) // a newer checkpoint than the fall-back's: it is the latest now
	c.mu.Unlock()
	c.each(cctx, g, jobID, placement, "complete", id, c.client.CompleteCheckpoint)
	logging.Since(log.Debug().Int64(logging.Checkpoint, id), start).Msg("checkpoint completed")
	// The older checkpoints are subsumed only now, off the path from the
	// trigger to the tasks' commit: until then the store retains one more.
	subctx, subcancel := context.WithTimeout(g.Context(), c.timeout) // a budget of its own, not what the store write left
	defer subcancel()
	if _, err := cps.Subsume(subctx, g, id); err != nil {
		log.Warn().Err(err).Int64(logging.Checkpoint, id).Msg("cannot subsume older checkpoints; the next checkpoint tries again")
	}
	c.discardSoon(ctx, g, log, jobID, cps)
	return nil
}

// startDiscarder runs the job's state discarder until the returned stop is
// called (stop waits for a removal under way: the job's release comes after).
func (c *Coordinator) startDiscarder(ctx context.Context, g recovery.Guard, log zerolog.Logger, jobID string, cps *recovery.Checkpoints) (stop func()) {
	wake := make(chan struct{}, 1)
	c.mu.Lock()
	c.discard[jobID] = wake
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				c.discardState(ctx, g, log, jobID, cps)
			}
		}
	}()
	// stop waits for a removal under way: a discarder outliving its job could,
	// for a job submitted again under the same ID (its checkpoint IDs start
	// over), remove the new run's state as older than its old retained ones.
	return func() {
		c.mu.Lock()
		if c.discard[jobID] == wake {
			delete(c.discard, jobID)
		}
		c.mu.Unlock()
		cancel()
		<-done
	}
}

// discardSoon has the job's discarder remove the state no retained checkpoint
// needs; without one (a checkpoint taken outside Deploy) it removes it here.
// Signals coalesce: one pass after several checkpoints removes all of theirs.
func (c *Coordinator) discardSoon(ctx context.Context, g recovery.Guard, log zerolog.Logger, jobID string, cps *recovery.Checkpoints) {
	c.mu.Lock()
	wake, ok := c.discard[jobID]
	c.mu.Unlock()
	if !ok {
		c.discardState(ctx, g, log, jobID, cps)
		return
	}
	select {
	case wake <- struct{}{}:
	default: // a pass is pending: it sees this checkpoint's subsumed ones too
	}
}

// errCheckpointSkipped is a checkpoint that failed without touching the tasks'
// execution: nothing of it is stored and its tasks were told to abort it (their
// sealed output goes with the next completed checkpoint).
type errCheckpointSkipped struct{ err error }

func (e *errCheckpointSkipped) Error() string { return e.err.Error() }
func (e *errCheckpointSkipped) Unwrap() error { return e.err }

// stored reports whether checkpoint id is in the store, asking until the store
// answers (with backoff) while g holds; an error when g is lost or ctx ends first.
func (c *Coordinator) stored(ctx context.Context, g recovery.Grant, cps *recovery.Checkpoints, id int64) (bool, error) {
	for b := newBackoff(); ; b.wait(ctx) {
		if err := g.Err(); err != nil {
			return false, fmt.Errorf("checkpoint %d: whether it is stored is unknown: %w", id, err)
		}
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("checkpoint %d: whether it is stored is unknown: %w", id, err)
		}
		ids, err := cps.IDs(ctx)
		if err == nil {
			return slices.Contains(ids, id), nil
		}
	}
}

// discardState removes the state files of every checkpoint of the job older than
// the oldest one the store retains: those subsumed just now, and those an earlier
// attempt subsumed or aborted but did not get to remove (it was killed in
// between). Retained checkpoints and newer ones are never touched: a checkpoint
// in flight (this runs beside the next one) has a higher ID than every retained
// one. Failures are
// logged; the next checkpoint tries again. Each removal happens only after the
// backend confirms that g still leads, so a paused and resumed old leader
// removes nothing.
func (c *Coordinator) discardState(ctx context.Context, g recovery.Guard, log zerolog.Logger, jobID string, cps *recovery.Checkpoints) {
	kept, err := cps.IDs(ctx)
	if err != nil || len(kept) == 0 {
		if err != nil {
			log.Warn().Err(err).Msg("cannot list retained checkpoints; their older state stays for now")
		}
		return
	}
	st := c.services.StateStorage()
	dir := c.services.StateRoot() + "/" + jobID + "/"
	names, err := st.List(ctx, dir)
	if err != nil {
		log.Warn().Err(err).Str(logging.File, dir).Msg("cannot list checkpoint state")
		return
	}
	var old []int64
	for _, name := range names {
		chk, _, _ := strings.Cut(strings.TrimPrefix(name, dir), "/")
		num, ok := strings.CutPrefix(chk, "chk-")
		id, err := strconv.ParseInt(num, 10, 64)
		if ok && err == nil && id < kept[0] && !slices.Contains(old, id) {
			old = append(old, id)
		}
	}
	for _, id := range old {
		if err := c.services.CheckLeadership(ctx, g); err != nil {
			log.Warn().Err(err).Int64(logging.Checkpoint, id).Msg("not leading any more: the state of a subsumed checkpoint stays")
			return
		}
		// The whole chk-<id>/ directory, with any temporaries a writer left.
		if err := hdfsstore.RemoveAll(ctx, st, fmt.Sprintf("%schk-%d/", dir, id)); err != nil {
			log.Warn().Err(err).Int64(logging.Checkpoint, id).Msg("cannot remove the state of a subsumed checkpoint")
			continue
		}
		log.Info().Int64(logging.Checkpoint, id).Msg("state of a subsumed checkpoint removed")
	}
}

// errTaskManagerGone ends a checkpoint whose placement lost a TaskManager.
type errTaskManagerGone struct{ containerID string }

func (e errTaskManagerGone) Error() string {
	return fmt.Sprintf("taskmanager %s is gone (silent for longer than the heartbeat timeout)", e.containerID)
}

// watchPlacement calls lost with the first TaskManager of placement that is no
// longer registered (its heartbeat timed out, or it went away), checking at
// every registration change and every heartbeat interval, until ctx ends.
func (c *Coordinator) watchPlacement(ctx context.Context, placement []TaskManagerInfo, lost func(containerID string)) {
	every := c.tms.heartbeat
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		changed := c.tms.Changed()
		if id := c.lost(placement); id != "" {
			lost(id)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// checkpointCommand is one of the client's complete and abort commands.
type checkpointCommand func(ctx context.Context, tm string, session uuid.UUID, task tmapi.TaskID, id int64) error

// each sends a checkpoint command to every subtask; failures are logged (a task
// that misses "complete" commits on its next checkpoint or on restore).
func (c *Coordinator) each(ctx context.Context, g recovery.Grant, jobID string, placement []TaskManagerInfo, verb string, id int64, send checkpointCommand) {
	for sub, tm := range placement {
		if err := send(ctx, tm.Address, g.SessionID(), tmapi.TaskID{JobID: jobID, Subtask: sub}, id); err != nil {
			c.log.Warn().Err(err).Str(logging.Job, jobID).Int("subtask", sub).Int64(logging.Checkpoint, id).Msg(verb + " not delivered")
		}
	}
}

// dropStrays cancels the job's tasks on a TaskManager that registered with
// tasks of another execution of it and runs none of this one's: what an
// earlier leader left running where this one could not reach it.
func (c *Coordinator) dropStrays(ctx context.Context, g recovery.Grant, log zerolog.Logger, jobID, execution string, placement []TaskManagerInfo) {
	for _, tm := range c.tms.List() {
		if slices.ContainsFunc(placement, func(p TaskManagerInfo) bool { return p.ContainerID == tm.ContainerID }) {
			continue
		}
		if !slices.ContainsFunc(tm.Tasks, func(t tmapi.RunningTask) bool { return t.JobID == jobID && t.Execution != execution }) {
			continue
		}
		n, err := c.client.Cancel(ctx, tm.Address, g.SessionID(), jobID)
		if err != nil {
			log.Warn().Err(err).Str(logging.Container, tm.ContainerID).Msg("cannot cancel a stray execution's tasks")
			continue
		}
		if n > 0 {
			log.Info().Str(logging.Container, tm.ContainerID).Int("canceled", n).Msg("canceled tasks of an earlier execution")
		}
	}
}

// stopTasks asks every registered TaskManager to drop the job's tasks.
func (c *Coordinator) stopTasks(g recovery.Grant, jobID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tm := range c.tms.List() {
		_, _ = c.client.Cancel(ctx, tm.Address, g.SessionID(), jobID) // best effort, not retried
	}
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// backoff is a bounded, doubling wait between retries: 100 ms up to 5 s.
type backoff struct{ next time.Duration }

const (
	backoffFirst = 100 * time.Millisecond
	backoffMax   = 5 * time.Second
)

func newBackoff() *backoff { return &backoff{next: backoffFirst} }

func (b *backoff) reset() { b.next = backoffFirst }

// wait waits the next interval or until ctx ends.
func (b *backoff) wait(ctx context.Context) {
	wait(ctx, b.next)
	b.next = min(2*b.next, backoffMax)
}
