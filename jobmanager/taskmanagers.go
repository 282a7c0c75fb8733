package jobmanager

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// TaskManagerInfo is a registered TaskManager as the leader sees it.
type TaskManagerInfo struct {
	ContainerID   string    `json:"containerId"`
	PID           int       `json:"pid"`
	Slots         int       `json:"slots"`
	Address       string    `json:"address"`
	Registered    time.Time `json:"registered"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	// Tasks are the subtasks it reported running when it registered (an earlier
	// leader's, for this one to adopt).
	Tasks []tmapi.RunningTask `json:"-"`
}

// TaskManagers is the resource manager's registry of TaskManagers for the current
// leader session. A new grant (SetLeader) empties it: TaskManagers register again
// with the new leader. Registrations and heartbeats under any other session are
// refused with tmapi.ErrStaleLeader (HTTP 409). Safe for concurrent use.
type TaskManagers struct {
	heartbeat time.Duration
	timeout   time.Duration
	now       func() time.Time
	log       zerolog.Logger

	maxSlots int // 0: no cap

	// admit, when set, vets a registration before it is recorded
	// (SetAdmission); it is called without r.mu held.
	admit func(reg tmapi.Registration) error

	mu      sync.Mutex
	session uuid.UUID
	tms     map[string]*TaskManagerInfo
	// timedOut are the containers expired under this session: their tasks are
	// replaced, and their next registration is told so.
	timedOut map[string]bool
	changed  chan struct{}
}

// NewTaskManagers returns an empty registry; heartbeat is the interval asked of
// TaskManagers, timeout how long one may stay silent (heartbeat.interval,
// heartbeat.timeout).
func NewTaskManagers(heartbeat, timeout time.Duration, log zerolog.Logger) *TaskManagers {
	return &TaskManagers{heartbeat: heartbeat, timeout: timeout, now: time.Now, log: log,
		tms: map[string]*TaskManagerInfo{}, timedOut: map[string]bool{}, changed: make(chan struct{})}
}

// SetLeader starts serving a new leader session (uuid.Nil: none) and forgets every
// registration of the previous one.
func (r *TaskManagers) SetLeader(session uuid.UUID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.session = session
	r.tms = map[string]*TaskManagerInfo{}
	r.timedOut = map[string]bool{}
	r.signal()
}

// signal wakes Changed waiters; callers hold r.mu.
func (r *TaskManagers) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Changed returns a channel closed at the next registration change.
func (r *TaskManagers) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// List returns the registered TaskManagers, sorted by container ID, dropping those
// silent for longer than the timeout.
func (r *TaskManagers) List() []TaskManagerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked()
	out := make([]TaskManagerInfo, 0, len(r.tms))
	for _, tm := range r.tms {
		out = append(out, *tm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerID < out[j].ContainerID })
	return out
}

func (r *TaskManagers) expireLocked() {
	now := r.now()
	for id, tm := range r.tms {
		if now.Sub(tm.LastHeartbeat) > r.timeout {
			r.log.Warn().Str(logging.Container, id).Dur("silent", now.Sub(tm.LastHeartbeat)).Msg("taskmanager heartbeat timed out")
			delete(r.tms, id)
			r.timedOut[id] = true
			r.signal()
		}
	}
}

// SetMaxSlots caps the slots one TaskManager may claim when it registers
// (amkeeper.taskmanager.max-slots). Call it before serving.
func (r *TaskManagers) SetMaxSlots(n int) { r.maxSlots = n }

// Remove forgets a TaskManager whose container is known to be gone (the
// supervisor reported it completed), without waiting for its heartbeat timeout.
func (r *TaskManagers) Remove(containerID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.tms[containerID]; ok {
		delete(r.tms, containerID)
		r.signal()
	}
}

var _ tmapi.Registry = (*TaskManagers)(nil)

// Handler serves the TaskManager endpoints (tmapi.PathRegister,
// tmapi.PathHeartbeat) to callers that sign with secret.
func (r *TaskManagers) Handler(secret appsecret.Secret) http.Handler {
	return tmapi.RegistryHandler(r, secret)
}

// SetAdmission has every registration vetted by admit before it is recorded:
// an error refuses it (tmapi.ErrUnknownContainer, wrapped, for a container the
// application did not launch). admit is called without the registry's lock held.
// Call it before serving.
func (r *TaskManagers) SetAdmission(admit func(reg tmapi.Registration) error) { r.admit = admit }

// Register records a TaskManager registered under the current leader session.
func (r *TaskManagers) Register(_ context.Context, reg tmapi.Registration) (tmapi.RegistrationResponse, error) {
	if r.admit != nil {
		if err := r.admit(reg); err != nil {
			r.log.Warn().Err(err).Str(logging.Container, reg.ContainerID).Int("slots", reg.Slots).Msg("taskmanager registration refused")
			return tmapi.RegistrationResponse{}, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session == uuid.Nil || reg.LeaderSession != r.session.String() {
		return tmapi.RegistrationResponse{}, fmt.Errorf("%w: registration under %q, leader session is %q", tmapi.ErrStaleLeader, reg.LeaderSession, r.sessionString())
	}
	if reg.ContainerID == "" || reg.Slots < 1 {
		return tmapi.RegistrationResponse{}, fmt.Errorf("taskmanager registration: want a container ID and at least one slot, got %q with %d", reg.ContainerID, reg.Slots)
	}
	if r.maxSlots > 0 && reg.Slots > r.maxSlots {
		return tmapi.RegistrationResponse{}, fmt.Errorf("taskmanager registration: container %s claims %d slots, above %s (%d)",
			reg.ContainerID, reg.Slots, conf.TaskManagerMaxSlots.Key(), r.maxSlots)
	}
	now := r.now()
	// A container timed out under this session has had its tasks replaced: the
	// ones it reports are not this leader's to adopt, and it drops them.
	timedOut := r.timedOut[reg.ContainerID]
	delete(r.timedOut, reg.ContainerID)
	tasks := reg.Tasks
	if timedOut {
		tasks = nil
	}
	r.tms[reg.ContainerID] = &TaskManagerInfo{ContainerID: reg.ContainerID, PID: reg.PID, Slots: reg.Slots,
		Address: reg.Address, Registered: now, LastHeartbeat: now, Tasks: tasks}
	r.log.Info().Str(logging.Container, reg.ContainerID).Int(logging.PID, reg.PID).Str(logging.LeaderSession, reg.LeaderSession).
		Int("tasks", len(reg.Tasks)).Bool("timed_out", timedOut).Msg("taskmanager registered")
	r.signal()
	return tmapi.RegistrationResponse{HeartbeatIntervalMs: r.heartbeat.Milliseconds(), TimedOut: timedOut}, nil
}

// Heartbeat keeps a registration under the current leader session alive.
func (r *TaskManagers) Heartbeat(_ context.Context, hb tmapi.Heartbeat) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if hb.LeaderSession != r.sessionString() {
		return fmt.Errorf("%w: heartbeat under %q, leader session is %q", tmapi.ErrStaleLeader, hb.LeaderSession, r.sessionString())
	}
	tm, ok := r.tms[hb.ContainerID]
	if !ok {
		return fmt.Errorf("%w (%w): container %s under leader session %s (timed out, its tasks replaced)",
			tmapi.ErrNotRegistered, tmapi.ErrStaleLeader, hb.ContainerID, hb.LeaderSession)
	}
	tm.LastHeartbeat = r.now()
	return nil
}

func (r *TaskManagers) sessionString() string {
	if r.session == uuid.Nil {
		return ""
	}
	return r.session.String()
}
