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
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// CheckpointServices opens a job's HA checkpoint stores (*recovery.Services).
type CheckpointServices interface {
	CheckpointStore(ctx context.Context, jobID string) (*recovery.Checkpoints, error)
	CheckpointIDCounter(ctx context.Context, jobID string) (recovery.CheckpointIDCounter, error)
	// Storage and StateRoot locate the TaskManagers' state files, which the
	// coordinator removes once no retained checkpoint needs them.
	Storage() hdfsstore.Store
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
// every subtask (restored from the job's latest readable checkpoint), triggers
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
	restored map[string]int64  // job → checkpoint restored from by this grant (0: fresh)
	deployed map[string]string // job → leader session its tasks were last deployed under
	latest   map[string]int64  // job → latest completed checkpoint
}

// NewCoordinator returns a coordinator; interval is the default checkpoint
// interval (execution.checkpointing.interval), timeout bounds one checkpoint.
func NewCoordinator(tms *TaskManagers, services CheckpointServices, interval, timeout time.Duration, log zerolog.Logger) *Coordinator {
	return &Coordinator{tms: tms, services: services, interval: interval, timeout: timeout, log: log,
		client: tmapi.NewTaskManagerClient(&http.Client{Timeout: timeout}), restored: map[string]int64{}, latest: map[string]int64{}, deployed: map[string]string{},
		changed: make(chan struct{})}
}

// Deployed returns a channel closed the next time a job's tasks are deployed.
func (c *Coordinator) Deployed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// CheckpointInfo is GET /jobs/{id}/checkpoints.
type CheckpointInfo struct {
	Deployed     bool  `json:"deployed"` // the job's tasks run under this AM
	RestoredFrom int64 `json:"restoredFrom"`
	Latest       int64 `json:"latest"`
}

// Info reports a job's checkpoints as this leader sees them.
func (c *Coordinator) Info(jobID string) CheckpointInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CheckpointInfo{Deployed: c.deployed[jobID] != "", RestoredFrom: c.restored[jobID], Latest: c.latest[jobID]}
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

// Deploy is a DeployFunc: it runs one job until ctx ends.
func (c *Coordinator) Deploy(ctx context.Context, g recovery.Grant, jobID string, encoded []byte) {
	log := c.log.With().Str(logging.Job, jobID).Str(logging.LeaderSession, g.SessionID().String()).Logger()
	graph, cps, counter, err := c.open(ctx, jobID, encoded)
	if err != nil {
		log.Error().Err(err).Msg("cannot open the job")
		return
	}
	interval := graph.Spec.IntervalOr(c.interval)
	for ctx.Err() == nil {
		err := c.runOnce(ctx, g, log, jobID, graph, encoded, cps, counter, interval)
		if ctx.Err() != nil {
			if g.Err() == nil {
				// Still leading: the job was canceled. Stop its tasks everywhere.
				c.stopTasks(g, jobID)
			}
			return
		}
		log.Warn().Err(err).Msg("job failover: redeploying from the latest checkpoint")
		// The next placement may put subtasks elsewhere: none of this execution may
		// run on beside them (a TaskManager replaces only the subtask it is sent).
		c.stopTasks(g, jobID)
		wait(ctx, 200*time.Millisecond)
	}
}

// Recover is what Deploy does before it places any subtask, without placing
// one: decode the job's graph, open its checkpoint store and ID counter, and read
// its latest readable completed checkpoint. It returns that checkpoint's ID (0:
// none, the job would start fresh). The recovery benchmark (cmd/amkeeper-bench)
// times it for many jobs.
func (c *Coordinator) Recover(ctx context.Context, jobID string, encoded []byte) (int64, error) {
	log := c.log.With().Str(logging.Job, jobID).Logger()
	graph, cps, _, err := c.open(ctx, jobID, encoded)
	if err != nil {
		return 0, fmt.Errorf("jobmanager: recover job %s: %w", jobID, err)
	}
	restored, _, err := restore(ctx, log, cps, graph.Spec.Parallelism)
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

// restore reads the latest readable completed checkpoint of a job with p
// subtasks: its ID (0: none) and each subtask's state handle (nil ones when
// there is none).
func restore(ctx context.Context, log zerolog.Logger, cps *recovery.Checkpoints, p int) (int64, [][]byte, error) {
	latest, skipped, ok, err := cps.Latest(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("recover the latest checkpoint: %w", err)
	}
	for _, s := range skipped {
		log.Warn().Int64(logging.Checkpoint, s.ID).Err(s.Err).Msg("checkpoint unreadable: falling back to an older one")
	}
	if !ok {
		return 0, make([][]byte, p), nil
	}
	var md CheckpointMetadata
	if err := json.Unmarshal(latest.Metadata, &md); err != nil || len(md.Handles) != p {
		return 0, nil, fmt.Errorf("checkpoint %d metadata: %v (want %d handles)", latest.ID, err, p)
	}
	return latest.ID, md.Handles, nil
}

// runOnce deploys the job and checkpoints it until something fails.
func (c *Coordinator) runOnce(ctx context.Context, g recovery.Grant, log zerolog.Logger, jobID string, graph job.Graph, encoded []byte,
	cps *recovery.Checkpoints, counter recovery.CheckpointIDCounter, interval time.Duration) error {
	start := time.Now()
	p := graph.Spec.Parallelism
	restored, handles, err := restore(ctx, log, cps, p)
	if err != nil {
		return err
	}
	placement, err := c.place(ctx, p)
	if err != nil {
		return err
	}
	for sub, tm := range placement {
		d := tmapi.Deployment{JobID: jobID, Subtask: sub, Graph: encoded, Handle: handles[sub]}
		if err := c.client.Deploy(ctx, tm.Address, g.SessionID(), d); err != nil {
			return fmt.Errorf("deploy subtask %d on %s: %w", sub, tm.ContainerID, err)
		}
	}
	c.mu.Lock()
	c.restored[jobID], c.latest[jobID] = restored, restored
	c.deployed[jobID] = g.SessionID().String()
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
	placement []TaskManagerInfo, cps *recovery.Checkpoints, counter recovery.CheckpointIDCounter) error {
	start := time.Now()
	id, err := counter.GetAndIncrement(ctx, g)
	if err != nil {
		return fmt.Errorf("checkpoint ID: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
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
	if err := errors.Join(errs...); err != nil {
		c.each(ctx, g, jobID, placement, "abort", id, c.client.AbortCheckpoint)
		return fmt.Errorf("checkpoint %d aborted: %w", id, err)
	}
	md, _ := json.Marshal(CheckpointMetadata{Handles: handles})
	if _, err := cps.Add(ctx, g, recovery.CompletedCheckpoint{JobID: jobID, ID: id, Timestamp: time.Now(), Metadata: md}); err != nil {
		c.each(ctx, g, jobID, placement, "abort", id, c.client.AbortCheckpoint)
		return fmt.Errorf("store checkpoint %d: %w", id, err)
	}
	c.mu.Lock()
	c.latest[jobID] = id
	c.mu.Unlock()
	c.each(ctx, g, jobID, placement, "complete", id, c.client.CompleteCheckpoint)
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
	st := c.services.Storage()
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
