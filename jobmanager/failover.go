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

// Timeline is the Observer that times a failover: it records when each phase was
// reached, as milliseconds since the previous attempt's exit (or this process's
// start for a first attempt), for GET /failover, and the first time every phase is
// reached under a grant it logs them all as one line ("failover complete") with
// the grant's logger. The AM marks the phases from leader_granted on; the process
// marks the earlier ones itself (Mark, MarkAt). Safe for concurrent use.
type Timeline struct {
	mu     sync.Mutex
	origin time.Time
	marks  map[string]time.Time
	log    zerolog.Logger // the current grant's
	logged bool
}

var _ Observer = (*Timeline)(nil)

// NewTimeline starts a timeline at origin.
func NewTimeline(origin time.Time) *Timeline {
	return &Timeline{origin: origin, marks: map[string]time.Time{}, log: zerolog.Nop()}
}

// Mark records a phase the first time it is reached.
func (t *Timeline) Mark(phase string) { t.MarkAt(phase, time.Now()) }

// MarkAt records a phase reached at a given time, the first time, and logs the
// timeline if that completes it.
func (t *Timeline) MarkAt(phase string, at time.Time) {
	t.mu.Lock()
	if _, ok := t.marks[phase]; !ok {
		t.marks[phase] = at
	}
	complete := !t.logged && len(t.marks) == len(phaseOrder)
	if complete {
		t.logged = true
	}
	snap, log := t.snapshot(), t.log
	t.mu.Unlock()
	if complete {
		ev := log.Info()
		for _, p := range phaseOrder {
			ev = ev.Float64(p+"_ms", snap[p])
		}
		ev.Str(logging.Phase, "failover").Msg("failover complete")
	}
}

// Granted marks leader_granted. A second grant in the same process forgets the
// phases from leader_granted on and measures them from now.
func (t *Timeline) Granted(log zerolog.Logger) {
	t.mu.Lock()
	if _, again := t.marks[PhaseGranted]; again {
		t.origin = time.Now()
		for _, p := range phaseOrder[slices.Index(phaseOrder, PhaseGranted):] {
			delete(t.marks, p)
		}
		t.logged = false
	}
	t.log = log
	t.mu.Unlock()
	t.Mark(PhaseGranted)
}

// Published marks published.
func (t *Timeline) Published() { t.Mark(PhasePublished) }

// JobsRecovered marks jobs_recovered.
func (t *Timeline) JobsRecovered() { t.Mark(PhaseJobsRecovered) }

// TaskManagersRegistered marks tms_registered.
func (t *Timeline) TaskManagersRegistered() { t.Mark(PhaseTMsRegistered) }

// TasksDeployed marks tasks_deployed.
func (t *Timeline) TasksDeployed() { t.Mark(PhaseTasksDeployed) }

// Snapshot returns each reached phase in milliseconds since the origin.
func (t *Timeline) Snapshot() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snapshot()
}

func (t *Timeline) snapshot() map[string]float64 {
	out := make(map[string]float64, len(t.marks))
	for p, at := range t.marks {
		out[p] = float64(at.Sub(t.origin).Microseconds()) / 1000
	}
	return out
}
