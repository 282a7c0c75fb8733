package recovery

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery/zkclient"
)

// firstCheckpointID is the value of a counter that was never incremented.
const firstCheckpointID = 1

// counterAttempts bounds the compare-and-set retries of one increment.
const counterAttempts = 100

// CheckpointIDCounterPath is the counter node of a job.
func CheckpointIDCounterPath(jobID string) string { return "/jobs/" + jobID + "/checkpoint_id_counter" }

func encodeCount(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func decodeCount(b []byte, where string) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: checkpoint ID counter %s: %d bytes, want 8", ErrCorruptState, where, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// ZooKeeperIDCounter is the CheckpointIDCounter on ZooKeeper: the node holds the
// next ID as 8 bytes big-endian, changed by compare-and-set on the node version
// inside a guarded multi.
type ZooKeeperIDCounter struct {
	cl   *zkclient.Client
	path string
	log  zerolog.Logger
}

var _ CheckpointIDCounter = (*ZooKeeperIDCounter)(nil)

// NewZooKeeperIDCounter returns the checkpoint ID counter of jobID.
func NewZooKeeperIDCounter(cl *zkclient.Client, jobID string, log zerolog.Logger) (*ZooKeeperIDCounter, error) {
	if err := validateKey(jobID); err != nil {
		return nil, fmt.Errorf("recovery: checkpoint ID counter: job ID: %w", err)
	}
	p := CheckpointIDCounterPath(jobID)
	return &ZooKeeperIDCounter{cl: cl, path: p, log: log.With().Str(logging.Job, jobID).Str(logging.ZKPath, p).Logger()}, nil
}

func (c *ZooKeeperIDCounter) connected(op string) error {
	if !c.cl.Connected() {
		return fmt.Errorf("recovery: checkpoint ID counter %s: %s: %w", c.path, op, ErrNotConnected)
	}
	return nil
}

// wrap turns connection failures into ErrNotConnected.
func (c *ZooKeeperIDCounter) wrap(op string, err error) error {
	if errors.Is(err, zkclient.ErrConnectionLoss) || errors.Is(err, zkclient.ErrNotConnected) || errors.Is(err, zkclient.ErrClosed) {
		return fmt.Errorf("recovery: checkpoint ID counter %s: %s: %w: %w", c.path, op, ErrNotConnected, err)
	}
	return fmt.Errorf("recovery: checkpoint ID counter %s: %s: %w", c.path, op, err)
}

// Get implements CheckpointIDCounter.
func (c *ZooKeeperIDCounter) Get(ctx context.Context) (int64, error) {
	if err := c.connected("get"); err != nil {
		return 0, err
	}
	data, _, err := c.cl.Get(ctx, c.path)
	if errors.Is(err, zk.ErrNoNode) {
		return firstCheckpointID, nil
	}
	if err != nil {
		return 0, c.wrap("get", err)
	}
	return decodeCount(data, c.path)
}

// GetAndIncrement implements CheckpointIDCounter.
func (c *ZooKeeperIDCounter) GetAndIncrement(ctx context.Context, g Guard) (int64, error) {
	var got int64
	if err := c.update(ctx, g, "increment", func(cur int64) int64 { got = cur; return cur + 1 }); err != nil {
		return 0, err
	}
	return got, nil
}

// SetCount implements CheckpointIDCounter.
func (c *ZooKeeperIDCounter) SetCount(ctx context.Context, g Guard, next int64) error {
	return c.update(ctx, g, "set", func(int64) int64 { return next })
}

// update applies f by compare-and-set, retrying when another writer got in first.
func (c *ZooKeeperIDCounter) update(ctx context.Context, g Guard, op string, f func(int64) int64) error {
	for range counterAttempts {
		if err := c.connected(op); err != nil {
			return err
		}
		data, stat, err := c.cl.Get(ctx, c.path)
		if errors.Is(err, zk.ErrNoNode) {
			if err := c.cl.EnsurePath(ctx, path.Dir(c.path)); err != nil {
				return c.wrap(op, err)
			}
			_, err = GuardedMulti(ctx, c.cl, g, zkclient.CreateOp{Path: c.path, Data: encodeCount(f(firstCheckpointID))})
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
		cur, err := decodeCount(data, c.path)
		if err != nil {
			return err
		}
		_, err = GuardedMulti(ctx, c.cl, g, zkclient.SetOp{Path: c.path, Data: encodeCount(f(cur)), Version: stat.Version})
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

// Shutdown implements CheckpointIDCounter.
func (c *ZooKeeperIDCounter) Shutdown(ctx context.Context, g Guard, terminal bool) error {
	if !terminal {
		return nil
	}
	_, err := GuardedMulti(ctx, c.cl, g, zkclient.DeleteOp{Path: c.path, Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return c.wrap("remove", err)
	}
	return nil
}

// EmbeddedIDCounter is the CheckpointIDCounter of high-availability NONE: a file
// <local-dir>/jobs/<job-id>/checkpoint_id_counter, written atomically.
type EmbeddedIDCounter struct {
	mu   sync.Mutex
	st   hdfsstore.Store
	name string
}

var _ CheckpointIDCounter = (*EmbeddedIDCounter)(nil)

// NewEmbeddedIDCounter returns the checkpoint ID counter of jobID kept in local.
func NewEmbeddedIDCounter(ctx context.Context, local *EmbeddedDir, jobID string) (*EmbeddedIDCounter, error) {
	if err := validateKey(jobID); err != nil {
		return nil, fmt.Errorf("recovery: checkpoint ID counter: job ID: %w", err)
	}
	st, err := hdfsstore.Open(ctx, hdfsstore.FileURI(local.Path()))
	if err != nil {
		return nil, fmt.Errorf("recovery: checkpoint ID counter %s: %w", local.Path(), err)
	}
	return &EmbeddedIDCounter{st: st, name: CheckpointIDCounterPath(jobID)[1:]}, nil
}

func (c *EmbeddedIDCounter) get(ctx context.Context) (int64, error) {
	b, err := hdfsstore.GetBytes(ctx, c.st, c.name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return firstCheckpointID, nil
	case errors.Is(err, hdfsstore.ErrCorrupt):
		return 0, fmt.Errorf("%w: checkpoint ID counter %s: %w", ErrCorruptState, c.name, err)
	case err != nil:
		return 0, fmt.Errorf("recovery: checkpoint ID counter %s: %w", c.name, err)
	}
	return decodeCount(b, c.name)
}

func (c *EmbeddedIDCounter) set(ctx context.Context, g Guard, v int64) error {
	if err := g.Err(); err != nil {
		return fmt.Errorf("recovery: checkpoint ID counter %s: %w", c.name, err)
	}
	if _, err := hdfsstore.PutBytes(ctx, c.st, c.name, encodeCount(v)); err != nil {
		return fmt.Errorf("recovery: checkpoint ID counter %s: %w", c.name, err)
	}
	return nil
}

// Get implements CheckpointIDCounter.
func (c *EmbeddedIDCounter) Get(ctx context.Context) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.get(ctx)
}

// GetAndIncrement implements CheckpointIDCounter.
func (c *EmbeddedIDCounter) GetAndIncrement(ctx context.Context, g Guard) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := c.get(ctx)
	if err != nil {
		return 0, err
	}
	if err := c.set(ctx, g, v+1); err != nil {
		return 0, err
	}
	return v, nil
}

// SetCount implements CheckpointIDCounter.
func (c *EmbeddedIDCounter) SetCount(ctx context.Context, g Guard, next int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set(ctx, g, next)
}

// Shutdown implements CheckpointIDCounter.
func (c *EmbeddedIDCounter) Shutdown(ctx context.Context, g Guard, terminal bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if terminal {
		if err := g.Err(); err != nil {
			return fmt.Errorf("recovery: checkpoint ID counter %s: %w", c.name, err)
		}
		if err := c.st.Delete(ctx, c.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("recovery: checkpoint ID counter %s: %w", c.name, err)
		}
	}
	return c.st.Close()
}
