package recovery

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/amkeeper/amkeeper/recovery/zkclient"
)

// Sentinel errors, prefixed with the package name.
var (
	// ErrNotLeader: the write was made on behalf of a leadership that is no longer
	// held. Nothing was changed.
	ErrNotLeader = errors.New("recovery: not leader")
	// ErrDanglingPointer: a pointer names a payload that is not in storage. The
	// error also matches fs.ErrNotExist.
	ErrDanglingPointer = errors.New("recovery: dangling pointer")
	// ErrCorruptState: a payload does not match its pointer's size or checksum, or
	// cannot be decoded.
	ErrCorruptState = errors.New("recovery: corrupt state")
	// ErrLocked: a global remove was refused because another instance holds a lock.
	ErrLocked = errors.New("recovery: locked by another instance")
	// ErrNotConnected: the operation refuses to work without a live ZooKeeper
	// connection (the checkpoint ID counter cannot guarantee monotonicity then).
	ErrNotConnected = errors.New("recovery: not connected to zookeeper")
)

// Guard fences a write made on behalf of a leader. Leadership grants implement it.
//
// Implementations are safe for concurrent use.
type Guard interface {
	// SessionID is the leader session ID of the grant (the fencing token).
	SessionID() uuid.UUID
	// Err returns nil while the grant is held and ErrNotLeader (wrapped) after.
	Err() error
	// GuardOps returns the operations a ZooKeeper multi must include for the write
	// to apply only while the grant is held (a version check on the latch node).
	// Embedded grants return none.
	GuardOps() []zkclient.Op
}

// GuardedMulti applies ops in one multi together with g's guard operations. If the
// guard fails the error is ErrNotLeader and nothing was applied.
func GuardedMulti(ctx context.Context, cl *zkclient.Client, g Guard, ops ...zkclient.Op) ([]string, error) {
	if err := g.Err(); err != nil {
		return nil, err
	}
	guard := g.GuardOps()
	all := make([]zkclient.Op, 0, len(guard)+len(ops))
	all = append(all, guard...)
	all = append(all, ops...)
	created, err := cl.Multi(ctx, all...)
	var me *zkclient.MultiError
	if errors.As(err, &me) && me.Index < len(guard) {
		return nil, fmt.Errorf("%w: leader session %s: latch check failed: %v", ErrNotLeader, g.SessionID(), me.Err)
	}
	if err != nil {
		return nil, err
	}
	return created[len(guard):], nil
}
