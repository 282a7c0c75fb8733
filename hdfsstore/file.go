package hdfsstore

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
)

// fileStore is the file:// backend: one file per object under root, in the object
// format of format.go. Files are 0600, directories 0700.
type fileStore struct {
	root   string // absolute, cleaned
	uri    string // canonical
	log    zerolog.Logger
	closed atomic.Bool
}

var (
	_ Store   = (*fileStore)(nil)
	_ Remover = (*fileStore)(nil)
)

func openFile(uri string, u *url.URL, o options) (*fileStore, error) {
	root, err := fileRoot(uri, u)
	if err != nil {
		return nil, err
	}
	if err := mkdirRoot(root); err != nil {
		return nil, fmt.Errorf("hdfsstore: open %q: %w", uri, err)
	}
	s := &fileStore{root: root, uri: FileURI(root)}
	s.log = o.log.With().Str(logging.File, s.uri).Logger()
	return s, nil
}

// mkdirRoot creates root and its missing parents, 0700, and syncs the parent of
// each directory it created.
func mkdirRoot(root string) error {
	top := "" // the highest directory that does not exist yet
	for p := root; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		top = p
	}
	if err := os.MkdirAll(root, 0o700); err != nil || top == "" {
		return err
	}
	for p := root; ; p = filepath.Dir(p) {
		if err := syncDir(filepath.Dir(p)); err != nil {
			return err
		}
		if p == top {
			return nil
		}
	}
}

func (s *fileStore) URI() string { return s.uri }

func (s *fileStore) Close() error {
	s.closed.Store(true)
	return nil
}

// begin checks what every operation checks first.
func (s *fileStore) begin(ctx context.Context, op, name string) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %s %q", ErrClosed, op, name)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hdfsstore: %s %q: %w", op, name, err)
	}
	return nil
}

// path returns the local path of a valid name.
func (s *fileStore) path(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(name))
}

func (s *fileStore) Put(ctx context.Context, name string, r io.Reader) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	if err := s.begin(ctx, "put", name); err != nil {
		return Info{}, err
	}
	info, err := s.put(ctx, name, r, false)
	if err != nil {
		return Info{}, fmt.Errorf("hdfsstore: put %q: %w", name, err)
	}
	return info, nil
}

// PutPlain is Put without the trailer; see Plain.
func (s *fileStore) PutPlain(ctx context.Context, name string, r io.Reader) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	if err := s.begin(ctx, "put", name); err != nil {
		return Info{}, err
	}
	info, err := s.put(ctx, name, r, true)
	if err != nil {
		return Info{}, fmt.Errorf("hdfsstore: put %q: %w", name, err)
	}
	return info, nil
}

// GetPlain opens a plain object; see Plain.
func (s *fileStore) GetPlain(ctx context.Context, name string, want *Info) (io.ReadCloser, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if err := s.begin(ctx, "get", name); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(name))
	if err != nil {
		return nil, opError("get", name, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notAnObject(f.Name(), fi)
	}
	if err == nil {
		err = checkPlainSize(name, want, fi.Size())
	}
	if err != nil {
		_ = f.Close()
		return nil, opError("get", name, err)
	}
	return plainReader(ctx, name, f, want, fi.Size()), nil
}

func (s *fileStore) put(ctx context.Context, name string, r io.Reader, plain bool) (Info, error) {
	final := s.path(name)
	dir := filepath.Dir(final)
	f, err := s.createTemp(path.Dir(name), dir)
	if err != nil {
		return Info{}, err
	}
	tmp := f.Name()
	published := false
	defer func() {
		if published {
			return
		}
		_ = f.Close() // a no-op error if already closed
		if err := os.Remove(tmp); err != nil {
			s.log.Warn().Err(err).Str(logging.File, tmp).Msg("remove the temporary of a failed put")
		}
	}()

	tr, err := writeObject(ctx, f, r, plain)
	if err != nil {
		return Info{}, err
	}
	if err := f.Sync(); err != nil {
		return Info{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	if err := f.Close(); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return Info{}, err
	}
	published = true
	if err := syncDir(dir); err != nil {
		return Info{}, fmt.Errorf("published, but not known to be durable: %w", err)
	}
	return Info{Name: name, Size: tr.size, Checksum: tr.crc, ModTime: fi.ModTime()}, nil
}

// createTemp creates an empty temporary file, 0600, in dir (relDir under the root),
// creating the directories first.
func (s *fileStore) createTemp(relDir, dir string) (*os.File, error) {
	var err error
	// A retry covers a concurrent RemoveAll taking a fresh directory away, and the
	// (astronomically unlikely) clash of two random names.
	for range 3 {
		if err = s.mkdirs(relDir); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		tmp := filepath.Join(dir, TempPrefix+strconv.FormatUint(rand.Uint64(), 16))
		var f *os.File
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, err
}

// mkdirs creates the directories of the slash-separated relDir under the root, 0700,
// and syncs each parent that gained an entry, so that a published object's path
// survives a crash of the machine.
func (s *fileStore) mkdirs(relDir string) error {
	if relDir == "." {
		return nil
	}
	if fi, err := os.Stat(s.path(relDir)); err == nil && fi.IsDir() {
		return nil
	}
	parent := s.root
	for c := range strings.SplitSeq(relDir, "/") {
		p := filepath.Join(parent, c)
		err := os.Mkdir(p, 0o700)
		switch {
		case err == nil:
			if err := syncDir(parent); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return fmt.Errorf("mkdir %s: an object by that name exists: %w", p, syscall.ENOTDIR)
			}
		default:
			return err
		}
		parent = p
	}
	return nil
}

func (s *fileStore) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	f, tr, _, err := s.open(ctx, "get", name)
	if err != nil {
		return nil, err
	}
	return newVerifyingReader(ctx, name, f, tr), nil
}

// getBytes reads a whole object into one buffer and checks it, without Get's
// streaming reader: recovery reads thousands of small objects.
func (s *fileStore) getBytes(ctx context.Context, name string) ([]byte, error) {
	f, tr, _, err := s.open(ctx, "get", name)
	if err != nil {
		return nil, err
	}
	defer f.Close() // read-only: nothing to lose
	payload := make([]byte, tr.size)
	if _, err := io.ReadFull(f, payload); err != nil {
		return nil, opError("get", name, err)
	}
	if err := checkPayload(name, tr, crc32.Checksum(payload, castagnoli), tr.size); err != nil {
		return nil, err
	}
	return payload, nil
}

func (s *fileStore) Stat(ctx context.Context, name string) (Info, error) {
	f, tr, fi, err := s.open(ctx, "stat", name)
	if err != nil {
		return Info{}, err
	}
	_ = f.Close() // read-only: nothing to lose
	return Info{Name: name, Size: tr.size, Checksum: tr.crc, ModTime: fi.ModTime()}, nil
}

// open opens the object name and checks its trailer. The file's offset stays at 0.
func (s *fileStore) open(ctx context.Context, op, name string) (*os.File, trailer, fs.FileInfo, error) {
	if err := ValidateName(name); err != nil {
		return nil, trailer{}, nil, err
	}
	if err := s.begin(ctx, op, name); err != nil {
		return nil, trailer{}, nil, err
	}
	f, err := os.Open(s.path(name))
	if err != nil {
		return nil, trailer{}, nil, opError(op, name, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notAnObject(f.Name(), fi)
	}
	var tr trailer
	if err == nil {
		tr, err = readTrailer(name, f, fi.Size())
	}
	if err != nil {
		_ = f.Close()
		return nil, trailer{}, nil, opError(op, name, err)
	}
	return f, tr, fi, nil
}

func (s *fileStore) Delete(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := s.begin(ctx, "delete", name); err != nil {
		return err
	}
	p := s.path(name)
	fi, err := os.Lstat(p)
	if err == nil && fi.IsDir() {
		err = notAnObject(p, fi)
	}
	if err == nil {
		err = os.Remove(p)
	}
	if err == nil {
		err = syncDir(filepath.Dir(p))
	}
	if err != nil {
		return opError("delete", name, err)
	}
	return nil
}

func (s *fileStore) List(ctx context.Context, prefix string) ([]string, error) {
	dir, partial, err := splitPrefix(prefix)
	if err != nil {
		return nil, err
	}
	if err := s.begin(ctx, "list", prefix); err != nil {
		return nil, err
	}
	names, err := walkObjects(ctx, dir, partial, s.entries)
	if err != nil {
		return nil, fmt.Errorf("hdfsstore: list %q: %w", prefix, err)
	}
	return names, nil
}

// entries lists the directory rel for walkObjects.
func (s *fileStore) entries(rel string) ([]dirEntry, error) {
	list, err := readDirIfExists(s.path(rel))
	out := make([]dirEntry, 0, len(list))
	for _, e := range list {
		out = append(out, dirEntry{name: e.Name(), dir: e.IsDir(), object: e.Type().IsRegular()})
	}
	return out, err
}

func (s *fileStore) RemoveAll(ctx context.Context, prefix string) error {
	dir, partial, err := splitPrefix(prefix)
	if err != nil {
		return err
	}
	if err := s.begin(ctx, "remove all", prefix); err != nil {
		return err
	}
	if err := s.removeAll(ctx, dir, partial); err != nil {
		return fmt.Errorf("hdfsstore: remove all %q: %w", prefix, err)
	}
	return nil
}

func (s *fileStore) removeAll(ctx context.Context, dir, partial string) error {
	p := s.path(dir)
	if partial == "" && dir != "" {
		// The whole directory, temporaries included: they belong to names under it.
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			return nil // nothing under that prefix
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		return syncDir(filepath.Dir(p))
	}
	entries, err := readDirIfExists(p)
	if err != nil {
		return err
	}
	for _, e := range entries {
		base := e.Name()
		// With a partial component, a temporary may belong to a name outside the
		// prefix, so it stays; at the root (empty prefix) everything goes.
		if partial != "" && (!strings.HasPrefix(base, partial) || checkComponent(base) != "") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join(p, base)); err != nil {
			return err
		}
	}
	return syncDir(p)
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return d.Close()
}

// opError wraps err from operation op on name. A path component that is an object
// rather than a directory (ENOTDIR) means the name does not exist either.
func opError(op, name string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) && !errors.Is(err, fs.ErrNotExist) {
		err = notExistError{err}
	}
	return fmt.Errorf("hdfsstore: %s %q: %w", op, name, err)
}

// notAnObject is the error for a name whose path is a directory (a prefix of other
// names) or something else that is not a regular file.
func notAnObject(p string, fi fs.FileInfo) error {
	what := "not a regular file"
	if fi.IsDir() {
		what = "a directory, not an object"
	}
	return notExistError{fmt.Errorf("%s is %s", p, what)}
}

// notExistError makes err match fs.ErrNotExist too.
type notExistError struct{ err error }

func (e notExistError) Error() string   { return e.err.Error() }
func (e notExistError) Unwrap() []error { return []error{e.err, fs.ErrNotExist} }

// readDirIfExists lists a directory; a path that is missing or not a directory
// holds nothing.
func readDirIfExists(p string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	return entries, err
}
