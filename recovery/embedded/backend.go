package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
)

// Backend is the embedded recovery.Backend (high-availability.type NONE): one
// local directory holds the election's lock file, the leaders' connection_info
// files, the pointer files and the checkpoint ID counters, and the lock tables of
// the pointer stores live in the Backend.
//
// Every store of one cluster in one process must come from one Backend, so their
// instances see each other's locks.
type Backend struct {
	dir string // absolute
	el  *election
	log zerolog.Logger

	mu     sync.Mutex
	tables map[string]*lockTable // pointer directory → its lock table
}

var _ recovery.Backend = (*Backend)(nil)

// Open names the backend's directory (made absolute; created on first use), for
// one cluster: <local-dir>/<cluster-id>.
func Open(dir string, log zerolog.Logger) (*Backend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("recovery: embedded directory %s: %w", dir, err)
	}
	return &Backend{dir: abs, el: newElection(abs, log), log: log, tables: map[string]*lockTable{}}, nil
}

// table returns the lock table of a pointer directory.
func (b *Backend) table(dir string) *lockTable {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tables[dir]
	if t == nil {
		t = &lockTable{locks: map[string]map[uuid.UUID]struct{}{}}
		b.tables[dir] = t
	}
	return t
}

// Name implements recovery.Inspectable.
func (b *Backend) Name() string { return "embedded" }

// PathKey implements recovery.Inspectable: reported paths are files.
func (b *Backend) PathKey() string { return logging.File }

// Election implements recovery.Backend: a flock on <dir>/leader.lock.
func (b *Backend) Election() recovery.LeaderElection { return b.el }

// Retrieve implements recovery.LeaderRetriever: it polls the component's
// connection_info file and treats a file whose process is gone as no leader.
func (b *Backend) Retrieve(ctx context.Context, component string, notify func(recovery.LeaderInfo)) error {
	return retrieve(ctx, b.dir, component, notify)
}

// PointerStore implements recovery.Backend.
func (b *Backend) PointerStore(ctx context.Context, cfg recovery.PointerStoreConfig) (recovery.PointerStore, error) {
	return newPointerStore(ctx, b, cfg)
}

// CheckpointIDCounter implements recovery.Backend.
func (b *Backend) CheckpointIDCounter(ctx context.Context, jobID string) (recovery.CheckpointIDCounter, error) {
	return newIDCounter(ctx, b.dir, jobID)
}

// RemoveAll implements recovery.Backend: the whole directory goes.
func (b *Backend) RemoveAll(context.Context) error {
	if err := os.RemoveAll(b.dir); err != nil {
		return fmt.Errorf("recovery: remove embedded directory: %w", err)
	}
	return nil
}

// Close implements recovery.Backend; there is nothing to release (the election's
// lock goes when its Run returns).
func (b *Backend) Close() error { return nil }
