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
// checkpoint cannot be taken.
type Coordinator struct {
	tms      *TaskManagers
	services CheckpointServices
	interval time.Duration
	timeout  time.Duration
	client   *tmapi.TaskManagerClient
	log      zerolog.Logger

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
		changed: make(chan struct{}), stats: newStatsBook()}
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
	c.mu.Lock()
	c.graphs[jobID] = graph
	c.mu.Unlock()
	interval := graph.Spec.IntervalOr(c.interval)
	b := newBackoff()
	for ctx.Err() == nil {
		err := c.runOnce(ctx, g, log, jobID, graph, encoded, cps, counter, interval)
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

// runOnce deploys the job and checkpoints it until something fails.
func (c *Coordinator) runOnce(ctx context.Context, g recovery.Grant, log zerolog.Logger, jobID string, graph job.Graph, encoded []byte,
	cps *recovery.Checkpoints, counter recovery.CheckpointIDCounter, interval time.Duration) error {
	start := time.Now()
	p := graph.Spec.Parallelism
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
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	logging.Since(log.Info().Int64("restored_checkpoint", restored).Int("subtasks", p), start).Msg("job deployed")

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
		case <-tick.C:
			if err := c.checkpoint(ctx, g, log, jobID, placement, cps, counter); err != nil {
				return err
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

// checkpoint takes one checkpoint: trigger everywhere, store it (guarded), then
// tell every task it completed. A failure aborts it and fails the job over.
func (c *Coordinator) checkpoint(ctx context.Context, g recovery.Grant, log zerolog.Logger, jobID string,
	placement []TaskManagerInfo, cps *recovery.Checkpoints, counter recovery.CheckpointIDCounter) (err error) {
	start := time.Now()
	id, err := counter.GetAndIncrement(ctx, g)
	if err != nil {
		return fmt.Errorf("checkpoint ID: %w", err)
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
	if _, err := cps.Add(ctx, g, recovery.CompletedCheckpoint{JobID: jobID, ID: id, Timestamp: time.Now(), Metadata: md}); err != nil {
		c.each(ctx, g, jobID, placement, "abort", id, c.client.AbortCheckpoint)
		return fmt.Errorf("store checkpoint %d: %w", id, err)
	}
	rec.Acked = time.Now() // stored: complete, whatever the commit commands meet
	c.mu.Lock()
	delete(c.restoreFrom, jobID) // a newer checkpoint than the fall-back's: it is the latest now
	c.mu.Unlock()
	c.each(cctx, g, jobID, placement, "complete", id, c.client.CompleteCheckpoint)
	logging.Since(log.Debug().Int64(logging.Checkpoint, id), start).Msg("checkpoint completed")
	c.discardState(ctx, g, log, jobID, cps)
	return nil
}

// discardState removes the state files of every checkpoint of the job older than
// the oldest one the store retains: those subsumed just now, and those an earlier
// attempt subsumed or aborted but did not get to remove (it was killed in
// between). Retained checkpoints and newer ones (none is in flight here: one
// checkpoint at a time, and this runs after it) are never touched. Failures are
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
