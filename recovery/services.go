package recovery

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

// Backend is a high-availability backend as the services use it: leader election
// and retrieval, pointer stores, checkpoint ID counters, inspection and removal of
// its own nodes. Package zkha implements it on ZooKeeper, package embedded without
// (high-availability.type NONE); package haservices picks one.
//
// A backend converts its own errors to this package's sentinels at its boundary.
// The grants of its Election are the Guards its stores recognise.
//
// Implementations are safe for concurrent use.
type Backend interface {
	// Election is this process's leader election.
	Election() LeaderElection
	LeaderRetriever
	// PointerStore opens the pointer store of cfg.Dir.
	PointerStore(ctx context.Context, cfg PointerStoreConfig) (PointerStore, error)
	// CheckpointIDCounter opens a job's checkpoint ID counter.
	CheckpointIDCounter(ctx context.Context, jobID string) (CheckpointIDCounter, error)
	Inspectable
	// RemoveAll deletes every node the backend keeps for the cluster (pointers,
	// locks, counters, leader nodes), even while a leader holds the latch. Nothing
	// to delete is not an error; it is safe to repeat after a failure.
	RemoveAll(ctx context.Context) error
	// Close releases the backend (ZooKeeper: ends the session, so its ephemeral
	// nodes go). HA data stays. It is idempotent.
	io.Closer
}

// ServicesConfig assembles Services.
type ServicesConfig struct {
	// Backend keeps the pointers and runs the election; Services own it from now on.
	Backend Backend
	// Storage holds the payloads; Services own it from now on.
	Storage hdfsstore.Store
	// StateStorage, when set, holds the TaskManagers' checkpoint state instead of
	// Storage (state.checkpoints.dir; checkpoint metadata stays in Storage).
	// Services own it from now on.
	StateStorage hdfsstore.Store
	// ClusterPath is the prefix of this cluster's storage names (the cluster ID):
	// one valid hdfsstore name.
	ClusterPath string
	// Instance identifies this process's locks. Default: a random UUID. The
	// ZooKeeper backend names its latch node with the same ID.
	Instance uuid.UUID
	// RetainedCheckpoints is how many completed checkpoints a job keeps
	// (state.checkpoints.num-retained); CheckpointStore refuses fewer than 1.
	RetainedCheckpoints int
	Logger              zerolog.Logger
}

// Services are the high-availability services of one cluster for one process: a
// backend for the pointers and the election, and the state storage for the
// payloads. The zero value is not usable; package haservices opens them from the
// configuration. Close releases them.
type Services struct {
	backend     Backend
	storage     hdfsstore.Store
	state       hdfsstore.Store // nil: storage
	clusterPath string
	instance    uuid.UUID
	retain      int
	log         zerolog.Logger
}

// NewServices assembles Services from cfg.
func NewServices(cfg ServicesConfig) (*Services, error) {
	if cfg.Backend == nil || cfg.Storage == nil {
		return nil, errors.New("recovery: services need a backend and storage")
	}
	if err := hdfsstore.ValidateName(cfg.ClusterPath); err != nil {
		return nil, fmt.Errorf("recovery: cluster path %q cannot name a storage directory: %w", cfg.ClusterPath, err)
	}
	if cfg.Instance == uuid.Nil {
		cfg.Instance = uuid.New()
	}
	return &Services{
		backend:     cfg.Backend,
		storage:     cfg.Storage,
		state:       cfg.StateStorage,
		clusterPath: cfg.ClusterPath,
		instance:    cfg.Instance,
		retain:      cfg.RetainedCheckpoints,
		log:         cfg.Logger.With().Str("instance", cfg.Instance.String()).Logger(),
	}, nil
}

// Backend returns the backend, for what only it offers (the ZooKeeper session the
// supervisor closes to fence a dead attempt).
func (s *Services) Backend() Backend { return s.backend }

// Election returns this process's leader election.
func (s *Services) Election() LeaderElection { return s.backend.Election() }

// Storage returns the state storage (high-availability.storageDir): job graphs,
// checkpoint metadata, job results, and the sinks' output.
func (s *Services) Storage() hdfsstore.Store { return s.storage }

// StateStorage returns where the TaskManagers' checkpoint state goes, under
// StateRoot: state.checkpoints.dir when it is set, else Storage.
func (s *Services) StateStorage() hdfsstore.Store {
	if s.state != nil {
		return s.state
	}
	return s.storage
}

// OutputRoot is where sinks write their output in the storage directory, beside
// the clusters' HA data (each under its cluster path) and outside all of it, so
// that cleaning a cluster's HA data up never touches committed output. No
// cluster path may start with it.
const OutputRoot = "output"

// StateRoot is the prefix of the TaskManagers' checkpoint state in StateStorage:
// <StateRoot>/<job-id>/chk-<checkpoint-id>/subtask-<n>.
func (s *Services) StateRoot() string { return s.clusterPath + "/state" }

// Retrieve follows the leader of component until ctx ends; see LeaderRetriever.
func (s *Services) Retrieve(ctx context.Context, component string, notify func(LeaderInfo)) error {
	return s.backend.Retrieve(ctx, component, notify)
}

// JobGraphStore opens the job graph store.
func (s *Services) JobGraphStore(ctx context.Context) (*JobGraphs, error) {
	return newJobGraphs(ctx, s.backend, s.storage, s.clusterPath, s.instance, s.log)
}

// CheckpointStore opens a job's completed-checkpoint store, retaining
// state.checkpoints.num-retained checkpoints.
func (s *Services) CheckpointStore(ctx context.Context, jobID string) (*Checkpoints, error) {
	return newCheckpoints(ctx, s.backend, s.storage, s.clusterPath, s.instance, s.log, jobID, s.retain)
}

// CheckpointIDCounter opens a job's checkpoint ID counter.
func (s *Services) CheckpointIDCounter(ctx context.Context, jobID string) (CheckpointIDCounter, error) {
	return s.backend.CheckpointIDCounter(ctx, jobID)
}

// JobResultStore opens the job result store (in storage, for every backend). Its
// writes are fenced by CheckLeadership.
func (s *Services) JobResultStore() (JobResultStore, error) {
	return newJobResultStore(s.storage, s.clusterPath, s.CheckLeadership)
}

// CheckLeadership reports whether g still leads, asking the backend's server when
// the backend can (LeadershipChecker), otherwise g itself. Callers run it right
// before a side effect the backend cannot guard, such as a file in storage.
func (s *Services) CheckLeadership(ctx context.Context, g Guard) error {
	if c, ok := s.backend.(LeadershipChecker); ok {
		return c.CheckLeadership(ctx, g)
	}
	return g.Err()
}

// Inspector returns an inspector over this cluster's pointers and storage.
func (s *Services) Inspector() *Inspector {
	return &Inspector{Backend: s.backend, Storage: s.storage, ClusterPath: s.clusterPath, Logger: s.log}
}

// Close closes the backend (a ZooKeeper session ends: ephemeral latch, lock and
// connection_info nodes go with it) and storage. HA data stays for the next attempt.
func (s *Services) Close() error {
	err := errors.Join(s.backend.Close(), s.storage.Close())
	if s.state != nil {
		err = errors.Join(err, s.state.Close())
	}
	return err
}

// CloseAndCleanupAllData removes every piece of this cluster's HA data — the
// backend's nodes first (znodes, embedded pointer files), then storage — and
// closes the services. A crash in between leaves orphan files, never a pointer to
// a deleted file. It is for an application that reached a terminal state (Flink's
// HighAvailabilityServices.closeAndCleanupAllData); the caller must know that no
// AM of the cluster is alive, because a leader latch does not stop it. Other
// clusters' data stays.
func (s *Services) CloseAndCleanupAllData(ctx context.Context) error {
	err := s.backend.RemoveAll(ctx)
	if err == nil && s.state != nil {
		err = hdfsstore.RemoveAll(ctx, s.state, s.StateRoot()+"/")
	}
	if err == nil {
		err = cleanupStorage(ctx, s.storage, s.clusterPath)
	}
	return errors.Join(err, s.Close())
}
