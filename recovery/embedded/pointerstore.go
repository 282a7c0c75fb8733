package recovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
)

// EmbeddedPointerStore is the PointerStore of high-availability NONE: pointers are
// small files <local-dir>/<dir>/<key> (written through a file:// hdfsstore, so they
// are published atomically and checksummed) and locks live in this process.
//
// Every embedded store of the same local directory and Dir in this process shares
// one lock table and one mutex, so instances within a process see each other's
// locks. There is no lock between processes: embedded mode has one AM.
type EmbeddedPointerStore struct {
	ptrs hdfsstore.Store
	st   hdfsstore.Store
	cfg  PointerStoreConfig
	dir  string // relative name prefix of the pointer files
	tbl  *localTable
	log  zerolog.Logger
}

var _ PointerStore = (*EmbeddedPointerStore)(nil)

type localTable struct {
	mu    sync.Mutex
	locks map[string]map[uuid.UUID]struct{} // key → holders
}

// EmbeddedDir is the local directory that holds embedded mode's pointer files,
// with the in-process lock tables of the stores kept in it. Every store of one
// cluster in one process must share one EmbeddedDir, so their instances see each
// other's locks. There is no lock between processes: embedded mode has one AM
// (the embedded election's flock enforces that).
type EmbeddedDir struct {
	path string

	mu     sync.Mutex
	tables map[string]*localTable // pointer directory → its lock table
}

// NewEmbeddedDir names the local directory (made absolute; created on first use).
func NewEmbeddedDir(localDir string) (*EmbeddedDir, error) {
	abs, err := filepath.Abs(localDir)
	if err != nil {
		return nil, fmt.Errorf("recovery: embedded directory %s: %w", localDir, err)
	}
	return &EmbeddedDir{path: abs, tables: map[string]*localTable{}}, nil
}

// Path returns the absolute directory.
func (d *EmbeddedDir) Path() string { return d.path }

func (d *EmbeddedDir) table(dir string) *localTable {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.tables[dir]
	if t == nil {
		t = &localTable{locks: map[string]map[uuid.UUID]struct{}{}}
		d.tables[dir] = t
	}
	return t
}

// NewEmbeddedPointerStore opens (creating it) the pointer files of cfg.Dir in local.
func NewEmbeddedPointerStore(ctx context.Context, local *EmbeddedDir, cfg PointerStoreConfig) (*EmbeddedPointerStore, error) {
	ptrs, err := hdfsstore.Open(ctx, hdfsstore.FileURI(local.path), hdfsstore.WithLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("recovery: embedded store %s: %w", local.path, err)
	}
	dir := strings.Trim(path.Clean("/"+cfg.Dir), "/")
	return &EmbeddedPointerStore{ptrs: ptrs, st: cfg.Storage, cfg: cfg, dir: dir, tbl: local.table(dir),
		log: cfg.Logger.With().Str(logging.File, local.path+"/"+dir).Logger()}, nil
}

func (s *EmbeddedPointerStore) name(key string) string { return s.dir + "/" + key }

// pointer reads a pointer file: nil, nil when there is none.
func (s *EmbeddedPointerStore) pointer(ctx context.Context, key string) ([]byte, error) {
	b, err := hdfsstore.GetBytes(ctx, s.ptrs, s.name(key))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, hdfsstore.ErrCorrupt):
		return nil, fmt.Errorf("recovery: pointer %s: %w: %w", s.name(key), ErrCorruptState, err)
	case err != nil:
		return nil, fmt.Errorf("recovery: pointer %s: %w", s.name(key), err)
	}
	return b, nil
}

func (s *EmbeddedPointerStore) lockLocked(key string) {
	h := s.tbl.locks[key]
	if h == nil {
		h = map[uuid.UUID]struct{}{}
		s.tbl.locks[key] = h
	}
	h[s.cfg.Instance] = struct{}{}
}

func (s *EmbeddedPointerStore) releaseLocked(key string) {
	if h := s.tbl.locks[key]; h != nil {
		delete(h, s.cfg.Instance)
		if len(h) == 0 {
			delete(s.tbl.locks, key)
		}
	}
}

// Put implements PointerStore.
func (s *EmbeddedPointerStore) Put(ctx context.Context, g Guard, key string, payload []byte) error {
	if err := validateKey(key); err != nil {
		return err
	}
	s.tbl.mu.Lock()
	defer s.tbl.mu.Unlock()
	if err := g.Err(); err != nil {
		return fmt.Errorf("recovery: put %s: %w", s.name(key), err)
	}
	old, err := s.pointer(ctx, key)
	if err != nil && !errors.Is(err, ErrCorruptState) {
		return err
	}
	p, err := WriteState(ctx, s.st, s.cfg.payloadName(key), payload)
	if err != nil {
		return err
	}
	if err := g.Err(); err != nil {
		_ = deletePayload(context.WithoutCancel(ctx), s.st, p.Path)
		return fmt.Errorf("recovery: put %s: %w", s.name(key), err)
	}
	if _, err := hdfsstore.PutBytes(ctx, s.ptrs, s.name(key), p.Encode()); err != nil {
		return fmt.Errorf("recovery: put %s: %w", s.name(key), err)
	}
	if op, err := DecodePointer(old); old != nil && err == nil && op.Path != p.Path {
		if err := deletePayload(ctx, s.st, op.Path); err != nil {
			s.log.Warn().Err(err).Msg("cannot delete a replaced payload (orphan)")
		}
	}
	s.lockLocked(key)
	return nil
}

// Get implements PointerStore.
func (s *EmbeddedPointerStore) Get(ctx context.Context, key string) ([]byte, error) {
	return s.get(ctx, key, false)
}

// GetAndLock implements PointerStore.
func (s *EmbeddedPointerStore) GetAndLock(ctx context.Context, key string) ([]byte, error) {
	return s.get(ctx, key, true)
}

func (s *EmbeddedPointerStore) get(ctx context.Context, key string, lock bool) ([]byte, error) {
	if err := validateKey(key); err != nil {
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
		return nil, fmt.Errorf("recovery: get %s: %w", s.name(key), ErrNotFound)
	}
	b, err := readPointed(ctx, s.st, s.name(key), data)
	if err != nil {
		return nil, fmt.Errorf("recovery: %w", err)
	}
	return b, nil
}

// GetAll implements PointerStore.
func (s *EmbeddedPointerStore) GetAll(ctx context.Context, keys []string, lock bool) []Entry {
	return getAll(ctx, keys, func(ctx context.Context, k string) ([]byte, error) { return s.get(ctx, k, lock) })
}

// Keys implements PointerStore.
func (s *EmbeddedPointerStore) Keys(ctx context.Context) ([]string, error) {
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

// Names implements PointerStore: in embedded mode Keys is one listing already.
func (s *EmbeddedPointerStore) Names(ctx context.Context) ([]string, error) { return s.Keys(ctx) }

// Release implements PointerStore.
func (s *EmbeddedPointerStore) Release(_ context.Context, key string) error {
	s.tbl.mu.Lock()
	defer s.tbl.mu.Unlock()
	s.releaseLocked(key)
	return nil
}

// ReleaseAll implements PointerStore.
func (s *EmbeddedPointerStore) ReleaseAll(context.Context) error {
	s.tbl.mu.Lock()
	defer s.tbl.mu.Unlock()
	for k := range s.tbl.locks {
		s.releaseLocked(k)
	}
	return nil
}

// ReleaseAndTryRemove implements PointerStore. The pointer file goes first, then
// the payload: a crash in between leaves an orphan payload, never a dangling
// pointer.
func (s *EmbeddedPointerStore) ReleaseAndTryRemove(ctx context.Context, g Guard, key string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	s.tbl.mu.Lock()
	defer s.tbl.mu.Unlock()
	if err := g.Err(); err != nil {
		return fmt.Errorf("recovery: remove %s: %w", s.name(key), err)
	}
	s.releaseLocked(key)
	if n := len(s.tbl.locks[key]); n > 0 {
		return fmt.Errorf("recovery: remove %s: %d other instance(s) hold a lock: %w", s.name(key), n, ErrLocked)
	}
	data, err := s.pointer(ctx, key)
	if err != nil && !errors.Is(err, ErrCorruptState) {
		return err
	}
	if err := s.ptrs.Delete(ctx, s.name(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recovery: remove %s: %w", s.name(key), err)
	}
	if p, derr := DecodePointer(data); data != nil && derr == nil {
		return deletePayload(ctx, s.st, p.Path)
	}
	return nil
}

// Close implements PointerStore.
func (s *EmbeddedPointerStore) Close() error { return s.ptrs.Close() }
