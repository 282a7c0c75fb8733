package tmapi

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Paths the AM (the leader's TaskManager registry) serves for TaskManagers.
const (
	PathRegister  = "/internal/taskmanagers/register"
	PathHeartbeat = "/internal/taskmanagers/heartbeat"
)

// Paths a TaskManager serves.
const (
	// PathStatus is GET Status; it needs no leader session (but, as every
	// call, the application secret).
	PathStatus = "/v1/status"
	// PathTasks takes the leader's task commands: POST Deployment deploys;
	// DELETE PathTasks/{job} cancels a job's tasks; POST
	// PathTasks/{job}/{subtask}/checkpoint, /complete and /abort carry a
	// CheckpointCommand.
	PathTasks = "/v1/tasks"
)

// HeaderLeaderSession carries the sender's leader session ID on every AM → TM
// command; a TaskManager refuses commands from any other session.
const HeaderLeaderSession = "X-Leader-Session"

// Sentinel errors, matched with errors.Is on both sides. On the wire an error
// is its status code with the message as plain text:
//
//	ErrStaleLeader       409 Conflict   (any call: the registry also refuses an invalid registration with it)
//	ErrNotRegistered     410 Gone       (heartbeat)
//	ErrUnknownTask       404 Not Found  (checkpoint commands)
//	ErrUnknownContainer  403 Forbidden  (registration)
//
// Every call is signed with the application secret (package appsecret; the
// secret itself is never sent); a call without a valid signature is 401
// Unauthorized, with no detail.
//
// A body that cannot be decoded is 400 Bad Request, and so is a deployment the
// TaskManager cannot run; anything else that fails is 500.
var (
	// ErrStaleLeader: the call was made under a leader session that is not the
	// receiver's current one.
	ErrStaleLeader = errors.New("tmapi: stale leader session")
	// ErrNotRegistered: a heartbeat under the leader's current session from a
	// TaskManager the leader does not have registered — it timed the
	// TaskManager out and has replaced its tasks elsewhere. The TaskManager
	// cancels its tasks (nobody will adopt them) and registers again.
	ErrNotRegistered = errors.New("tmapi: not registered with the leader")
	// ErrUnknownTask: the TaskManager runs no such subtask.
	ErrUnknownTask = errors.New("tmapi: no such task")
	// ErrUnusableState is a deployment whose state (a file its handle names) is
	// missing, corrupt or not this task's: deploying it again gives the same
	// answer (422 Unprocessable Entity).
	ErrUnusableState = errors.New("tmapi: unusable checkpoint state")
	// ErrUnknownContainer is a registration for a container the application
	// did not launch, or with other slots than it was launched with.
	ErrUnknownContainer = errors.New("tmapi: not a container of this application")
)

// Registration is what a TaskManager tells the leader about itself.
type Registration struct {
	ContainerID   string `json:"containerId"`
	PID           int    `json:"pid"`
	Slots         int    `json:"slots"`
	Address       string `json:"address"`       // http://host:port of the TaskManager
	LeaderSession string `json:"leaderSession"` // the leader session it registers under
	// Tasks are the subtasks it runs, deployed by an earlier leader and kept
	// through the leaderless time: the new leader adopts them when every subtask
	// of a job runs in the job's recorded execution.
	Tasks []RunningTask `json:"tasks,omitempty"`
}

// RunningTask is a subtask a TaskManager runs, as it registers it.
type RunningTask struct {
	JobID     string `json:"jobId"`
	Subtask   int    `json:"subtask"`
	Execution string `json:"execution"` // the execution it was deployed in (empty: unknown)
	// LastCheckpoint is the highest checkpoint it snapshotted or was restored from.
	LastCheckpoint int64 `json:"lastCheckpoint"`
}

// Task is the subtask r names.
func (r RunningTask) Task() TaskID { return TaskID{JobID: r.JobID, Subtask: r.Subtask} }

// RegistrationResponse confirms a registration.
type RegistrationResponse struct {
	HeartbeatIntervalMs int64 `json:"heartbeatIntervalMs"`
	// TimedOut: the leader timed this TaskManager out under its current
	// session (its heartbeats stopped reaching it) and has replaced the tasks
	// it reported: nobody will adopt them. The TaskManager cancels those it
	// still runs in the reported execution; a task deployed since stays.
	TimedOut bool `json:"timedOut,omitempty"`
}

// Heartbeat keeps a registration alive.
type Heartbeat struct {
	ContainerID   string `json:"containerId"`
	LeaderSession string `json:"leaderSession"`
}

// Status is what a TaskManager reports about itself.
type Status struct {
	ContainerID   string `json:"containerId"`
	PID           int    `json:"pid"`
	Slots         int    `json:"slots"`
	LeaderSession string `json:"leaderSession"` // "" when no leader is known
	LeaderAddress string `json:"leaderAddress"`
	Registrations int    `json:"registrations"` // how many times it registered
	// Tasks are the subtasks it runs now, by job and subtask.
	Tasks []TaskStatus `json:"tasks,omitempty"`
}

// TaskStatus is one subtask as a TaskManager reports it: what it registers
// (RunningTask), how many source records it has processed, and — across every
// instance of the subtask this process ran — the records processed again after
// restores and the newest gaps between records reaching its sink (the stalls).
type TaskStatus struct {
	RunningTask
	Records  int64 `json:"records"`
	Replayed int64 `json:"replayed"`
	Gaps     []Gap `json:"gaps,omitempty"`
}

// Gap is a time without records reaching a subtask's sink, ending at End.
type Gap struct {
	End    time.Time     `json:"end"`
	Length time.Duration `json:"lengthNs"`
}

// TaskID names one subtask (parallel instance) of a job.
type TaskID struct {
	JobID   string
	Subtask int
}

func (t TaskID) String() string { return fmt.Sprintf("%s/%d", t.JobID, t.Subtask) }

// path is the URL path of a checkpoint command to t.
func (t TaskID) path(verb string) string {
	return PathTasks + "/" + t.JobID + "/" + strconv.Itoa(t.Subtask) + "/" + verb
}

// Deployment runs one subtask of a job, restored from Handle (nil: fresh).
type Deployment struct {
	JobID   string `json:"jobId"`
	Subtask int    `json:"subtask"`
	Graph   []byte `json:"graph"`
	Handle  []byte `json:"handle,omitempty"`
}

// Task is the subtask d deploys.
func (d Deployment) Task() TaskID { return TaskID{JobID: d.JobID, Subtask: d.Subtask} }

// CheckpointCommand triggers, completes or aborts checkpoint ID of one subtask.
type CheckpointCommand struct {
	ID int64 `json:"id"`
}

// CheckpointAck is the reply to a trigger: the state handle of the snapshot.
type CheckpointAck struct {
	ID     int64  `json:"id"`
	Handle []byte `json:"handle"`
}

// Canceled is the reply to a cancel: how many of the job's subtasks stopped.
type Canceled struct {
	Canceled int `json:"canceled"`
}
