package recovery

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// Sentinel errors, prefixed with the package name. The backends return them (wrapped)
// and convert their own errors to them at their boundary, so callers never test a
// backend's errors.
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
	// ErrNotConnected: the operation refuses to work without a live connection to
	// the backend (the checkpoint ID counter cannot guarantee monotonicity then).
	ErrNotConnected = errors.New("recovery: not connected")
)

// Guard fences a write made on behalf of a leader. It is opaque: the grants of a
// backend's LeaderElection implement it, and that backend's stores recognise their
// own grants. The ZooKeeper backend checks its grant's latch node inside the
// write's multi-op, so a deposed leader's write applies nothing even if the
// leader has not noticed yet; the embedded backend checks Err under its store's
// lock. A Guard a backend does not recognise (another backend's, a test's) is
// checked only through Err.
//
// Implementations are safe for concurrent use.
type Guard interface {
	// SessionID is the leader session ID of the grant (the fencing token).
	SessionID() uuid.UUID
	// Err returns nil while the grant is held and ErrNotLeader (wrapped) after.
	Err() error
}

// LeadershipChecker is an optional Backend capability: CheckLeadership asks the
// backend's server (not the process's own view, which a paused process has not
// updated) whether g still holds its leadership, with a guarded operation that
// changes nothing. It returns nil while it does and an error matching
// ErrNotLeader, or the backend's error, otherwise. A side effect outside the
// backend (a file in storage) made right after a nil answer is fenced as well as
// such a side effect can be: a process paused exactly between the two is not.
type LeadershipChecker interface {
	CheckLeadership(ctx context.Context, g Guard) error
}
