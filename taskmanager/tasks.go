package taskmanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/job"
)

// OutputRoot is where file sinks write in the storage directory: outside any
// cluster's HA data, so cleaning that up keeps the output.
const OutputRoot = "output"

// TaskEnv is where tasks keep state and write output.
type TaskEnv struct {
	Storage    hdfsstore.Store
	StateRoot  string
	OutputRoot string
}

type taskKey struct {
	job     string
	subtask int
}

type running struct {
	task   *job.Task
	cancel context.CancelFunc
	done   chan struct{}
}

// tasks is the TaskManager's set of running subtasks, all for one leader.
type tasks struct {
	mu sync.Mutex
	m  map[taskKey]*running
}

// stop removes the tasks that match, cancels them and waits for them; it returns
// how many there were.
func (tm *TaskManager) stop(match func(taskKey) bool) int {
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
func (tm *TaskManager) cancelAll() { tm.stop(func(taskKey) bool { return true }) }

func (tm *TaskManager) cancelJob(jobID string) int {
	return tm.stop(func(k taskKey) bool { return k.job == jobID })
}

func (tm *TaskManager) deploy(ctx context.Context, d Deployment) error {
	if tm.cfg.Tasks.Storage == nil {
		return errors.New("taskmanager: no storage configured for tasks")
	}
	g, err := job.DecodeGraph(d.Graph)
	if err != nil {
		return err
	}
	log := tm.log.With().Str(logging.Job, d.JobID).Int("subtask", d.Subtask).Logger()
	t, err := job.NewTask(g, d.Subtask, job.Env{State: tm.cfg.Tasks.Storage, StateRoot: tm.cfg.Tasks.StateRoot,
		OutputRoot: tm.cfg.Tasks.OutputRoot, Log: log})
	if err != nil {
		return err
	}
	key := taskKey{d.JobID, d.Subtask}
	tm.stop(func(k taskKey) bool { return k == key }) // a redeployment replaces the old instance
	if err := t.Restore(ctx, d.Handle); err != nil {
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
	log.Info().Bool("restored", d.Handle != nil).Msg("task deployed")
	return nil
}

func (tm *TaskManager) task(jobID, subtask string) (*job.Task, error) {
	n, err := strconv.Atoi(subtask)
	if err != nil {
		return nil, fmt.Errorf("subtask %q: %w", subtask, err)
	}
	tm.tasks.mu.Lock()
	defer tm.tasks.mu.Unlock()
	r, ok := tm.tasks.m[taskKey{jobID, n}]
	if !ok {
		return nil, fmt.Errorf("no task %s/%d here", jobID, n)
	}
	return r.task, nil
}

// taskHandlers adds the leader's task commands to mux; every one must carry the
// leader session the TaskManager is registered under.
func (tm *TaskManager) taskHandlers(mux *http.ServeMux) {
	fenced := func(h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := tm.CheckLeader(r); err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("POST "+PathTasks, fenced(func(w http.ResponseWriter, r *http.Request) {
		var d Deployment
		if !decode(w, r, &d) {
			return
		}
		if err := tm.deploy(r.Context(), d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	mux.HandleFunc("DELETE "+PathTasks+"/{job}", fenced(func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]int{"canceled": tm.cancelJob(r.PathValue("job"))})
	}))
	mux.HandleFunc("POST "+PathTasks+"/{job}/{subtask}/checkpoint", fenced(func(w http.ResponseWriter, r *http.Request) {
		var c CheckpointCommand
		t, ok := tm.command(w, r, &c)
		if !ok {
			return
		}
		select {
		case res := <-t.TriggerCheckpoint(c.ID):
			if res.Err != nil {
				http.Error(w, res.Err.Error(), http.StatusInternalServerError)
				return
			}
			reply(w, CheckpointAck{ID: res.ID, Handle: res.Handle})
		case <-r.Context().Done():
		}
	}))
	mux.HandleFunc("POST "+PathTasks+"/{job}/{subtask}/complete", fenced(func(w http.ResponseWriter, r *http.Request) {
		var c CheckpointCommand
		t, ok := tm.command(w, r, &c)
		if !ok {
			return
		}
		if err := t.NotifyCheckpointComplete(r.Context(), c.ID); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		reply(w, struct{}{})
	}))
	mux.HandleFunc("POST "+PathTasks+"/{job}/{subtask}/abort", fenced(func(w http.ResponseWriter, r *http.Request) {
		var c CheckpointCommand
		t, ok := tm.command(w, r, &c)
		if !ok {
			return
		}
		_ = t.AbortCheckpoint(r.Context(), c.ID)
		reply(w, struct{}{})
	}))
}

func (tm *TaskManager) command(w http.ResponseWriter, r *http.Request, c *CheckpointCommand) (*job.Task, bool) {
	if !decode(w, r, c) {
		return nil, false
	}
	t, err := tm.task(r.PathValue("job"), r.PathValue("subtask"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return nil, false
	}
	return t, true
}
