package zkha

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-zookeeper/zk"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// zkChildren lists children, sorted; a missing parent has none.
func zkChildren(ctx context.Context, cl *zkclient.Client, p string) ([]string, error) {
	names, _, err := cl.Children(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recovery: inspect: list %s: %w", p, err)
	}
	slices.Sort(names)
	return names, nil
}

// Walk implements recovery.Inspectable: the leader latch and connection_info
// nodes, the job graph pointers, and per job the checkpoint pointers and the ID
// counter. A lock child of this backend's own session is reported as ours.
func (b *Backend) Walk(ctx context.Context, st hdfsstore.Store) ([]recovery.NodeReport, error) {
	cl := b.cl
	ours := cl.Session().ID
	var out []recovery.NodeReport
	// Leader latch and connection_info: informational.
	latch, err := zkChildren(ctx, cl, latchDir)
	if err != nil {
		return nil, err
	}
	for _, n := range latch {
		p := latchDir + "/" + n
		ok, stat, err := cl.Exists(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("recovery: inspect: %s: %w", p, err)
		}
		if !ok {
			continue
		}
		detail := fmt.Sprintf("session 0x%x", stat.EphemeralOwner)
		if stat.EphemeralOwner == ours {
			detail += " (ours)"
		}
		out = append(out, recovery.NodeReport{Kind: recovery.KindLatch, Path: p, Status: recovery.StatusInfo, Detail: detail})
	}
	components, err := zkChildren(ctx, cl, leaderDir)
	if err != nil {
		return nil, err
	}
	for _, c := range components {
		if "/leader/"+c == latchDir {
			continue
		}
		p := ConnectionInfoPath(c)
		data, _, err := cl.Get(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("recovery: inspect: %s: %w", p, err)
		}
		out = append(out, recovery.NodeReport{Kind: recovery.KindConnectionInfo, Path: p, Status: recovery.StatusInfo, Detail: string(data)})
	}
	// Job graphs.
	keys, err := zkChildren(ctx, cl, recovery.JobGraphsDir)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if out, err = b.walkPointer(ctx, st, out, recovery.KindJobGraph, "", recovery.JobGraphsDir, k); err != nil {
			return nil, err
		}
	}
	// Checkpoints and counters per job.
	jobs, err := zkChildren(ctx, cl, "/jobs")
	if err != nil {
		return nil, err
	}
	for _, job := range jobs {
		dir := recovery.CheckpointsDir(job)
		keys, err := zkChildren(ctx, cl, dir)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if out, err = b.walkPointer(ctx, st, out, recovery.KindCheckpoint, job, dir, k); err != nil {
				return nil, err
			}
		}
		p := recovery.CheckpointIDCounterPath(job)
		data, _, err := cl.Get(ctx, p)
		switch {
		case errors.Is(err, zk.ErrNoNode):
		case err != nil:
			return nil, fmt.Errorf("recovery: inspect: %s: %w", p, err)
		default:
			n := recovery.NodeReport{Kind: recovery.KindIDCounter, Path: p, JobID: job, Status: recovery.StatusInfo}
			if v, err := recovery.DecodeCheckpointCounter(data, p); err != nil {
				n.Detail = err.Error()
			} else {
				n.Detail = fmt.Sprintf("next ID %d", v)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// walkPointer appends the report of one pointer node; one removed meanwhile is
// left out.
func (b *Backend) walkPointer(ctx context.Context, st hdfsstore.Store, out []recovery.NodeReport, kind recovery.NodeKind, job, dir, key string) ([]recovery.NodeReport, error) {
	n, ok, err := b.inspectPointer(ctx, st, kind, job, dir+"/"+key)
	if err != nil || !ok {
		return out, err
	}
	return append(out, n), nil
}

func (b *Backend) inspectPointer(ctx context.Context, st hdfsstore.Store, kind recovery.NodeKind, job, p string) (recovery.NodeReport, bool, error) {
	cl := b.cl
	data, stat, err := cl.Get(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return recovery.NodeReport{}, false, nil
	}
	if err != nil {
		return recovery.NodeReport{}, false, fmt.Errorf("recovery: inspect: %s: %w", p, err)
	}
	n := recovery.NodeReport{Kind: kind, Path: p, JobID: job, Version: int64(stat.Version)}
	holders, _, err := cl.Children(ctx, p+"/locks")
	switch {
	case errors.Is(err, zk.ErrNoNode):
		n.Marked = true
	case err != nil:
		return recovery.NodeReport{}, false, fmt.Errorf("recovery: inspect: %s/locks: %w", p, err)
	}
	slices.Sort(holders)
	ours := cl.Session().ID
	for _, h := range holders {
		ok, lst, err := cl.Exists(ctx, p+"/locks/"+h)
		if err != nil {
			return recovery.NodeReport{}, false, fmt.Errorf("recovery: inspect: %s/locks/%s: %w", p, h, err)
		}
		if !ok {
			continue // released meanwhile
		}
		n.Locks = append(n.Locks, recovery.LockHolder{Instance: h, Session: lst.EphemeralOwner,
			Live: lst.EphemeralOwner != 0, Ours: lst.EphemeralOwner != 0 && lst.EphemeralOwner == ours})
	}
	recovery.CheckPointer(ctx, st, data, &n)
	return n, true, nil
}

// RemovePointer implements recovery.Inspectable: one multi-op deletes the lock
// children seen, the locks container (failing if a lock appeared since) and the
// pointer at the version seen (failing if it was replaced since).
func (b *Backend) RemovePointer(ctx context.Context, _ hdfsstore.Store, n recovery.NodeReport) (*recovery.NodeReport, string, error) {
	var ops []zkclient.Op
	if !n.Marked {
		if n.LockedByOther() {
			return nil, "locked by a live instance", nil
		}
		for _, l := range n.Locks {
			ops = append(ops, zkclient.DeleteOp{Path: n.Path + "/locks/" + l.Instance, Version: -1})
		}
		// Fails with ErrNotEmpty if a lock appeared since the inspection.
		ops = append(ops, zkclient.DeleteOp{Path: n.Path + "/locks", Version: -1})
	}
	// Fails with ErrBadVersion if the pointer was replaced since.
	ops = append(ops, zkclient.DeleteOp{Path: n.Path, Version: int32(n.Version)})
	_, err := b.cl.Multi(ctx, ops...)
	switch {
	case errors.Is(err, zk.ErrNotEmpty):
		return nil, "a lock (or another child) appeared meanwhile", nil
	case errors.Is(err, zk.ErrBadVersion):
		return nil, "the pointer changed meanwhile", nil
	case errors.Is(err, zk.ErrNoNode):
		return nil, "removed or changed by someone else meanwhile", nil
	case err != nil:
		return nil, "", err
	}
	return &n, "", nil
}
