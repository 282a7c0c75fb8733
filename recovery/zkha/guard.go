package zkha

import (
	"context"
	"errors"
	"fmt"

	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// latchGuard is a Guard this backend can check on the server: its own grants,
// which know their latch node.
type latchGuard interface {
	recovery.Guard
	guardOps() []zkclient.Op
}

// guardOps returns the operations a multi must include for a write on behalf of g
// to apply only while g's leadership is held: a version check on its latch node.
// A Guard that is not this backend's own adds none; only its Err is checked.
func guardOps(g recovery.Guard) []zkclient.Op {
	if lg, ok := g.(latchGuard); ok {
		return lg.guardOps()
	}
	return nil
}

// guardedMulti applies ops in one multi together with g's guard operations. If the
// guard fails the error is recovery.ErrNotLeader and nothing was applied.
func guardedMulti(ctx context.Context, cl *zkclient.Client, g recovery.Guard, ops ...zkclient.Op) ([]string, error) {
	if err := g.Err(); err != nil {
		return nil, err
	}
	guard := guardOps(g)
	all := make([]zkclient.Op, 0, len(guard)+len(ops))
	all = append(all, guard...)
	all = append(all, ops...)
	created, err := cl.Multi(ctx, all...)
	var me *zkclient.MultiError
	if errors.As(err, &me) && me.Index < len(guard) {
		return nil, fmt.Errorf("%w: leader session %s: latch check failed: %v", recovery.ErrNotLeader, g.SessionID(), me.Err)
	}
	if err != nil {
		return nil, err
	}
	return created[len(guard):], nil
}

// CheckLeadership implements recovery.LeadershipChecker: a multi of g's latch
// check alone, which the server refuses once g's latch node is gone or replaced.
// A Guard that is not this backend's own is checked through its Err only.
func (b *Backend) CheckLeadership(ctx context.Context, g recovery.Guard) error {
	if len(guardOps(g)) == 0 {
		return g.Err()
	}
	if _, err := guardedMulti(ctx, b.cl, g); err != nil {
		return fmt.Errorf("zookeeper: check leadership of session %s: %w", g.SessionID(), err)
	}
	return nil
}

var _ recovery.LeadershipChecker = (*Backend)(nil)
