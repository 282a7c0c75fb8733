package zkha

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"

	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// errLeaderPresent: a cleanup was refused because a leader latch node exists, i.e.
// an AM of the cluster may still be running.
var errLeaderPresent = errors.New("recovery: a leader latch node exists")

// cleanupAttempts bounds how often one node's deletion is retried when children
// appear under it meanwhile.
const cleanupAttempts = 5

// cleanupZooKeeper deletes every znode of a cluster: everything under cl's chroot
// (<path.root>/<cluster-id>), deepest first, then the chroot node itself. Other
// clusters' nodes stay. Nothing to delete is not an error; it is safe to repeat
// after a failure.
//
// Unless force, it refuses with errLeaderPresent while a node exists under
// /leader/latch (an AM may still run and write), checked before anything is
// deleted and again when the walk reaches the latch; force deletes the latch
// nodes too. The check is advisory: stop the application first. A node created
// while the walk runs may survive or make the call fail; repeat it.
//
// With force it is Backend.RemoveAll, the ZooKeeper half of
// recovery.Services.CloseAndCleanupAllData.
func cleanupZooKeeper(ctx context.Context, cl *zkclient.Client, force bool) error {
	if cl.Root() == "" {
		return errors.New("recovery: clean up zookeeper: the client has no chroot: refusing to delete the whole tree")
	}
	if !force {
		if err := refuseLeader(ctx, cl); err != nil {
			return err
		}
	}
	if err := deleteTree(ctx, cl, "/", force); err != nil {
		return fmt.Errorf("recovery: clean up zookeeper %s: %w", cl.Root(), err)
	}
	return nil
}

func refuseLeader(ctx context.Context, cl *zkclient.Client) error {
	latch, _, err := cl.Children(ctx, latchDir)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil
	case err != nil:
		return fmt.Errorf("recovery: clean up zookeeper %s: check the leader latch: %w", cl.Root(), err)
	case len(latch) > 0:
		return fmt.Errorf("%w: %s%s/%s (and %d more): stop the application first, or force",
			errLeaderPresent, cl.Root(), latchDir, latch[0], len(latch)-1)
	}
	return nil
}

// deleteTree deletes p and everything below it, deepest first.
func deleteTree(ctx context.Context, cl *zkclient.Client, p string, force bool) error {
	for range cleanupAttempts {
		kids, _, err := cl.Children(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", p, err)
		}
		if p == latchDir && len(kids) > 0 && !force {
			return fmt.Errorf("%w: %s%s/%s appeared: stop the application first, or force", errLeaderPresent, cl.Root(), p, kids[0])
		}
		for _, k := range kids {
			child := p + "/" + k
			if p == "/" {
				child = "/" + k
			}
			if err := deleteTree(ctx, cl, child, force); err != nil {
				return err
			}
		}
		err = cl.Delete(ctx, p, -1)
		switch {
		case err == nil, errors.Is(err, zk.ErrNoNode):
			return nil
		case errors.Is(err, zk.ErrNotEmpty):
			continue // a child appeared meanwhile: go again
		default:
			return fmt.Errorf("delete %s: %w", p, err)
		}
	}
	return fmt.Errorf("delete %s: children kept appearing (%d attempts)", p, cleanupAttempts)
}
