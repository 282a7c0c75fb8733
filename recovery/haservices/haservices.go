package haservices

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/embedded"
	"github.com/amkeeper/amkeeper/recovery/zkha"
)

// Options configure Open beyond the configuration keys.
type Options struct {
	// InstanceID identifies this process's locks and latch node. Default: random.
	InstanceID uuid.UUID
	// LocalDir is embedded mode's directory for pointer files and the election
	// lock (and its storage when high-availability.storageDir is unset). Required
	// in embedded mode; ignored with ZooKeeper.
	LocalDir string
	Logger   zerolog.Logger
}

// Open opens the high-availability services the configuration asks for:
// high-availability.type zookeeper connects to the quorum and waits (at most the
// connection timeout) for a session; NONE uses the embedded backend in
// <LocalDir>/<cluster-id>. Either way the payloads go to StorageURI, except the
// TaskManagers' checkpoint state, which goes to state.checkpoints.dir when it is set.
func Open(ctx context.Context, cfg *conf.Config, o Options) (*recovery.Services, error) {
	if o.InstanceID == uuid.Nil {
		o.InstanceID = uuid.New()
	}
	clusterPath := cfg.ClusterID()
	if err := hdfsstore.ValidateName(clusterPath); err != nil {
		return nil, fmt.Errorf("haservices: %s %q cannot name a storage directory: %w", conf.HAClusterID.Key(), clusterPath, err)
	}
	if first, _, _ := strings.Cut(clusterPath, "/"); first == recovery.OutputRoot {
		return nil, fmt.Errorf("haservices: %s %q: its first path element %q is where sinks write their committed output, "+
			"and cleaning the cluster's HA data up would delete it; choose a cluster ID whose first path element is not %q",
			conf.HAClusterID.Key(), cfg.ClusterID(), recovery.OutputRoot, recovery.OutputRoot)
	}
	zookeeper := cfg.HAMode() == conf.HAZooKeeper
	if !zookeeper && o.LocalDir == "" {
		return nil, errors.New("haservices: embedded high availability needs a local directory")
	}
	log := o.Logger.With().Str("instance", o.InstanceID.String()).Logger()
	st, err := hdfsstore.Open(ctx, StorageURI(cfg, o.LocalDir), hdfsstore.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("haservices: %s: %w", conf.HAStorageDir.Key(), err)
	}
	var state hdfsstore.Store
	if dir := cfg.CheckpointsDir(); dir != "" {
		if state, err = hdfsstore.Open(ctx, dir, hdfsstore.WithLogger(log)); err != nil {
			st.Close()
			return nil, fmt.Errorf("haservices: %s: %w", conf.StateCheckpointsDir.Key(), err)
		}
	}
	closeStores := func() error {
		err := st.Close()
		if state != nil {
			err = errors.Join(err, state.Close())
		}
		return err
	}
	var b recovery.Backend
	if zookeeper {
		b, err = zkha.Open(ctx, cfg, zkha.Options{InstanceID: o.InstanceID, Logger: o.Logger})
	} else {
		b, err = embedded.Open(filepath.Join(o.LocalDir, clusterPath), log)
	}
	if err != nil {
		closeStores()
		return nil, err
	}
	svc, err := recovery.NewServices(recovery.ServicesConfig{
		Backend:             b,
		Storage:             st,
		StateStorage:        state,
		ClusterPath:         clusterPath,
		Instance:            o.InstanceID,
		RetainedCheckpoints: cfg.CheckpointsNumRetained(),
		Logger:              o.Logger,
	})
	if err != nil {
		return nil, errors.Join(err, b.Close(), closeStores())
	}
	return svc, nil
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
