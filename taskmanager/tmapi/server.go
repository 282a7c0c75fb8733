package tmapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/httpjson"
)

// Registry is the leader's register of TaskManagers (package jobmanager's
// TaskManagers). It refuses a registration or heartbeat under any session other
// than its current one with ErrStaleLeader (wrapped). Implementations must be
// safe for concurrent use.
type Registry interface {
	Register(ctx context.Context, reg Registration) (RegistrationResponse, error)
	Heartbeat(ctx context.Context, hb Heartbeat) error
}

// TaskManager is what a TaskManager does on the leader's commands. Only Status
// is called without a leader session check; every other method is called only
// after CheckLeader accepted the command's session. Implementations must be safe
// for concurrent use.
type TaskManager interface {
	Status() Status
	// CheckLeader returns ErrStaleLeader (wrapped) unless session is the
	// leader session the TaskManager takes commands from. The accepted
	// session is in the context of the command's method (CommandSession).
	CheckLeader(session string) error
	// Deploy runs d's subtask, replacing an instance already running; an
	// error means it cannot.
	Deploy(ctx context.Context, d Deployment) error
	// Cancel stops the job's subtasks here and returns how many there were.
	Cancel(jobID string) int
	// TriggerCheckpoint snapshots the task's state as checkpoint id. The
	// checkpoint commands return ErrUnknownTask (wrapped) for a task not here.
	TriggerCheckpoint(ctx context.Context, task TaskID, id int64) (CheckpointAck, error)
	CompleteCheckpoint(ctx context.Context, task TaskID, id int64) error
	AbortCheckpoint(ctx context.Context, task TaskID, id int64) error
}

type commandSessionKey struct{}

// CommandSession returns the leader session of the command whose context ctx
// is, as the TaskManager's CheckLeader accepted it ("" outside a command).
func CommandSession(ctx context.Context) string {
	s, _ := ctx.Value(commandSessionKey{}).(string)
	return s
}

// MaxCommandBytes bounds the body of a command to a TaskManager; a larger one is
// refused with 413 Request Entity Too Large.
const MaxCommandBytes = 4 << 20

// RegistryHandler serves reg at PathRegister and PathHeartbeat to callers that
// sign with secret (the application secret; 401 Unauthorized otherwise). A
// registration for a container the application did not launch is 403
// Forbidden (ErrUnknownContainer); a heartbeat of a TaskManager the leader
// does not have registered is 410 Gone (ErrNotRegistered); any other refusal
// is 409 Conflict: a TaskManager registers again.
func RegistryHandler(reg Registry, secret appsecret.Secret) http.Handler {
	// Registrations and heartbeats are small (1 MiB at most) and exact.
	registryBodies := httpjson.Decoder{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathRegister, func(w http.ResponseWriter, r *http.Request) {
		var req Registration
		if !decode(w, r, registryBodies, &req) {
			return
		}
		res, err := reg.Register(r.Context(), req)
		if err != nil {
			fail(w, err, http.StatusConflict)
			return
		}
		httpjson.Write(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST "+PathHeartbeat, func(w http.ResponseWriter, r *http.Request) {
		var req Heartbeat
		if !decode(w, r, registryBodies, &req) {
			return
		}
		if err := reg.Heartbeat(r.Context(), req); err != nil {
			fail(w, err, http.StatusConflict)
			return
		}
		httpjson.Write(w, http.StatusOK, struct{}{})
	})
	return secret.Require(mux)
}

// TaskManagerHandler serves tm's status and the leader's commands to callers
// that sign with secret (the application secret; 401 Unauthorized otherwise, before
// anything else: the status names the leader session). A command whose
// HeaderLeaderSession tm does not accept is refused before its body is decoded
// (the signature check has read it, at most MaxCommandBytes).
func TaskManagerHandler(tm TaskManager, secret appsecret.Secret) http.Handler {
	// A deployment carries a job graph (a submission is at most 1 MiB of JSON,
	// a third more in base64) and a state handle: 4 MiB at most. Fields this
	// TaskManager does not know are ignored.
	taskManagerBodies := httpjson.Decoder{MaxBytes: MaxCommandBytes, AllowUnknownFields: true}
	fenced := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			session := r.Header.Get(HeaderLeaderSession)
			if err := tm.CheckLeader(session); err != nil {
				fail(w, err, http.StatusConflict)
				return
			}
			h(w, r.WithContext(context.WithValue(r.Context(), commandSessionKey{}, session)))
		}
	}
	// checkpoint serves one checkpoint command: its body, then its task.
	checkpoint := func(do func(ctx context.Context, task TaskID, id int64) (any, error)) http.HandlerFunc {
		return fenced(func(w http.ResponseWriter, r *http.Request) {
			var c CheckpointCommand
			if !decode(w, r, taskManagerBodies, &c) {
				return
			}
			task, err := taskOf(r)
			if err != nil {
				fail(w, err, http.StatusNotFound)
				return
			}
			res, err := do(r.Context(), task, c.ID)
			if err != nil {
				fail(w, err, http.StatusInternalServerError)
				return
			}
			httpjson.Write(w, http.StatusOK, res)
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, tm.Status())
	})
	mux.HandleFunc("POST "+PathTasks, fenced(func(w http.ResponseWriter, r *http.Request) {
		var d Deployment
		if !decode(w, r, taskManagerBodies, &d) {
			return
		}
		if err := tm.Deploy(r.Context(), d); err != nil {
			fail(w, err, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	mux.HandleFunc("DELETE "+PathTasks+"/{job}", fenced(func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, Canceled{Canceled: tm.Cancel(r.PathValue("job"))})
	}))
	mux.HandleFunc("POST "+PathTasks+"/{job}/{subtask}/checkpoint", checkpoint(func(ctx context.Context, task TaskID, id int64) (any, error) {
		return tm.TriggerCheckpoint(ctx, task, id)
	}))
	mux.HandleFunc("POST "+PathTasks+"/{job}/{subtask}/complete", checkpoint(func(ctx context.Context, task TaskID, id int64) (any, error) {
		return struct{}{}, tm.CompleteCheckpoint(ctx, task, id)
	}))
	mux.HandleFunc("POST "+PathTasks+"/{job}/{subtask}/abort", checkpoint(func(ctx context.Context, task TaskID, id int64) (any, error) {
		return struct{}{}, tm.AbortCheckpoint(ctx, task, id)
	}))
	return secret.WithBodyLimit(MaxCommandBytes).Require(mux)
}

// taskOf reads the task a command names from its {job} and {subtask} path
// values; a subtask that is not a number names no task.
func taskOf(r *http.Request) (TaskID, error) {
	n, err := strconv.Atoi(r.PathValue("subtask"))
	if err != nil {
		return TaskID{}, fmt.Errorf("%w: subtask %q: %w", ErrUnknownTask, r.PathValue("subtask"), err)
	}
	return TaskID{JobID: r.PathValue("job"), Subtask: n}, nil
}

// decode reads a request body, answering 413 for one over its bound and 400
// Bad Request for any other it cannot read.
func decode(w http.ResponseWriter, r *http.Request, d httpjson.Decoder, v any) bool {
	if err := d.Decode(w, r, v); err != nil {
		http.Error(w, err.Error(), httpjson.DecodeStatus(err))
		return false
	}
	return true
}

// fail writes err in its wire form: the status of its sentinel, or else status.
func fail(w http.ResponseWriter, err error, status int) {
	switch {
	case errors.Is(err, ErrNotRegistered):
		status = http.StatusGone
	case errors.Is(err, ErrStaleLeader):
		status = http.StatusConflict
	case errors.Is(err, ErrUnknownTask):
		status = http.StatusNotFound
	case errors.Is(err, ErrUnusableState):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, ErrUnknownContainer):
		status = http.StatusForbidden
	}
	http.Error(w, err.Error(), status)
}
