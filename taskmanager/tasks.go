package taskmanager

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// OutputRoot is where file sinks write in the storage directory: outside any
// cluster's HA data, so cleaning that up keeps the output (recovery.OutputRoot,
// which no cluster ID may start with).
const OutputRoot = recovery.OutputRoot

// TaskEnv is where tasks keep state and write output.
type TaskEnv struct {
	Storage    hdfsstore.Store // output, under OutputRoot
	State      hdfsstore.Store // checkpoint state, under StateRoot; nil: Storage
	StateRoot  string
	OutputRoot string
}

type running struct {
	task   *job.Task
	cancel context.CancelFunc
	done   chan struct{}
}

// tasks is the TaskManager's set of running subtasks. They outlive the leader
// that deployed them for the leaderless grace period: the next leader adopts
// them or replaces them.
type tasks struct {
	mu sync.Mutex
	m  map[tmapi.TaskID]*running
	// stats observe each subtask across its instances in this process.
	stats map[tmapi.TaskID]*job.RecordStats
}

// statsOf returns the record stats of a subtask, made on first use.
func (tm *TaskManager) statsOf(id tmapi.TaskID) *job.RecordStats {
	tm.tasks.mu.Lock()
	defer tm.tasks.mu.Unlock()
	s, ok := tm.tasks.stats[id]
	if !ok {
		s = &job.RecordStats{}
		tm.tasks.stats[id] = s
	}
	return s
}

// running lists the subtasks that run here, sorted, as a registration carries them.
func (tm *TaskManager) runningTasks() []tmapi.RunningTask {
	tm.tasks.mu.Lock()
	defer tm.tasks.mu.Unlock()
	out := make([]tmapi.RunningTask, 0, len(tm.tasks.m))
	for id, r := range tm.tasks.m {
		out = append(out, tmapi.RunningTask{JobID: id.JobID, Subtask: id.Subtask, Execution: r.task.Execution(),
			LastCheckpoint: r.task.LastCheckpoint()})
	}
	slices.SortFunc(out, func(a, b tmapi.RunningTask) int {
		return cmp.Or(strings.Compare(a.JobID, b.JobID), cmp.Compare(a.Subtask, b.Subtask))
	})
	return out
}

// taskStatus reports the subtasks that run here with their record stats.
func (tm *TaskManager) taskStatus() []tmapi.TaskStatus {
	run := tm.runningTasks()
	out := make([]tmapi.TaskStatus, 0, len(run))
	for _, rt := range run {
		st := tmapi.TaskStatus{RunningTask: rt}
		if t, err := tm.task(rt.Task()); err == nil {
			st.Records = t.Records()
		}
		s := tm.statsOf(rt.Task())
		st.Replayed = s.Replayed()
		for _, g := range s.Gaps() {
			st.Gaps = append(st.Gaps, tmapi.Gap{End: g.End, Length: g.Length})
		}
		out = append(out, st)
	}
	return out
}

// stop removes the tasks that match, cancels them and waits for them; it returns
// how many there were.
func (tm *TaskManager) stop(match func(tmapi.TaskID) bool) int {
	tm.tasks.mu.Lock()
	var stop []*running
	for k, r := range tm.tasks.m {
		if match(k) {
			stop = append(stop, r)
			delete(tm.tasks.m, k)
		}
	}
	tm.tasks.mu.Unlock()
	for _, r := range stop {
		r.cancel()
		<-r.done
	}
	return len(stop)
}

// cancelAll stops every task (the leader that deployed them is gone) and waits.
func (tm *TaskManager) cancelAll() { tm.stop(func(tmapi.TaskID) bool { return true }) }

// Cancel stops the job's tasks and returns how many there were.
func (tm *TaskManager) Cancel(jobID string) int {
	return tm.stop(func(k tmapi.TaskID) bool { return k.JobID == jobID })
}

// Deploy runs d's subtask, restored from its handle, replacing an instance
// already running here.
func (tm *TaskManager) Deploy(ctx context.Context, d tmapi.Deployment) error {
	if tm.cfg.Tasks.Storage == nil {
		return errors.New("taskmanager: no storage configured for tasks")
	}
	g, err := job.DecodeGraph(d.Graph)
	if err != nil {
		return err
	}
	log := tm.log.With().Str(logging.Job, d.JobID).Int("subtask", d.Subtask).Logger()
	state := tm.cfg.Tasks.State
	if state == nil {
		state = tm.cfg.Tasks.Storage
	}
	// The task adds job and subtask to its own lines: it gets the logger without them.
	t, err := job.NewTask(g, d.Subtask, job.Env{State: state, Output: tm.cfg.Tasks.Storage, StateRoot: tm.cfg.Tasks.StateRoot,
		OutputRoot: tm.cfg.Tasks.OutputRoot, Stats: tm.statsOf(d.Task()), Log: tm.log})
	if err != nil {
		return err
	}
	key := d.Task()
	tm.stop(func(k tmapi.TaskID) bool { return k == key }) // a redeployment replaces the old instance
	// The parts a restore publishes are stamped with the deploying leader's session.
	if err := t.Restore(commitContext(ctx), d.Handle); err != nil {
		if unusable(err) {
			return fmt.Errorf("%w: restore %s/%d: %w", tmapi.ErrUnusableState, d.JobID, d.Subtask, err)
		}
		return fmt.Errorf("restore %s/%d: %w", d.JobID, d.Subtask, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	r := &running{task: t, cancel: cancel, done: make(chan struct{})}
	tm.tasks.mu.Lock()
	tm.tasks.m[key] = r
	tm.tasks.mu.Unlock()
	go func() {
		defer close(r.done)
		if err := t.Run(runCtx); err != nil && runCtx.Err() == nil {
			log.Error().Err(err).Msg("task failed")
		}
	}()
	log.Info().Bool("restored", d.Handle != nil).Str("execution", g.Execution).Msg("task deployed")
	return nil
}

func (tm *TaskManager) task(id tmapi.TaskID) (*job.Task, error) {
	tm.tasks.mu.Lock()
	defer tm.tasks.mu.Unlock()
	r, ok := tm.tasks.m[id]
	if !ok {
		return nil, fmt.Errorf("%w: no task %s here", tmapi.ErrUnknownTask, id)
	}
	return r.task, nil
}

// TriggerCheckpoint snapshots the task's state as checkpoint id, waiting for the
// task to reach a record boundary (or ctx to end).
func (tm *TaskManager) TriggerCheckpoint(ctx context.Context, id tmapi.TaskID, checkpoint int64) (tmapi.CheckpointAck, error) {
	t, err := tm.task(id)
	if err != nil {
		return tmapi.CheckpointAck{}, err
	}
	select {
	case res := <-t.TriggerCheckpoint(checkpoint):
		if res.Err != nil {
			return tmapi.CheckpointAck{}, res.Err
		}
		return tmapi.CheckpointAck{ID: res.ID, Handle: res.Handle}, nil
	case <-ctx.Done():
		return tmapi.CheckpointAck{}, ctx.Err()
	}
}

// CompleteCheckpoint commits what checkpoint covers in the task's sink.
func (tm *TaskManager) CompleteCheckpoint(ctx context.Context, id tmapi.TaskID, checkpoint int64) error {
	t, err := tm.task(id)
	if err != nil {
		return err
	}
	return t.NotifyCheckpointComplete(commitContext(ctx), checkpoint)
}

// commitContext carries the leader session of the command ctx belongs to into
// the sinks' commits, which stamp the parts they publish with it.
func commitContext(ctx context.Context) context.Context {
	id, err := uuid.Parse(tmapi.CommandSession(ctx))
	if err != nil {
		return ctx // not a command (a test's direct call): parts carry no session
	}
	return job.WithLeaderSession(ctx, id)
}

// AbortCheckpoint drops checkpoint's pending state in the task; only a task
// that is not here is an error (an abort is best effort).
func (tm *TaskManager) AbortCheckpoint(ctx context.Context, id tmapi.TaskID, checkpoint int64) error {
	t, err := tm.task(id)
	if err != nil {
		return err
	}
	_ = t.AbortCheckpoint(ctx, checkpoint)
	return nil
}

// unusable reports whether a restore failed because of the state itself (missing,
// corrupt, undecodable, not this task's), not because storage could not be
// reached: only the latter may pass when tried again.
func unusable(err error) bool {
	if !errors.Is(err, job.ErrState) {
		return false
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, hdfsstore.ErrCorrupt) {
		return true
	}
	var pe *fs.PathError
	var ne net.Error
	return !errors.As(err, &pe) && !errors.As(err, &ne)
}
