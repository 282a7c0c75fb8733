package zkha

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// putAttempts bounds how often Put retries after losing a race on the node.
const putAttempts = 5

// listParallelism bounds the lock-container checks Keys keeps in flight at once.
const listParallelism = 128

// pointerStore is the ZooKeeper recovery.PointerStore (Flink's
// ZooKeeperStateHandleStore): node <dir>/<key> holds a recovery.Pointer,
// <dir>/<key>/locks the lock children of the instances using it. A key is marked
// for deletion when its locks container is gone.
type pointerStore struct {
	cl  *zkclient.Client
	st  hdfsstore.Store
	cfg recovery.PointerStoreConfig
	log zerolog.Logger
}

var (
	_ recovery.PointerStore = (*pointerStore)(nil)
	_ recovery.DirRemover   = (*pointerStore)(nil)
)

// newPointerStore returns a PointerStore on ZooKeeper. Nothing is created until
// the first Put.
func newPointerStore(cl *zkclient.Client, cfg recovery.PointerStoreConfig) *pointerStore {
	cfg.Dir = path.Clean("/" + cfg.Dir)
	return &pointerStore{cl: cl, st: cfg.Storage, cfg: cfg,
		log: cfg.Logger.With().Str(logging.ZKPath, cfg.Dir).Logger()}
}

func (s *pointerStore) node(key string) string  { return s.cfg.Dir + "/" + key }
func (s *pointerStore) locks(key string) string { return s.node(key) + "/locks" }
func (s *pointerStore) lock(key string) string {
	return s.locks(key) + "/" + s.cfg.Instance.String()
}

// definite reports whether a failed multi certainly applied nothing.
func definite(err error) bool {
	var me *zkclient.MultiError
	return errors.As(err, &me) || errors.Is(err, recovery.ErrNotLeader)
}

// Put implements recovery.PointerStore.
func (s *pointerStore) Put(ctx context.Context, g recovery.Guard, key string, payload []byte) error {
	if err := recovery.ValidateKey(key); err != nil {
		return err
	}
	if err := g.Err(); err != nil {
		return fmt.Errorf("recovery: put %s: %w", s.node(key), err)
	}
	var err error
	for range putAttempts {
		var data []byte
		var stat *zk.Stat
		data, stat, err = s.cl.Get(ctx, s.node(key))
		switch {
		case errors.Is(err, zk.ErrNoNode):
			err = s.add(ctx, g, key, payload)
			if errors.Is(err, zk.ErrNodeExists) {
				continue
			}
			return err
		case err != nil:
			return fmt.Errorf("recovery: put %s: %w", key, err)
		}
		var marked bool
		if marked, err = s.marked(ctx, key); err != nil {
			return fmt.Errorf("recovery: put %s: %w", key, err)
		}
		if marked {
			if err = s.finishRemove(ctx, g, key, data); err != nil {
				return err
			}
			continue
		}
		err = s.replace(ctx, g, key, data, stat.Version, payload)
		if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) {
			continue
		}
		return err
	}
	return fmt.Errorf("recovery: put %s: gave up after %d races: %w", s.node(key), putAttempts, err)
}

func (s *pointerStore) add(ctx context.Context, g recovery.Guard, key string, payload []byte) error {
	p, err := recovery.WriteState(ctx, s.st, s.cfg.PayloadName(key), payload)
	if err != nil {
		return err
	}
	ops := []zkclient.Op{
		zkclient.CreateOp{Path: s.node(key), Data: p.StampedBy(g).Encode()},
		zkclient.CreateOp{Path: s.locks(key)},
		zkclient.CreateOp{Path: s.lock(key), Flags: zk.FlagEphemeral},
	}
	_, err = guardedMulti(ctx, s.cl, g, ops...)
	if errors.Is(err, zk.ErrNoNode) { // the directory is missing
		if err = s.cl.EnsurePath(ctx, s.cfg.Dir); err == nil {
			_, err = guardedMulti(ctx, s.cl, g, ops...)
		}
	}
	if err != nil {
		s.dropUnpublished(ctx, err, p)
		return fmt.Errorf("recovery: add %s: %w", s.node(key), err)
	}
	return nil
}

// dropUnpublished deletes a payload whose pointer write certainly failed; when
// the outcome is unknown it stays (an orphan at worst, never a dangling pointer).
func (s *pointerStore) dropUnpublished(ctx context.Context, err error, p recovery.Pointer) {
	if !definite(err) {
		s.log.Warn().Str(logging.File, p.Path).Err(err).Msg("pointer write outcome unknown: keeping its payload")
		return
	}
	if derr := recovery.DeletePayload(context.WithoutCancel(ctx), s.st, p.Path); derr != nil {
		s.log.Warn().Err(derr).Msg("cannot delete an unpublished payload (orphan)")
	}
}

func (s *pointerStore) replace(ctx context.Context, g recovery.Guard, key string, old []byte, version int32, payload []byte) error {
	p, err := recovery.WriteState(ctx, s.st, s.cfg.PayloadName(key), payload)
	if err != nil {
		return err
	}
	_, err = guardedMulti(ctx, s.cl, g,
		zkclient.CheckOp{Path: s.locks(key), Version: -1},
		zkclient.SetOp{Path: s.node(key), Data: p.StampedBy(g).Encode(), Version: version})
	if err != nil {
		s.dropUnpublished(ctx, err, p)
		return fmt.Errorf("recovery: replace %s: %w", s.node(key), err)
	}
	if derr := s.cfg.DeletePointed(ctx, key, s.node(key), old); derr != nil {
		s.log.Warn().Err(derr).Msg("cannot delete a replaced payload (orphan)")
	}
	if err := s.takeLock(ctx, key); err != nil {
		return fmt.Errorf("recovery: replace %s: %w", s.node(key), err)
	}
	return nil
}

// takeLock creates this instance's lock child; one already there is fine. Locks
// taken at once (a new leader recovering every job) share multi-ops.
func (s *pointerStore) takeLock(ctx context.Context, key string) error {
	err := s.cl.CreateCoalesced(ctx, s.lock(key), nil, zk.FlagEphemeral)
	switch {
	case errors.Is(err, zk.ErrNodeExists):
		return nil
	case errors.Is(err, zk.ErrNoNode):
		return fmt.Errorf("lock %s: %w", key, recovery.ErrNotFound)
	}
	return err
}

func (s *pointerStore) marked(ctx context.Context, key string) (bool, error) {
	ok, _, err := s.cl.Exists(ctx, s.locks(key))
	return !ok, err
}

// Get implements recovery.PointerStore.
func (s *pointerStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := recovery.ValidateKey(key); err != nil {
		return nil, err
	}
	// The two reads go out together: the client pipelines them.
	var marked bool
	var merr error
	done := make(chan struct{})
	go func() { defer close(done); marked, merr = s.marked(ctx, key) }()
	data, _, err := s.cl.GetCoalesced(ctx, s.node(key))
	<-done
	if errors.Is(err, zk.ErrNoNode) || (err == nil && merr == nil && marked) {
		return nil, fmt.Errorf("recovery: get %s: %w", s.node(key), recovery.ErrNotFound)
	}
	if err == nil {
		err = merr
	}
	if err != nil {
		return nil, fmt.Errorf("recovery: get %s: %w", s.node(key), err)
	}
	return s.read(ctx, key, data)
}

func (s *pointerStore) read(ctx context.Context, key string, data []byte) ([]byte, error) {
	b, err := s.cfg.ReadPointed(ctx, key, s.node(key), data)
	if err != nil {
		return nil, fmt.Errorf("recovery: %w", err)
	}
	return b, nil
}

// GetAndLock implements recovery.PointerStore.
func (s *pointerStore) GetAndLock(ctx context.Context, key string) ([]byte, error) {
	if err := recovery.ValidateKey(key); err != nil {
		return nil, err
	}
	if err := s.takeLock(ctx, key); err != nil {
		return nil, fmt.Errorf("recovery: get %s: %w", s.node(key), err)
	}
	data, _, err := s.cl.GetCoalesced(ctx, s.node(key))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, fmt.Errorf("recovery: get %s: %w", s.node(key), recovery.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("recovery: get %s: %w", s.node(key), err)
	}
	return s.read(ctx, key, data)
}

// GetAll implements recovery.PointerStore.
func (s *pointerStore) GetAll(ctx context.Context, keys []string, lock bool) []recovery.Entry {
	if lock {
		return recovery.GetAll(ctx, keys, s.GetAndLock)
	}
	return recovery.GetAll(ctx, keys, s.Get)
}

// children lists the raw children of the directory (marked ones included).
func (s *pointerStore) children(ctx context.Context) ([]string, error) {
	names, err := s.cl.ChildrenCoalesced(ctx, s.cfg.Dir)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recovery: list %s: %w", s.cfg.Dir, err)
	}
	return names, nil
}

// Keys implements recovery.PointerStore.
func (s *pointerStore) Keys(ctx context.Context) ([]string, error) {
	names, err := s.children(ctx)
	if err != nil {
		return nil, err
	}
	return s.visible(ctx, names)
}

// Names implements recovery.PointerStore.
func (s *pointerStore) Names(ctx context.Context) ([]string, error) {
	names, err := s.children(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// visible filters out the keys marked for deletion, checking them concurrently.
func (s *pointerStore) visible(ctx context.Context, names []string) ([]string, error) {
	keep := make([]bool, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, listParallelism)
	var wg sync.WaitGroup
	for i, n := range names {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, err := s.marked(ctx, n)
			keep[i], errs[i] = !m, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("recovery: list %s: %w", s.cfg.Dir, err)
	}
	out := make([]string, 0, len(names))
	for i, n := range names {
		if keep[i] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Release implements recovery.PointerStore.
func (s *pointerStore) Release(ctx context.Context, key string) error {
	if err := recovery.ValidateKey(key); err != nil {
		return err
	}
	if err := s.cl.Delete(ctx, s.lock(key), -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("recovery: release %s: %w", s.node(key), err)
	}
	return nil
}

// ReleaseAll implements recovery.PointerStore.
func (s *pointerStore) ReleaseAll(ctx context.Context) error {
	names, err := s.children(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range recovery.GetAll(ctx, names, func(ctx context.Context, k string) ([]byte, error) {
		return nil, s.Release(ctx, k)
	}) {
		errs = append(errs, e.Err)
	}
	return errors.Join(errs...)
}

// ReleaseAndTryRemove implements recovery.PointerStore.
func (s *pointerStore) ReleaseAndTryRemove(ctx context.Context, g recovery.Guard, key string) error {
	if err := recovery.ValidateKey(key); err != nil {
		return err
	}
	if err := g.Err(); err != nil {
		return fmt.Errorf("recovery: remove %s: %w", s.node(key), err)
	}
	for range putAttempts {
		data, _, err := s.cl.Get(ctx, s.node(key))
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("recovery: remove %s: %w", s.node(key), err)
		}
		holders, _, err := s.cl.Children(ctx, s.locks(key))
		if errors.Is(err, zk.ErrNoNode) {
			return s.finishRemove(ctx, g, key, data) // marked already
		}
		if err != nil {
			return fmt.Errorf("recovery: remove %s: %w", s.node(key), err)
		}
		own := s.cfg.Instance.String()
		var ops []zkclient.Op
		others := 0
		for _, h := range holders {
			if h == own {
				ops = append(ops, zkclient.DeleteOp{Path: s.lock(key), Version: -1})
			} else {
				others++
			}
		}
		if others > 0 {
			// Release our lock under the guard too, so a deposed leader learns
			// ErrNotLeader and changes nothing.
			_, err := guardedMulti(ctx, s.cl, g, append(ops, zkclient.CheckOp{Path: s.node(key), Version: -1})...)
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				return fmt.Errorf("recovery: remove %s: %w", s.node(key), err)
			}
			return fmt.Errorf("recovery: remove %s: %d other instance(s) hold a lock: %w", s.node(key), others, recovery.ErrLocked)
		}
		// Mark for deletion: the lock container goes, with our lock, in one
		// guarded multi that fails if another lock appeared meanwhile.
		ops = append(ops, zkclient.DeleteOp{Path: s.locks(key), Version: -1})
		_, err = guardedMulti(ctx, s.cl, g, ops...)
		switch {
		case errors.Is(err, zk.ErrNotEmpty):
			continue // a lock appeared: look again
		case errors.Is(err, zk.ErrNoNode):
			continue // someone else released or marked meanwhile
		case err != nil:
			return fmt.Errorf("recovery: remove %s: mark for deletion: %w", s.node(key), err)
		}
		return s.finishRemove(ctx, g, key, data)
	}
	return fmt.Errorf("recovery: remove %s: gave up after %d races", s.node(key), putAttempts)
}

// finishRemove deletes the payload of a key marked for deletion (only if it is
// the store's own: DeletePointed), then its node.
func (s *pointerStore) finishRemove(ctx context.Context, g recovery.Guard, key string, data []byte) error {
	if err := s.cfg.DeletePointed(ctx, key, s.node(key), data); err != nil {
		return err
	}
	_, err := guardedMulti(ctx, s.cl, g, zkclient.DeleteOp{Path: s.node(key), Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("recovery: remove %s: %w", s.node(key), err)
	}
	return nil
}

// RemoveDir implements recovery.DirRemover: it deletes the (empty) directory
// node; one that is gone or still has children stays as it is.
func (s *pointerStore) RemoveDir(ctx context.Context, g recovery.Guard) error {
	_, err := guardedMulti(ctx, s.cl, g, zkclient.DeleteOp{Path: s.cfg.Dir, Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrNotEmpty) {
		return fmt.Errorf("recovery: remove %s: %w", s.cfg.Dir, err)
	}
	return nil
}

// Close implements recovery.PointerStore; the client stays open (it is shared).
func (s *pointerStore) Close() error { return nil }
