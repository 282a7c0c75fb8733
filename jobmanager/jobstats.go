package jobmanager

import (
	"sync"
	"time"
)

// historySize is how many checkpoints GET /jobs/{id}/checkpoints lists in its
// history, and exceptionsSize how many failures GET /jobs/{id}/exceptions keeps,
// per job (Flink's web.checkpoints.history default is 10, its exception history
// 16).
const (
	historySize    = 10
	exceptionsSize = 16
)

// Checkpoint statuses, as Flink names them.
const (
	CheckpointCompleted  = "COMPLETED"
	CheckpointFailed     = "FAILED"
	CheckpointInProgress = "IN_PROGRESS"
)

// checkpointRecord is one checkpoint as this leader saw it.
type checkpointRecord struct {
	ID        int64
	Status    string
	Triggered time.Time
	Acked     time.Time // completion or failure time
	Size      int64     // bytes of the stored checkpoint metadata
	Subtasks  int
	Failure   string
}

// failureRecord is one failure of a job (it was redeployed after it).
type failureRecord struct {
	At    time.Time
	Error string
}

// jobStats is what the coordinator records of one job under this AM: the
// checkpoints it took, the one it restored from, its failovers. It outlives the
// job's run here (a canceled job keeps its statistics) but not the AM process.
type jobStats struct {
	completed, failed int64
	inProgress        bool
	restored          *checkpointRecord // Acked is the restore time
	restoredCount     int64
	restarts          int64
	deploys           int64
	history           []checkpointRecord // newest last, at most historySize
	durations         []time.Duration    // of every completed checkpoint here
	sizes             []int64
	lastCompleted     *checkpointRecord
	lastFailed        *checkpointRecord
	exceptions        []failureRecord // newest last, at most exceptionsSize
	droppedExceptions bool            // older failures were dropped
	parallelism       int             // subtasks at the last deployment
	placement         []string        // container per subtask while deployed
	adopted           bool            // the running tasks were adopted, not deployed, here
	takeover          *Takeover       // how this AM took the job over (nil: not yet)
}

// Takeover outcomes: how a leader took a job over.
const (
	// TakeoverAdopted: the tasks an earlier leader deployed kept running; this
	// leader adopted them (no cancel, no restore).
	TakeoverAdopted = "adopted"
	// TakeoverRestored: the job's tasks were deployed anew from its latest
	// checkpoint (Checkpoint; 0: none yet, it starts over); Reason says why
	// the running tasks could not be adopted.
	TakeoverRestored = "restored"
	// TakeoverStarted: the job had never run (submitted to this leader).
	TakeoverStarted = "started"
)

// Takeover is how this AM took a job over when it became leader (GET
// /jobs/{id}, /jobs/{id}/checkpoints and /attempts report it; docs/rest.md).
type Takeover struct {
	Outcome string `json:"outcome"` // TakeoverAdopted, TakeoverRestored or TakeoverStarted
	// Execution is the execution adopted, or the new one deployed.
	Execution string `json:"execution,omitempty"`
	// Checkpoint is, adopted, the latest checkpoint a subtask had snapshotted;
	// restored, the checkpoint restored from (0: none).
	Checkpoint int64 `json:"checkpoint"`
	// Reason is why the running tasks were not adopted (restored only).
	Reason string `json:"reason,omitempty"`
	// At is when the tasks ran under this leader, in ms since the epoch.
	At int64 `json:"at"`
}

// statsBook is a Coordinator's per-job statistics; safe for concurrent use.
type statsBook struct {
	mu        sync.Mutex
	jobs      map[string]*jobStats
	takeovers map[string]int64 // outcome → jobs taken over so by this process
}

func newStatsBook() *statsBook {
	return &statsBook{jobs: map[string]*jobStats{}, takeovers: map[string]int64{}}
}

// tookOver records how this AM took a job over.
func (b *statsBook) tookOver(jobID string, t Takeover) {
	b.update(jobID, func(s *jobStats) { s.takeover = &t })
	b.mu.Lock()
	b.takeovers[t.Outcome]++
	b.mu.Unlock()
}

// takeoverCounts returns how many jobs this process took over with each outcome.
func (b *statsBook) takeoverCounts() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int64{TakeoverAdopted: 0, TakeoverRestored: 0, TakeoverStarted: 0}
	for k, v := range b.takeovers {
		out[k] = v
	}
	return out
}

func (b *statsBook) update(jobID string, f func(s *jobStats)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.jobs[jobID]
	if !ok {
		s = &jobStats{}
		b.jobs[jobID] = s
	}
	f(s)
}

// get returns a copy of a job's statistics (ok false: none recorded).
func (b *statsBook) get(jobID string) (jobStats, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.jobs[jobID]
	if !ok {
		return jobStats{}, false
	}
	c := *s
	c.history = append([]checkpointRecord(nil), s.history...)
	c.durations = append([]time.Duration(nil), s.durations...)
	c.sizes = append([]int64(nil), s.sizes...)
	c.exceptions = append([]failureRecord(nil), s.exceptions...)
	c.placement = append([]string(nil), s.placement...)
	if s.takeover != nil {
		t := *s.takeover
		c.takeover = &t
	}
	return c, true
}

// each calls f with a copy of every job's statistics.
func (b *statsBook) each(f func(jobID string, s jobStats)) {
	b.mu.Lock()
	ids := make([]string, 0, len(b.jobs))
	for id := range b.jobs {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	for _, id := range ids {
		if s, ok := b.get(id); ok {
			f(id, s)
		}
	}
}

// deployed records that the job's tasks run on placement, restored from
// checkpoint restored (0: none) at time at. A deployment is a restart (Flink's
// numRestarts) unless it is the job's first in this process and starts it fresh:
// a job this process redeploys after a failure, or takes over from an earlier
// leader's checkpoint, restarted.
func (b *statsBook) deployed(jobID string, restored int64, at time.Time, placement []TaskManagerInfo) {
	b.update(jobID, func(s *jobStats) {
		s.adopted = false
		if restored > 0 {
			s.restored = &checkpointRecord{ID: restored, Acked: at}
			s.restoredCount++
		}
		if s.deploys > 0 || restored > 0 {
			s.restarts++
		}
		s.deploys++
		s.placement = s.placement[:0]
		s.parallelism = len(placement)
		for _, tm := range placement {
			s.placement = append(s.placement, tm.ContainerID)
		}
	})
}

// adopted records that the job's running tasks, deployed by an earlier leader,
// were adopted on placement at time at: neither a restart nor a restore.
func (b *statsBook) adopted(jobID string, placement []TaskManagerInfo) {
	b.update(jobID, func(s *jobStats) {
		s.adopted = true
		s.deploys++
		s.placement = s.placement[:0]
		s.parallelism = len(placement)
		for _, tm := range placement {
			s.placement = append(s.placement, tm.ContainerID)
		}
	})
}

// undeployed records that the job's tasks stopped (after err, when not nil).
func (b *statsBook) undeployed(jobID string, err error, at time.Time) {
	b.update(jobID, func(s *jobStats) {
		s.placement = nil
		s.inProgress = false
		if err != nil {
			s.exceptions = append(s.exceptions, failureRecord{At: at, Error: err.Error()})
			if n := len(s.exceptions) - exceptionsSize; n > 0 {
				s.exceptions = s.exceptions[n:]
				s.droppedExceptions = true
			}
		}
	})
}

func (b *statsBook) triggered(jobID string) {
	b.update(jobID, func(s *jobStats) { s.inProgress = true })
}

// finished records a checkpoint that completed (failure "") or failed.
func (b *statsBook) finished(jobID string, r checkpointRecord) {
	b.update(jobID, func(s *jobStats) {
		s.inProgress = false
		rec := r
		if r.Failure == "" {
			rec.Status = CheckpointCompleted
			s.completed++
			s.lastCompleted = &rec
			s.durations = append(s.durations, r.Acked.Sub(r.Triggered))
			s.sizes = append(s.sizes, r.Size)
			if n := len(s.durations) - 1000; n > 0 { // a bounded summary window
				s.durations, s.sizes = s.durations[n:], s.sizes[n:]
			}
		} else {
			rec.Status = CheckpointFailed
			s.failed++
			s.lastFailed = &rec
		}
		s.history = append(s.history, rec)
		if n := len(s.history) - historySize; n > 0 {
			s.history = s.history[n:]
		}
	})
}

// usedSlots counts the slots each container's deployed subtasks take.
func (b *statsBook) usedSlots() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for _, s := range b.jobs {
		for _, c := range s.placement {
			out[c]++
		}
	}
	return out
}

// Info is GET /jobs/{id}/checkpoints: the job's checkpoints as this AM saw them.
func (c *Coordinator) Info(jobID string) CheckpointInfo {
	c.mu.Lock()
	deployed := c.deployed[jobID] != ""
	c.mu.Unlock()
	st, _ := c.stats.get(jobID)
	return checkpointInfo(st, deployed)
}

// Takeovers returns how this AM took each job over, by job ID.
func (c *Coordinator) Takeovers() map[string]Takeover {
	out := map[string]Takeover{}
	c.stats.each(func(jobID string, s jobStats) {
		if s.takeover != nil {
			out[jobID] = *s.takeover
		}
	})
	return out
}

// Exceptions is GET /jobs/{id}/exceptions: the failures after which this AM
// redeployed the job.
func (c *Coordinator) Exceptions(jobID string) JobExceptions {
	st, _ := c.stats.get(jobID)
	return jobExceptions(st, st.droppedExceptions)
}

// tasks counts a job's subtasks as this AM deployed them.
func (c *Coordinator) tasks(jobID string) jobTasks {
	st, _ := c.stats.get(jobID)
	return jobTasks{parallelism: st.parallelism, running: len(st.placement), takeover: st.takeover}
}
