package jobmanager

import (
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
)

// Failover phases after the previous attempt died. Each follows the ones it
// depends on: process start → ZooKeeper connected → granted, then publishing and
// job recovery side by side; TaskManagers re-register after publishing; tasks are
// deployed after their jobs are recovered (and TaskManagers are back).
const (
	PhaseProcessStart  = "process_start"  // this AM process started
	PhaseZKConnected   = "zk_connected"   // HA services connected
	PhaseGranted       = "leader_granted" // won the election
	PhasePublished     = "published"      // connection info published
	PhaseJobsRecovered = "jobs_recovered" // job graphs and their latest checkpoints read
	PhaseTMsRegistered = "tms_registered" // every live TaskManager re-registered
	PhaseTasksDeployed = "tasks_deployed" // every job's tasks running again
)

var phaseOrder = []string{PhaseProcessStart, PhaseZKConnected, PhaseGranted, PhasePublished,
	PhaseJobsRecovered, PhaseTMsRegistered, PhaseTasksDeployed}

// Timeline records when each failover phase was reached, as milliseconds since
// the previous attempt's exit (or this process's start for a first attempt).
// Safe for concurrent use.
type Timeline struct {
	mu     sync.Mutex
	origin time.Time
	marks  map[string]time.Time
	logged bool
}

// NewTimeline starts a timeline at origin.
func NewTimeline(origin time.Time) *Timeline {
	return &Timeline{origin: origin, marks: map[string]time.Time{}}
}

// Mark records a phase the first time it is reached.
func (t *Timeline) Mark(phase string) { t.MarkAt(phase, time.Now()) }

// MarkAt records a phase reached at a given time, the first time.
func (t *Timeline) MarkAt(phase string, at time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.marks[phase]; !ok {
		t.marks[phase] = at
	}
}

// Reset forgets the phases from leader_granted on (a new grant in the same
// process) and measures them from now.
func (t *Timeline) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.origin = time.Now()
	for _, p := range phaseOrder[slices.Index(phaseOrder, PhaseGranted):] {
		delete(t.marks, p)
	}
	t.logged = false
}

// Snapshot returns each reached phase in milliseconds since the origin.
func (t *Timeline) Snapshot() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]float64, len(t.marks))
	for p, at := range t.marks {
		out[p] = float64(at.Sub(t.origin).Microseconds()) / 1000
	}
	return out
}

// LogOnce writes the whole timeline as one line, the first time every phase is
// reached.
func (t *Timeline) LogOnce(log zerolog.Logger) {
	t.mu.Lock()
	if t.logged || len(t.marks) < len(phaseOrder) {
		t.mu.Unlock()
		return
	}
	t.logged = true
	t.mu.Unlock()
	snap := t.Snapshot()
	ev := log.Info()
	for _, p := range phaseOrder {
		ev = ev.Float64(p+"_ms", snap[p])
	}
	ev.Str(logging.Phase, "failover").Msg("failover complete")
}
