package zkha

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// counterAttempts bounds the compare-and-set retries of one increment.
const counterAttempts = 100

// idCounter is the recovery.CheckpointIDCounter on ZooKeeper: the node
// recovery.CheckpointIDCounterPath(jobID) holds the next ID
// (recovery.EncodeCheckpointCounter), changed by compare-and-set on the node
// version inside a guarded multi.
type idCounter struct {
	cl   *zkclient.Client
	path string
	log  zerolog.Logger
}

var _ recovery.CheckpointIDCounter = (*idCounter)(nil)

// newIDCounter returns the checkpoint ID counter of jobID.
func newIDCounter(cl *zkclient.Client, jobID string, log zerolog.Logger) (*idCounter, error) {
	if err := recovery.ValidateKey(jobID); err != nil {
		return nil, fmt.Errorf("recovery: checkpoint ID counter: job ID: %w", err)
	}
	p := recovery.CheckpointIDCounterPath(jobID)
	return &idCounter{cl: cl, path: p, log: log.With().Str(logging.Job, jobID).Str(logging.ZKPath, p).Logger()}, nil
}

func (c *idCounter) connected(op string) error {
	if !c.cl.Connected() {
		return fmt.Errorf("recovery: checkpoint ID counter %s: %s: %w", c.path, op, recovery.ErrNotConnected)
	}
	return nil
}

// wrap turns connection failures into ErrNotConnected.
func (c *idCounter) wrap(op string, err error) error {
	if errors.Is(err, zkclient.ErrConnectionLoss) || errors.Is(err, zkclient.ErrNotConnected) || errors.Is(err, zkclient.ErrClosed) {
		return fmt.Errorf("recovery: checkpoint ID counter %s: %s: %w: %w", c.path, op, recovery.ErrNotConnected, err)
	}
	return fmt.Errorf("recovery: checkpoint ID counter %s: %s: %w", c.path, op, err)
}

// Get implements recovery.CheckpointIDCounter.
func (c *idCounter) Get(ctx context.Context) (int64, error) {
	if err := c.connected("get"); err != nil {
		return 0, err
	}
	data, _, err := c.cl.Get(ctx, c.path)
	if errors.Is(err, zk.ErrNoNode) {
		return recovery.FirstCheckpointID, nil
	}
	if err != nil {
		return 0, c.wrap("get", err)
	}
	return recovery.DecodeCheckpointCounter(data, c.path)
}

// GetAndIncrement implements recovery.CheckpointIDCounter.
func (c *idCounter) GetAndIncrement(ctx context.Context, g recovery.Guard) (int64, error) {
	var got int64
	if err := c.update(ctx, g, "increment", func(cur int64) int64 { got = cur; return cur + 1 }); err != nil {
		return 0, err
	}
	return got, nil
}

// SetCount implements recovery.CheckpointIDCounter.
func (c *idCounter) SetCount(ctx context.Context, g recovery.Guard, next int64) error {
	return c.update(ctx, g, "set", func(int64) int64 { return next })
}

// update applies f by compare-and-set, retrying when another writer got in first.
func (c *idCounter) update(ctx context.Context, g recovery.Guard, op string, f func(int64) int64) error {
	for range counterAttempts {
		if err := c.connected(op); err != nil {
			return err
		}
		data, stat, err := c.cl.Get(ctx, c.path)
		if errors.Is(err, zk.ErrNoNode) {
			if err := c.cl.EnsurePath(ctx, path.Dir(c.path)); err != nil {
				return c.wrap(op, err)
			}
			_, err = guardedMulti(ctx, c.cl, g, zkclient.CreateOp{Path: c.path, Data: recovery.EncodeCheckpointCounter(f(recovery.FirstCheckpointID))})
			if errors.Is(err, zk.ErrNodeExists) {
				continue
			}
			if err != nil {
				return c.wrap(op, err)
			}
			return nil
		}
		if err != nil {
			return c.wrap(op, err)
		}
		cur, err := recovery.DecodeCheckpointCounter(data, c.path)
		if err != nil {
			return err
		}
		_, err = guardedMulti(ctx, c.cl, g, zkclient.SetOp{Path: c.path, Data: recovery.EncodeCheckpointCounter(f(cur)), Version: stat.Version})
		if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return c.wrap(op, err)
		}
		return nil
	}
	return fmt.Errorf("recovery: checkpoint ID counter %s: %s: gave up after %d conflicting updates", c.path, op, counterAttempts)
}

// Shutdown implements recovery.CheckpointIDCounter.
func (c *idCounter) Shutdown(ctx context.Context, g recovery.Guard, terminal bool) error {
	if !terminal {
		return nil
	}
	_, err := guardedMulti(ctx, c.cl, g, zkclient.DeleteOp{Path: c.path, Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return c.wrap("remove", err)
	}
	// The job's node /jobs/<job> goes too once nothing else of the job is under
	// it (its checkpoint store removes its own directory first).
	parent := path.Dir(c.path)
	_, err = guardedMulti(ctx, c.cl, g, zkclient.DeleteOp{Path: parent, Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrNotEmpty) {
		return c.wrap("remove "+parent, err)
	}
	return nil
}
