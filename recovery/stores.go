package recovery

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// JobGraphStore keeps submitted job graphs (opaque bytes) so a new leader can
// recover them: payload in storage, pointer under /jobgraphs/<job-id> in the
// backend, locked by each instance that uses it.
//
// Implementations are safe for concurrent use.
type JobGraphStore interface {
	// Put adds or replaces a job graph and locks it for this instance.
	Put(ctx context.Context, g Guard, jobID string, graph []byte) error
	// Recover reads a job graph (verifying its checksum) and locks it.
	Recover(ctx context.Context, jobID string) ([]byte, error)
	// JobIDs lists the stored jobs, excluding those marked for deletion.
	JobIDs(ctx context.Context) ([]string, error)
	// StoredJobIDs is JobIDs in one read: it includes jobs marked for deletion,
	// which RecoverAll then reports as ErrNotFound.
	StoredJobIDs(ctx context.Context) ([]string, error)
	// RecoverAll recovers (and locks) many job graphs with the requests pipelined;
	// the result is in the order of jobIDs, each entry with its own error
	// (ErrNotFound for a job removed or marked for deletion meanwhile).
	RecoverAll(ctx context.Context, jobIDs []string) []Entry
	// Release drops this instance's lock without removing anything.
	Release(ctx context.Context, jobID string) error
	// Remove deletes a job graph globally. It refuses with ErrLocked while another
	// instance holds a lock. Removing a missing job is not an error.
	Remove(ctx context.Context, g Guard, jobID string) error
	// Stop releases local resources, not the locks (they go with the backend's
	// session or process). It is idempotent.
	Stop() error
}

// CompletedCheckpoint is one completed checkpoint of a job. Metadata is opaque
// to the store (task state handles etc.).
type CompletedCheckpoint struct {
	JobID     string
	ID        int64
	Timestamp time.Time
	Metadata  []byte
	// LeaderSession is the leader session that stored the checkpoint: Add
	// stamps it from the guard (what the caller sets is ignored). uuid.Nil for
	// a checkpoint stored before stamps existed: it carries no claim of its
	// writer, and is ordered only by its ID.
	LeaderSession uuid.UUID
}

// CheckpointIDCounter hands out checkpoint IDs, kept by the backend at
// CheckpointIDCounterPath(jobID). The ZooKeeper counter refuses to work
// (ErrNotConnected) without a live connection, because it could not guarantee
// monotonicity then.
type CheckpointIDCounter interface {
	// GetAndIncrement returns the current value and stores value+1. The first
	// value is 1.
	GetAndIncrement(ctx context.Context, g Guard) (int64, error)
	// Get returns the current value (the next ID to hand out).
	Get(ctx context.Context) (int64, error)
	// SetCount sets the next ID (used when restoring from a savepoint).
	SetCount(ctx context.Context, g Guard, next int64) error
	// Shutdown removes the counter when terminal, keeps it otherwise.
	Shutdown(ctx context.Context, g Guard, terminal bool) error
}

// JobResult is a job's final outcome.
type JobResult struct {
	JobID       string    `json:"jobId"`
	State       string    `json:"state"` // SUCCEEDED, FAILED, CANCELED
	Finished    time.Time `json:"finished"`
	Diagnostics string    `json:"diagnostics,omitempty"`
	// Name is the job's name as submitted (empty in results written before it
	// was kept).
	Name string `json:"name,omitempty"`
}

// JobResultStore records finished jobs in storage as
// <cluster-path>/job-result-store/<job-id>_DIRTY.json (cleanup pending) and then
// <job-id>.json (clean), so a job with a result is never run again.
type JobResultStore interface {
	// CreateDirty and MarkClean write only while g leads: each checks the
	// leadership with the backend's server right before its write (ErrNotLeader
	// and nothing written otherwise).
	CreateDirty(ctx context.Context, g Guard, r JobResult) error
	MarkClean(ctx context.Context, g Guard, jobID string) error
	// Result reads the job's result, clean or dirty; fs.ErrNotExist when it has none.
	Result(ctx context.Context, jobID string) (JobResult, error)
	// Has reports whether any (dirty or clean) result exists for the job.
	Has(ctx context.Context, jobID string) (bool, error)
	// Finished lists, in one read, every job with a (dirty or clean) result.
	Finished(ctx context.Context) (map[string]bool, error)
	// Dirty lists results whose cleanup has not finished.
	Dirty(ctx context.Context) ([]JobResult, error)
}
