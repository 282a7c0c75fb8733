package tmapi

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/httpjson"
)

// TaskManagerClient sends a leader's commands to TaskManagers, each carrying the
// leader session it is sent under. tm is a TaskManager's address as it
// registered it (http://host:port). Safe for concurrent use.
type TaskManagerClient struct{ c httpjson.Client }

// NewTaskManagerClient returns a client making its calls with hc (its Timeout
// bounds each call besides the context), each signed with secret.
func NewTaskManagerClient(hc *http.Client, secret appsecret.Secret) *TaskManagerClient {
	return &TaskManagerClient{c: httpjson.Client{HTTP: secret.Client(hc)}}
}

// Deploy runs d's subtask on tm, replacing an instance already running there.
func (c *TaskManagerClient) Deploy(ctx context.Context, tm string, session uuid.UUID, d Deployment) error {
	err := c.command(ctx, http.MethodPost, tm+PathTasks, session, d, nil)
	return mapStatus(err, http.StatusUnprocessableEntity, ErrUnusableState)
}

// Cancel stops the job's subtasks on tm and returns how many there were.
func (c *TaskManagerClient) Cancel(ctx context.Context, tm string, session uuid.UUID, jobID string) (int, error) {
	var res Canceled
	err := c.command(ctx, http.MethodDelete, tm+PathTasks+"/"+jobID, session, nil, &res)
	return res.Canceled, err
}

// TriggerCheckpoint has the task on tm snapshot its state as checkpoint id and
// returns the snapshot's handle.
func (c *TaskManagerClient) TriggerCheckpoint(ctx context.Context, tm string, session uuid.UUID, task TaskID, id int64) (CheckpointAck, error) {
	var ack CheckpointAck
	err := c.command(ctx, http.MethodPost, tm+task.path("checkpoint"), session, CheckpointCommand{ID: id}, &ack)
	return ack, taskError(err)
}

// CompleteCheckpoint tells the task on tm that checkpoint id completed: it
// commits what the checkpoint covers.
func (c *TaskManagerClient) CompleteCheckpoint(ctx context.Context, tm string, session uuid.UUID, task TaskID, id int64) error {
	return taskError(c.command(ctx, http.MethodPost, tm+task.path("complete"), session, CheckpointCommand{ID: id}, nil))
}

// AbortCheckpoint tells the task on tm that checkpoint id will not complete.
func (c *TaskManagerClient) AbortCheckpoint(ctx context.Context, tm string, session uuid.UUID, task TaskID, id int64) error {
	return taskError(c.command(ctx, http.MethodPost, tm+task.path("abort"), session, CheckpointCommand{ID: id}, nil))
}

// Status reads tm's status; it needs no leader session (but the secret).
func (c *TaskManagerClient) Status(ctx context.Context, tm string) (Status, error) {
	var st Status
	err := c.c.Get(ctx, tm+PathStatus, &st)
	return st, err
}

func (c *TaskManagerClient) command(ctx context.Context, method, url string, session uuid.UUID, body, reply any) error {
	err := c.c.Do(ctx, httpjson.Request{Method: method, URL: url, Body: body,
		Header: http.Header{HeaderLeaderSession: {session.String()}}}, reply)
	return staleError(err)
}

// RegistryClient is a TaskManager's client of the leader's registry. leader is
// the address leader retrieval names (http://host:port). Safe for concurrent
// use.
type RegistryClient struct{ c httpjson.Client }

// NewRegistryClient returns a client making its calls with hc (its Timeout
// bounds each call besides the context), each signed with secret.
func NewRegistryClient(hc *http.Client, secret appsecret.Secret) *RegistryClient {
	return &RegistryClient{c: httpjson.Client{HTTP: secret.Client(hc)}}
}

// Register registers a TaskManager with the leader at leader.
func (c *RegistryClient) Register(ctx context.Context, leader string, reg Registration) (RegistrationResponse, error) {
	var res RegistrationResponse
	err := c.c.Post(ctx, leader+PathRegister, reg, &res)
	return res, mapStatus(staleError(err), http.StatusForbidden, ErrUnknownContainer)
}

// Heartbeat keeps a registration with the leader at leader alive. A leader
// that timed the TaskManager out answers ErrNotRegistered.
func (c *RegistryClient) Heartbeat(ctx context.Context, leader string, hb Heartbeat) error {
	return mapStatus(staleError(c.c.Post(ctx, leader+PathHeartbeat, hb, nil)), http.StatusGone, ErrNotRegistered)
}

// staleError and taskError map a reply's status onto the sentinel it stands
// for (409 Conflict: ErrStaleLeader; for a checkpoint command, 404 Not Found:
// ErrUnknownTask). The error still reads as the reply — whose message names the
// sentinel when the other side sent one — and keeps its *httpjson.StatusError.
func staleError(err error) error { return mapStatus(err, http.StatusConflict, ErrStaleLeader) }

func taskError(err error) error { return mapStatus(err, http.StatusNotFound, ErrUnknownTask) }

func mapStatus(err error, status int, sentinel error) error {
	if httpjson.StatusCode(err) != status {
		return err
	}
	return &statusError{sentinel: sentinel, err: err}
}

type statusError struct {
	sentinel error
	err      error
}

func (e *statusError) Error() string   { return e.err.Error() }
func (e *statusError) Unwrap() []error { return []error{e.sentinel, e.err} }
