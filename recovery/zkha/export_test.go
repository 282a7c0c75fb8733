package zkha

import (
	"github.com/google/uuid"

	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// Unexported names for this package's (external) tests.

var (
	GuardedMulti     = guardedMulti
	GuardOps         = guardOps
	CleanupZooKeeper = cleanupZooKeeper
	ErrLeaderPresent = errLeaderPresent
	NewBackend       = newBackend
)

// Client returns the backend's ZooKeeper client.
func (b *Backend) Client() *zkclient.Client { return b.cl }

// NodeGuard is a test-only leadership that this backend recognises as its own: an
// ephemeral node (of a session of the test's), checked at version 0 by every
// guarded write. Deposing it means deleting the node or ending its session; its
// Err stays nil, so the multi-op check is what fences.
type NodeGuard struct {
	Path string
	ID   uuid.UUID
}

func (g NodeGuard) SessionID() uuid.UUID { return g.ID }
func (g NodeGuard) Err() error           { return nil }
func (g NodeGuard) guardOps() []zkclient.Op {
	return []zkclient.Op{zkclient.CheckOp{Path: g.Path, Version: 0}}
}
