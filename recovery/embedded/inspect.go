package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
)

// openPointerFiles opens the directory as a file:// store.
func (b *Backend) openPointerFiles(ctx context.Context) (hdfsstore.Store, error) {
	ptrs, err := hdfsstore.Open(ctx, hdfsstore.FileURI(b.dir), hdfsstore.WithLogger(b.log))
	if err != nil {
		return nil, fmt.Errorf("recovery: inspect: embedded directory %s: %w", b.dir, err)
	}
	return ptrs, nil
}

// Walk implements recovery.Inspectable: the connection_info files, the job graph
// and checkpoint pointer files with the locks the stores of this Backend hold, and
// the checkpoint ID counters. Paths are relative to the directory.
func (b *Backend) Walk(ctx context.Context, st hdfsstore.Store) ([]recovery.NodeReport, error) {
	var out []recovery.NodeReport
	// connection_info files: informational.
	leaderDir := filepath.Join(b.dir, "leader")
	comps, err := os.ReadDir(leaderDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("recovery: inspect: %s: %w", leaderDir, err)
	}
	for _, c := range comps {
		data, err := os.ReadFile(embeddedInfoPath(b.dir, c.Name()))
		if err != nil {
			continue
		}
		out = append(out, recovery.NodeReport{Kind: recovery.KindConnectionInfo, Path: "leader/" + c.Name() + "/" + infoFileName,
			Status: recovery.StatusInfo, Detail: strings.TrimSpace(string(data))})
	}
	ptrs, err := b.openPointerFiles(ctx)
	if err != nil {
		return nil, err
	}
	defer ptrs.Close()
	names, err := ptrs.List(ctx, storeDir(recovery.JobGraphsDir)+"/")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("recovery: inspect: list job graph pointers: %w", err)
	}
	jobNames, err := ptrs.List(ctx, "jobs/")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("recovery: inspect: list checkpoint pointers: %w", err)
	}
	for _, name := range append(names, jobNames...) {
		parts := strings.Split(name, "/")
		switch {
		case len(parts) == 2 && parts[0] == "jobgraphs":
			if n, ok := b.inspectPointer(ctx, ptrs, st, recovery.KindJobGraph, "", name); ok {
				out = append(out, n)
			}
		case len(parts) == 4 && parts[0] == "jobs" && parts[2] == "checkpoints":
			if n, ok := b.inspectPointer(ctx, ptrs, st, recovery.KindCheckpoint, parts[1], name); ok {
				out = append(out, n)
			}
		case len(parts) == 3 && parts[0] == "jobs" && "/"+name == recovery.CheckpointIDCounterPath(parts[1]):
			n := recovery.NodeReport{Kind: recovery.KindIDCounter, Path: name, JobID: parts[1], Status: recovery.StatusInfo}
			data, err := hdfsstore.GetBytes(ctx, ptrs, name)
			if err == nil {
				var v int64
				if v, err = recovery.DecodeCheckpointCounter(data, name); err == nil {
					n.Detail = fmt.Sprintf("next ID %d", v)
				}
			}
			if err != nil {
				n.Detail = err.Error()
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// inspectPointer inspects one pointer file (name relative to the directory); one
// removed meanwhile is left out.
func (b *Backend) inspectPointer(ctx context.Context, ptrs, st hdfsstore.Store, kind recovery.NodeKind, job, name string) (recovery.NodeReport, bool) {
	dir, key := path.Split(name)
	tbl := b.table(strings.TrimSuffix(dir, "/"))
	tbl.mu.Lock()
	holders := make([]recovery.LockHolder, 0, len(tbl.locks[key]))
	for id := range tbl.locks[key] {
		holders = append(holders, recovery.LockHolder{Instance: id.String(), Live: true})
	}
	tbl.mu.Unlock()
	slices.SortFunc(holders, func(a, b recovery.LockHolder) int { return strings.Compare(a.Instance, b.Instance) })
	n := recovery.NodeReport{Kind: kind, Path: name, JobID: job, Locks: holders}
	return n, readPointer(ctx, ptrs, st, &n)
}

// readPointer fills in the status of the pointer file n.Path; false when the
// file is gone.
func readPointer(ctx context.Context, ptrs, st hdfsstore.Store, n *recovery.NodeReport) bool {
	data, err := hdfsstore.GetBytes(ctx, ptrs, n.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false
	case errors.Is(err, hdfsstore.ErrCorrupt):
		n.Status, n.Detail = recovery.StatusUndecodable, err.Error()
	case err != nil:
		n.Status, n.Detail = recovery.StatusUnreadable, err.Error()
	default:
		recovery.CheckPointer(ctx, st, data, n)
	}
	return true
}

// RemovePointer implements recovery.Inspectable: it re-checks the pointer file
// under its lock table's mutex, which the stores of this Backend also take, and
// removes it only if no store holds a lock and it still names the same payload.
func (b *Backend) RemovePointer(ctx context.Context, st hdfsstore.Store, n recovery.NodeReport) (*recovery.NodeReport, string, error) {
	ptrs, err := b.openPointerFiles(ctx)
	if err != nil {
		return nil, "", err
	}
	defer ptrs.Close()
	dir, key := path.Split(n.Path)
	tbl := b.table(strings.TrimSuffix(dir, "/"))
	tbl.mu.Lock()
	defer tbl.mu.Unlock()
	if len(tbl.locks[key]) > 0 {
		return nil, "locked by a live instance", nil
	}
	// Re-read: a store may have replaced the pointer since the inspection.
	now := recovery.NodeReport{Kind: n.Kind, Path: n.Path, JobID: n.JobID}
	if !readPointer(ctx, ptrs, st, &now) {
		return nil, "removed by someone else meanwhile", nil
	}
	if !now.Cleanable() || now.Payload != n.Payload {
		return nil, "the pointer changed meanwhile", nil
	}
	if err := ptrs.Delete(ctx, n.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	return &now, "", nil
}
