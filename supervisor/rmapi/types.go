package rmapi

import (
	"errors"
	"fmt"
	"time"
)

// Paths of the protocol's calls.
const (
	PathRegister   = "/v1/register"
	PathAllocate   = "/v1/allocate"
	PathFinish     = "/v1/finish"
	PathLeadership = "/v1/leadership"
)

// Sentinel errors, matched with errors.Is on the client side.
var (
	// ErrStaleAttempt: the call came from an attempt other than the current one.
	ErrStaleAttempt = errors.New("rmapi: stale attempt")
	// ErrNotRegistered: Allocate or Finish before Register.
	ErrNotRegistered = errors.New("rmapi: attempt not registered")
	// ErrInvalid: the request is malformed.
	ErrInvalid = errors.New("rmapi: invalid request")
)

// codes map sentinel errors to their wire form and back.
var codes = map[string]error{
	"STALE_ATTEMPT":  ErrStaleAttempt,
	"NOT_REGISTERED": ErrNotRegistered,
	"INVALID":        ErrInvalid,
}

// FinalStatus is the status an AM reports when it finishes the application.
type FinalStatus string

const (
	Succeeded FinalStatus = "SUCCEEDED"
	Failed    FinalStatus = "FAILED"
	Killed    FinalStatus = "KILLED"
)

// Valid reports whether s is one of the final statuses.
func (s FinalStatus) Valid() bool { return s == Succeeded || s == Failed || s == Killed }

// SessionCredentials let the supervisor close a dead attempt's ZooKeeper session.
// Whoever holds them can close or take over the session: they are a secret.
type SessionCredentials struct {
	SessionID int64  `json:"sessionId"`
	Password  []byte `json:"password"` // base64 in JSON
}

// String never prints the password.
func (c SessionCredentials) String() string { return fmt.Sprintf("session 0x%x", c.SessionID) }

// Container is a TaskManager container as the supervisor reports it.
type Container struct {
	ID          string    `json:"id"`
	PID         int       `json:"pid"`
	MemoryBytes int64     `json:"memoryBytes"`
	Slots       int       `json:"slots"`
	Attempt     int       `json:"attempt"` // the attempt that allocated it
	Started     time.Time `json:"started"`
}

// CompletedContainer is a container that exited.
type CompletedContainer struct {
	ID          string `json:"id"`
	ExitCode    int    `json:"exitCode"`         // -1 when killed by a signal
	Signal      string `json:"signal,omitempty"` // e.g. "killed"
	Diagnostics string `json:"diagnostics,omitempty"`
}

// RegisterRequest is RegisterApplicationMaster.
type RegisterRequest struct {
	AttemptID   string              `json:"attemptId"`
	Host        string              `json:"host"`
	RESTAddress string              `json:"restAddress,omitempty"`
	Session     *SessionCredentials `json:"session,omitempty"`
}

// RegisterResponse carries what the attempt inherits.
type RegisterResponse struct {
	ApplicationID string `json:"applicationId"`
	Attempt       int    `json:"attempt"`
	MaxAttempts   int    `json:"maxAttempts"`
	// PreviousContainers are live containers allocated by earlier attempts
	// (YARN's containersFromPreviousAttempts); empty in restart-all mode.
	PreviousContainers []Container `json:"previousContainers"`
}

// ResourceRequest asks for Count containers of one shape.
type ResourceRequest struct {
	Count       int   `json:"count"`
	MemoryBytes int64 `json:"memoryBytes"`
	Slots       int   `json:"slots"`
}

// AllocateRequest is one Allocate heartbeat.
type AllocateRequest struct {
	AttemptID string            `json:"attemptId"`
	Ask       []ResourceRequest `json:"ask,omitempty"`
	Release   []string          `json:"release,omitempty"`
}

// AllocateResponse reports containers started for this attempt since the last
// call and containers that completed since then.
type AllocateResponse struct {
	Allocated []Container          `json:"allocated"`
	Completed []CompletedContainer `json:"completed"`
}

// FinishRequest is FinishApplicationMaster: the application ends with Status.
type FinishRequest struct {
	AttemptID   string      `json:"attemptId"`
	Status      FinalStatus `json:"status"`
	Diagnostics string      `json:"diagnostics,omitempty"`
}

// LeadershipRequest reports that the attempt's leadership changed: Leading when
// the election granted it leadership (its connection info is published), not
// Leading when that grant ended. An AM sends one report per change, in order,
// from the goroutine that holds the grant, so the reports of one attempt never
// overtake each other. An AM that dies sends nothing: the supervisor forgets a
// reaped attempt's leadership itself.
type LeadershipRequest struct {
	AttemptID string `json:"attemptId"`
	Leading   bool   `json:"leading"`
}
