package taskmanager

import "errors"

// Paths the AM serves for TaskManagers.
const (
	PathRegister  = "/internal/taskmanagers/register"
	PathHeartbeat = "/internal/taskmanagers/heartbeat"
)

// Paths a TaskManager serves.
const (
	PathStatus = "/v1/status"
)

// HeaderLeaderSession carries the sender's leader session ID on every AM → TM
// command; a TaskManager refuses commands from any other session.
const HeaderLeaderSession = "X-Leader-Session"

// ErrStaleLeader is returned (HTTP 409) for a call made under a leader session
// that is not the receiver's current one.
var ErrStaleLeader = errors.New("taskmanager: stale leader session")

// Registration is what a TaskManager tells the leader about itself.
type Registration struct {
	ContainerID   string `json:"containerId"`
	PID           int    `json:"pid"`
	Slots         int    `json:"slots"`
	Address       string `json:"address"`       // http://host:port of the TaskManager
	LeaderSession string `json:"leaderSession"` // the leader session it registers under
}

// RegistrationResponse confirms a registration.
type RegistrationResponse struct {
	HeartbeatIntervalMs int64 `json:"heartbeatIntervalMs"`
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
}

// Task commands a leader sends (each with HeaderLeaderSession).
const (
	PathTasks = "/v1/tasks" // POST Deployment; DELETE /v1/tasks/{job} cancels a job's tasks
)

// Deployment runs one subtask of a job, restored from Handle (nil: fresh).
type Deployment struct {
	JobID   string `json:"jobId"`
	Subtask int    `json:"subtask"`
	Graph   []byte `json:"graph"`
	Handle  []byte `json:"handle,omitempty"`
}

// CheckpointCommand triggers, completes or aborts checkpoint ID of one subtask.
type CheckpointCommand struct {
	ID int64 `json:"id"`
}

// CheckpointAck is the reply to a trigger: the state handle of the snapshot.
type CheckpointAck struct {
	ID     int64  `json:"id"`
	Handle []byte `json:"handle"`
}
