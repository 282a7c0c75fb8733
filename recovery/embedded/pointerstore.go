package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
)

// pointerStore is the recovery.PointerStore of high-availability NONE: pointers
// are small files <dir>/<store-dir>/<key> (written through a file:// hdfsstore,
// so they are published atomically and checksummed) and locks live in this
// process.
//
// Every store of the same Backend and directory shares one lock table and one
// mutex, so instances within a process see each other's locks. There is no lock
// between processes: embedded mode has one AM (the election's flock enforces it).
type pointerStore struct {
	ptrs hdfsstore.Store
	st   hdfsstore.Store
	cfg  recovery.PointerStoreConfig
	dir  string // relative name prefix of the pointer files
	tbl  *lockTable
	log  zerolog.Logger
}

var _ recovery.PointerStore = (*pointerStore)(nil)

// lockTable holds the locks of one pointer directory: key → holders.
type lockTable struct {
	mu    sync.Mutex
	locks map[string]map[uuid.UUID]struct{}
}

// newPointerStore opens (creating it) the pointer files of cfg.Dir in b's directory.
func newPointerStore(ctx context.Context, b *Backend, cfg recovery.PointerStoreConfig) (*pointerStore, error) {
	ptrs, err := hdfsstore.Open(ctx, hdfsstore.FileURI(b.dir), hdfsstore.WithLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("recovery: embedded store %s: %w", b.dir, err)
	}
	dir := storeDir(cfg.Dir)
	return &pointerStore{ptrs: ptrs, st: cfg.Storage, cfg: cfg, dir: dir, tbl: b.table(dir),
		log: cfg.Logger.With().Str(logging.File, b.dir+"/"+dir).Logger()}, nil
}

// storeDir is the relative name prefix of a store's pointer files.
func storeDir(dir string) string { return strings.Trim(path.Clean("/"+dir), "/") }

func (s *pointerStore) name(key string) string { return s.dir + "/" + key }

// pointer reads a pointer file: nil, nil when there is none.
func (s *pointerStore) pointer(ctx context.Context, key string) ([]byte, error) {
	b, err := hdfsstore.GetBytes(ctx, s.ptrs, s.name(key))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, hdfsstore.ErrCorrupt):
		return nil, fmt.Errorf("recovery: pointer %s: %w: %w", s.name(key), recovery.ErrCorruptState, err)
	case err != nil:
		return nil, fmt.Errorf("recovery: pointer %s: %w", s.name(key), err)
	}
	return b, nil
}

func (s *pointerStore) lockLocked(key string) {
	h := s.tbl.locks[key]
	if h == nil {
		h = map[uuid.UUID]struct{}{}
		s.tbl.locks[key] = h
	}
	h[s.cfg.Instance] = struct{}{}
}

func (s *pointerStore) releaseLocked(key string) {
	if h := s.tbl.locks[key]; h != nil {
		delete(h, s.cfg.Instance)
		if len(h) == 0 {
			delete(s.tbl.locks, key)
		}
	}
}

// Put implements recovery.PointerStore.
func (s *pointerStore) Put(ctx context.Context, g recovery.Guard, key string, payload []byte) error {
	if err := recovery.ValidateKey(key); err != nil {
		return err
	}
	s.tbl.mu.Lock()
	defer s.tbl.mu.Unlock()
	if err := g.Err(); err != nil {
		return fmt.Errorf("recovery: put %s: %w", s.name(key), err)
	}
	old, err := s.pointer(ctx, key)
	if err != nil && !errors.Is(err, recovery.ErrCorruptState) {
		return err
	}
	p, err := recovery.WriteState(ctx, s.st, s.cfg.PayloadName(key), payload)
	if err != nil {
		return err
	}
	if err := g.Err(); err != nil {
		_ = recovery.DeletePayload(context.WithoutCancel(ctx), s.st, p.Path)
		return fmt.Errorf("recovery: put %s: %w", s.name(key), err)
	}
	if _, err := hdfsstore.PutBytes(ctx, s.ptrs, s.name(key), p.StampedBy(g).Encode()); err != nil {
		return fmt.Errorf("recovery: put %s: %w", s.name(key), err)
	}
	if old != nil {
		if err := s.cfg.DeletePointed(ctx, key, s.name(key), old); err != nil {
			s.log.Warn().Err(err).Msg("cannot delete a replaced payload (orphan)")
		}
	}
	s.lockLocked(key)
	return nil
}

// Get implements recovery.PointerStore.
func (s *pointerStore) Get(ctx context.Context, key string) ([]byte, error) {
	return s.get(ctx, key, false)
}

// GetAndLock implements recovery.PointerStore.
func (s *pointerStore) GetAndLock(ctx context.Context, key string) ([]byte, error) {
	return s.get(ctx, key, true)
}

func (s *pointerStore) get(ctx context.Context, key string, lock bool) ([]byte, error) {
	if err := recovery.ValidateKey(key); err != nil {
		return nil, err
	}
	s.tbl.mu.Lock()
	data, err := s.pointer(ctx, key)
	if err == nil && data != nil && lock {
		s.lockLocked(key)
	}
	s.tbl.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("recovery: get %s: %w", s.name(key), recovery.ErrNotFound)
	}
	b, err := s.cfg.ReadPointed(ctx, key, s.name(key), data)
	if err != nil {
		return nil, fmt.Errorf("recovery: %w", err)
	}
	return b, nil
}

// GetAll implements recovery.PointerStore.
func (s *pointerStore) GetAll(ctx context.Context, keys []string, lock bool) []recovery.Entry {
	return recovery.GetAll(ctx, keys, func(ctx context.Context, k string) ([]byte, error) { return s.get(ctx, k, lock) })
}

// Keys implements recovery.PointerStore.
func (s *pointerStore) Keys(ctx context.Context) ([]string, error) {
	names, err := s.ptrs.List(ctx, s.dir+"/")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("recovery: list %s: %w", s.dir, err)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		k := strings.TrimPrefix(n, s.dir+"/")
		if !strings.Contains(k, "/") {
			out = append(out, k)
		}
	}
	return out, nil // List sorts
}

// Names implements recovery.PointerStore: in embedded mode Keys is one listing already.
func (s *pointerStore) Names(ctx context.Context) ([]string, error) { return s.Keys(ctx) }

// Release implements recovery.PointerStore.
func (s *pointerStore) Release(_ context.Context, key string) error {
	s.tbl.mu.Lock()
	defer s.tbl.mu.Unlock()
	s.releaseLocked(key)
	return nil
}

// ReleaseAll implements recovery.PointerStore.
func (s *pointerStore) ReleaseAll(context.Context) error {
	s.tbl.mu.Lock()
	defer s.tbl.mu.Unlock()
	for k := range s.tbl.locks {
		s.releaseLocked(k)
	}
	return nil
}

// ReleaseAndTryRemove implements recovery.PointerStore. The pointer file goes first, then
// the payload: a crash in between leaves an orphan payload, never a dangling
// pointer.
func (s *pointerStore) ReleaseAndTryRemove(ctx context.Context, g recovery.Guard, key string) error {
	if err := recovery.ValidateKey(key); err != nil {
		return err
	}
	s.tbl.mu.Lock()
	defer s.tbl.mu.Unlock()
	if err := g.Err(); err != nil {
		return fmt.Errorf("recovery: remove %s: %w", s.name(key), err)
	}
	s.releaseLocked(key)
	if n := len(s.tbl.locks[key]); n > 0 {
		return fmt.Errorf("recovery: remove %s: %d other instance(s) hold a lock: %w", s.name(key), n, recovery.ErrLocked)
	}
	data, err := s.pointer(ctx, key)
	if err != nil && !errors.Is(err, recovery.ErrCorruptState) {
		return err
	}
	if err := s.ptrs.Delete(ctx, s.name(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recovery: remove %s: %w", s.name(key), err)
	}
	if data == nil {
		return nil
	}
	return s.cfg.DeletePointed(ctx, key, s.name(key), data)
}

// Close implements recovery.PointerStore.
func (s *pointerStore) Close() error { return s.ptrs.Close() }
