package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
)

// idCounter is the recovery.CheckpointIDCounter of high-availability NONE: a
// file <dir>/jobs/<job-id>/checkpoint_id_counter, written atomically.
type idCounter struct {
	mu   sync.Mutex
	st   hdfsstore.Store
	name string
}

var _ recovery.CheckpointIDCounter = (*idCounter)(nil)

// newIDCounter returns the checkpoint ID counter of jobID kept in dir.
func newIDCounter(ctx context.Context, dir, jobID string) (*idCounter, error) {
	if err := recovery.ValidateKey(jobID); err != nil {
		return nil, fmt.Errorf("recovery: checkpoint ID counter: job ID: %w", err)
	}
	st, err := hdfsstore.Open(ctx, hdfsstore.FileURI(dir))
	if err != nil {
		return nil, fmt.Errorf("recovery: checkpoint ID counter %s: %w", dir, err)
	}
	return &idCounter{st: st, name: recovery.CheckpointIDCounterPath(jobID)[1:]}, nil
}

func (c *idCounter) get(ctx context.Context) (int64, error) {
	b, err := hdfsstore.GetBytes(ctx, c.st, c.name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return recovery.FirstCheckpointID, nil
	case errors.Is(err, hdfsstore.ErrCorrupt):
		return 0, fmt.Errorf("%w: checkpoint ID counter %s: %w", recovery.ErrCorruptState, c.name, err)
	case err != nil:
		return 0, fmt.Errorf("recovery: checkpoint ID counter %s: %w", c.name, err)
	}
	return recovery.DecodeCheckpointCounter(b, c.name)
}

func (c *idCounter) set(ctx context.Context, g recovery.Guard, v int64) error {
	if err := g.Err(); err != nil {
		return fmt.Errorf("recovery: checkpoint ID counter %s: %w", c.name, err)
	}
	if _, err := hdfsstore.PutBytes(ctx, c.st, c.name, recovery.EncodeCheckpointCounter(v)); err != nil {
		return fmt.Errorf("recovery: checkpoint ID counter %s: %w", c.name, err)
	}
	return nil
}

// Get implements recovery.CheckpointIDCounter.
func (c *idCounter) Get(ctx context.Context) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.get(ctx)
}

// GetAndIncrement implements recovery.CheckpointIDCounter.
func (c *idCounter) GetAndIncrement(ctx context.Context, g recovery.Guard) (int64, error) {
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

// SetCount implements recovery.CheckpointIDCounter.
func (c *idCounter) SetCount(ctx context.Context, g recovery.Guard, next int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set(ctx, g, next)
}

// Shutdown implements recovery.CheckpointIDCounter.
func (c *idCounter) Shutdown(ctx context.Context, g recovery.Guard, terminal bool) error {
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
