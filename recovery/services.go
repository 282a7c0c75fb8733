package recovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery/zkclient"
)

// ServicesOptions configure Open beyond the configuration keys.
type ServicesOptions struct {
	// InstanceID identifies this process's locks and latch node. Default: random.
	InstanceID uuid.UUID
	// LocalDir is embedded mode's directory for pointer files and the election
	// lock (and its storage when high-availability.storageDir is unset). Required
	// in embedded mode; ignored with ZooKeeper.
	LocalDir string
	Logger   zerolog.Logger
}

// Services are the high-availability services of one cluster for one process,
// chosen by high-availability.type: ZooKeeper, or embedded (NONE). The zero value
// is not usable; call Open. Close releases them.
type Services struct {
	mode        conf.HAMode
	cfg         *conf.Config
	instance    uuid.UUID
	clusterPath string // prefix of this cluster's storage names
	storage     hdfsstore.Store
	zk          *zkclient.Client // nil in embedded mode
	local       *EmbeddedDir     // nil with ZooKeeper
	election    LeaderElection
	log         zerolog.Logger
}

// Open connects the services the configuration asks for. With ZooKeeper it waits
// (at most the connection timeout) for a session.
func Open(ctx context.Context, cfg *conf.Config, o ServicesOptions) (*Services, error) {
	if o.InstanceID == uuid.Nil {
		o.InstanceID = uuid.New()
	}
	s := &Services{
		mode:        cfg.HAMode(),
		cfg:         cfg,
		instance:    o.InstanceID,
		clusterPath: cfg.ClusterID(),
		log:         o.Logger.With().Str("instance", o.InstanceID.String()).Logger(),
	}
	if err := hdfsstore.ValidateName(s.clusterPath); err != nil {
		return nil, fmt.Errorf("recovery: %s %q cannot name a storage directory: %w", conf.HAClusterID.Key(), cfg.ClusterID(), err)
	}
	storageURI := cfg.StorageDir()
	if s.mode != conf.HAZooKeeper {
		if o.LocalDir == "" {
			return nil, errors.New("recovery: embedded high availability needs a local directory")
		}
		local, err := NewEmbeddedDir(filepath.Join(o.LocalDir, s.clusterPath))
		if err != nil {
			return nil, err
		}
		s.local = local
		storageURI = StorageURI(cfg, o.LocalDir)
	}
	st, err := hdfsstore.Open(ctx, storageURI, hdfsstore.WithLogger(s.log))
	if err != nil {
		return nil, fmt.Errorf("recovery: %s: %w", conf.HAStorageDir.Key(), err)
	}
	s.storage = st
	if s.mode != conf.HAZooKeeper {
		s.election = NewEmbeddedElection(s.local.Path(), s.log)
		return s, nil
	}
	cl, err := zkclient.Connect(ctx, ZooKeeperConfig(cfg, o.Logger))
	if err != nil {
		st.Close()
		return nil, err
	}
	s.zk = cl
	s.election = NewElection(ElectionConfig{
		Client:            cl,
		InstanceID:        o.InstanceID.String(),
		TolerateSuspended: cfg.TolerateSuspendedConnections(),
		Logger:            o.Logger, // the election adds the instance
	})
	return s, nil
}

// StorageURI is the state storage the services use: high-availability.storageDir,
// or in embedded mode without it <localDir>/<cluster-id>/storage.
func StorageURI(cfg *conf.Config, localDir string) string {
	if dir := cfg.StorageDir(); dir != "" || cfg.HAMode() == conf.HAZooKeeper {
		return dir
	}
	abs, err := filepath.Abs(filepath.Join(localDir, cfg.ClusterID(), "storage"))
	if err != nil {
		abs = filepath.Join(localDir, cfg.ClusterID(), "storage")
	}
	return hdfsstore.FileURI(abs)
}

// ZooKeeperConfig maps the configuration onto the ZooKeeper client's: the chroot is
// high-availability.zookeeper.path.root joined with high-availability.cluster-id.
func ZooKeeperConfig(cfg *conf.Config, log zerolog.Logger) zkclient.Config {
	return zkclient.Config{
		Servers:           cfg.Quorum(),
		Root:              cfg.ClusterPath(),
		SessionTimeout:    cfg.SessionTimeout(),
		ConnectionTimeout: cfg.ConnectionTimeout(),
		RetryWait:         cfg.RetryWait(),
		MaxRetries:        cfg.MaxRetryAttempts(),
		ACL:               zkclient.ACLMode(strings.ToLower(string(cfg.ACL()))),
		Digest:            cfg.Digest(),
		Logger:            log, // the client adds zk_path
	}
}

// Mode returns the high-availability mode in use.
func (s *Services) Mode() conf.HAMode { return s.mode }

// Election returns this process's leader election.
func (s *Services) Election() LeaderElection { return s.election }

// Storage returns the state storage.
func (s *Services) Storage() hdfsstore.Store { return s.storage }

// ClusterPath returns the prefix of this cluster's storage names.
func (s *Services) ClusterPath() string { return s.clusterPath }

// StateRoot is the storage prefix of the TaskManagers' checkpoint state:
// <StateRoot>/<job-id>/chk-<checkpoint-id>/subtask-<n>.
func (s *Services) StateRoot() string { return s.clusterPath + "/state" }

// ZooKeeper returns the ZooKeeper client, nil in embedded mode.
func (s *Services) ZooKeeper() *zkclient.Client { return s.zk }

// Retrieve follows the leader of component until ctx ends; see Retrieve and
// RetrieveEmbedded.
func (s *Services) Retrieve(ctx context.Context, component string, notify func(LeaderInfo)) error {
	if s.zk == nil {
		return EmbeddedRetriever{Dir: s.local.Path()}.Retrieve(ctx, component, notify)
	}
	return Retrieve(ctx, RetrievalConfig{
		Client:            s.zk,
		Component:         component,
		TolerateSuspended: s.cfg.TolerateSuspendedConnections(),
		Logger:            s.log,
	}, notify)
}

// JobGraphStore opens the job graph store.
func (s *Services) JobGraphStore(ctx context.Context) (*JobGraphs, error) {
	if s.zk == nil {
		return NewEmbeddedJobGraphStore(ctx, s.local, s.storage, s.clusterPath, s.instance, s.log)
	}
	return NewZooKeeperJobGraphStore(s.zk, s.storage, s.clusterPath, s.instance, s.log), nil
}

// CheckpointStore opens a job's completed-checkpoint store, retaining
// state.checkpoints.num-retained checkpoints.
func (s *Services) CheckpointStore(ctx context.Context, jobID string) (*Checkpoints, error) {
	retain := s.cfg.CheckpointsNumRetained()
	if s.zk == nil {
		return NewEmbeddedCheckpointStore(ctx, s.local, s.storage, s.clusterPath, s.instance, s.log, jobID, retain)
	}
	return NewZooKeeperCheckpointStore(s.zk, s.storage, s.clusterPath, s.instance, s.log, jobID, retain)
}

// CheckpointIDCounter opens a job's checkpoint ID counter.
func (s *Services) CheckpointIDCounter(ctx context.Context, jobID string) (CheckpointIDCounter, error) {
	if s.zk == nil {
		return NewEmbeddedIDCounter(ctx, s.local, jobID)
	}
	return NewZooKeeperIDCounter(s.zk, jobID, s.log)
}

// JobResultStore opens the job result store (in storage, for both modes).
func (s *Services) JobResultStore() (*StorageJobResultStore, error) {
	return NewJobResultStore(s.storage, s.clusterPath)
}

// BlobStore opens the blob store (in storage, for both modes).
func (s *Services) BlobStore() (*StorageBlobStore, error) {
	return NewBlobStore(s.storage, s.clusterPath)
}

// Close ends the ZooKeeper session (ephemeral latch, lock and connection_info
// nodes go with it) and closes storage. HA data stays for the next attempt.
func (s *Services) Close() error {
	var errs []error
	if s.zk != nil {
		errs = append(errs, s.zk.Close())
	}
	if s.storage != nil {
		errs = append(errs, s.storage.Close())
	}
	return errors.Join(errs...)
}

// Inspector returns an inspector over this cluster's pointers and storage.
func (s *Services) Inspector() *Inspector {
	return &Inspector{ZooKeeper: s.zk, Embedded: s.local, Storage: s.storage, ClusterPath: s.clusterPath, Logger: s.log}
}

// CloseAndCleanupAllData removes every piece of this cluster's HA data — znodes
// (or embedded pointer files) first, then storage — and closes the services. It is
// for an application that reached a terminal state; the caller must know that no
// AM of the cluster is alive, because a leader latch does not stop it.
func (s *Services) CloseAndCleanupAllData(ctx context.Context) error {
	var err error
	if s.zk != nil {
		err = CleanupAll(ctx, s.zk, s.storage, s.clusterPath, true)
	} else {
		err = CleanupStorage(ctx, s.storage, s.clusterPath)
		if rerr := os.RemoveAll(s.local.Path()); err == nil {
			err = rerr
		}
	}
	return errors.Join(err, s.Close())
}
