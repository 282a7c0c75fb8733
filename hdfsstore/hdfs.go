package hdfsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/user"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/colinmarc/hdfs/v2"
	"github.com/colinmarc/hdfs/v2/hadoopconf"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
)

// hdfsStore is the hdfs:// backend: one HDFS file per object under root, in the
// object format of format.go, through one colinmarc/hdfs client per store.
type hdfsStore struct {
	client *hdfs.Client
	root   string // absolute, cleaned HDFS path
	uri    string // canonical
	log    zerolog.Logger

	// mu is held shared by every operation while it uses the client and exclusively
	// by Close, so that the client is closed once and never used afterwards.
	mu     sync.RWMutex
	closed bool
}

var (
	_ Store   = (*hdfsStore)(nil)
	_ Remover = (*hdfsStore)(nil)
)

const (
	defaultNamenodePort = "8020"
	hdfsDialTimeout     = 10 * time.Second
	// completeAttempts bounds the Close retries of a file the namenode does not yet
	// consider replicated; the waits between them double from completeBackoff.
	completeAttempts = 8
	completeBackoff  = 25 * time.Millisecond
)

func openHDFS(ctx context.Context, uri string, u *url.URL, o options) (*hdfsStore, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s; want hdfs://namenode:port/absolute/path", ErrInvalidURI, uri, why)
	}
	switch {
	case u.User != nil:
		return nil, bad("user info in the authority (set HADOOP_USER_NAME instead)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, bad("has a query or fragment")
	case u.Path == "" || !strings.HasPrefix(u.Path, "/"):
		return nil, bad("no absolute path")
	}
	addrs, err := namenodes(u.Host)
	if err != nil {
		return nil, bad(err.Error())
	}
	userName, err := hdfsUser()
	if err != nil {
		return nil, fmt.Errorf("hdfsstore: open %q: %w", uri, err)
	}
	root := path.Clean(u.Path)
	canonical := (&url.URL{Scheme: "hdfs", Host: u.Host, Path: root}).String()
	dialer := &net.Dialer{Timeout: hdfsDialTimeout, KeepAlive: 30 * time.Second}
	client, err := hdfs.NewClient(hdfs.ClientOptions{
		Addresses:        addrs,
		User:             userName,
		NamenodeDialFunc: dialer.DialContext,
		DatanodeDialFunc: dialer.DialContext,
	})
	if err != nil {
		return nil, fmt.Errorf("hdfsstore: open %q: connect to %s: %w", uri, strings.Join(addrs, ","), err)
	}
	s := &hdfsStore{client: client, root: root, uri: canonical}
	s.log = o.log.With().Str(logging.File, canonical).Logger()
	// The client caches the server defaults without a lock: fetch them now, before
	// concurrent Puts would race to.
	if _, err := client.ServerDefaults(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("hdfsstore: open %q: server defaults: %w", uri, err)
	}
	if err := ctx.Err(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("hdfsstore: open %q: %w", uri, err)
	}
	if err := client.MkdirAll(root, 0o700); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("hdfsstore: open %q: %w", uri, mapHDFSError(err))
	}
	return s, nil
}

// namenodes returns the namenode addresses of a URI authority: comma-separated
// host[:port] items, each a namenode (port 8020 by default) or an HA nameservice
// defined in HADOOP_CONF_DIR; an empty authority means fs.defaultFS there.
func namenodes(authority string) ([]string, error) {
	conf, err := hadoopconf.LoadFromEnvironment()
	if err != nil {
		return nil, fmt.Errorf("read HADOOP_CONF_DIR: %v", err)
	}
	if authority == "" {
		def := conf["fs.defaultFS"]
		if def == "" {
			def = conf["fs.default.name"]
		}
		du, err := url.Parse(def)
		if def == "" || err != nil || du.Scheme != "hdfs" || du.Host == "" {
			return nil, errors.New("no namenode in the URI and no hdfs:// fs.defaultFS in HADOOP_CONF_DIR")
		}
		authority = du.Host
	}
	var addrs []string
	for item := range strings.SplitSeq(authority, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("empty namenode address in %q", authority)
		}
		if _, port, err := net.SplitHostPort(item); err == nil {
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				return nil, fmt.Errorf("namenode %q: bad port", item)
			}
			addrs = append(addrs, item)
			continue
		}
		if ids := conf["dfs.ha.namenodes."+item]; ids != "" {
			for id := range strings.SplitSeq(ids, ",") {
				a := conf["dfs.namenode.rpc-address."+item+"."+strings.TrimSpace(id)]
				if a == "" {
					return nil, fmt.Errorf("nameservice %q: no dfs.namenode.rpc-address.%s.%s", item, item, id)
				}
				addrs = append(addrs, a)
			}
			continue
		}
		addrs = append(addrs, net.JoinHostPort(item, defaultNamenodePort))
	}
	return addrs, nil
}

// hdfsUser is HADOOP_USER_NAME, or the OS user.
func hdfsUser() (string, error) {
	if u := os.Getenv("HADOOP_USER_NAME"); u != "" {
		return u, nil
	}
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("no HADOOP_USER_NAME and no OS user: %w", err)
	}
	return u.Username, nil
}

func (s *hdfsStore) URI() string { return s.uri }

// Close closes the client, once. Operations in flight finish first.
func (s *hdfsStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.client.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("hdfsstore: close %s: %w", s.uri, err)
	}
	return nil
}

// begin checks what every operation checks first; on success the caller holds
// s.mu shared and must call s.mu.RUnlock.
func (s *hdfsStore) begin(ctx context.Context, op, name string) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("%w: %s %q", ErrClosed, op, name)
	}
	if err := ctx.Err(); err != nil {
		s.mu.RUnlock()
		return fmt.Errorf("hdfsstore: %s %q: %w", op, name, err)
	}
	return nil
}

func (s *hdfsStore) path(name string) string {
	if name == "" {
		return s.root
	}
	return path.Join(s.root, name)
}

func (s *hdfsStore) Put(ctx context.Context, name string, r io.Reader) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	if err := s.begin(ctx, "put", name); err != nil {
		return Info{}, err
	}
	defer s.mu.RUnlock()
	info, err := s.put(ctx, name, r, false)
	if err != nil {
		return Info{}, fmt.Errorf("hdfsstore: put %q: %w", name, mapHDFSError(err))
	}
	return info, nil
}

// PutPlain is Put without the trailer; see Plain.
func (s *hdfsStore) PutPlain(ctx context.Context, name string, r io.Reader) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	if err := s.begin(ctx, "put", name); err != nil {
		return Info{}, err
	}
	defer s.mu.RUnlock()
	info, err := s.put(ctx, name, r, true)
	if err != nil {
		return Info{}, fmt.Errorf("hdfsstore: put %q: %w", name, mapHDFSError(err))
	}
	return info, nil
}

// GetPlain opens a plain object; see Plain. The block locations are fetched here,
// so the reader keeps working after the store is closed.
func (s *hdfsStore) GetPlain(ctx context.Context, name string, want *Info) (io.ReadCloser, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if err := s.begin(ctx, "get", name); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	f, err := s.client.Open(s.path(name))
	if err != nil {
		return nil, hdfsOpError("get", name, err)
	}
	fi := f.Stat()
	if fi.IsDir() {
		err = notAnObject(s.path(name), fi)
	}
	if err == nil {
		err = checkPlainSize(name, want, fi.Size())
	}
	if err != nil {
		_ = f.Close()
		return nil, hdfsOpError("get", name, err)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = f.SetDeadline(d)
	}
	return plainReader(ctx, name, f, want, fi.Size()), nil
}

func (s *hdfsStore) put(ctx context.Context, name string, r io.Reader, plain bool) (Info, error) {
	final := s.path(name)
	w, tmp, err := s.createTemp(path.Dir(final))
	if err != nil {
		return Info{}, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = w.SetDeadline(d)
	}
	closed, published := false, false
	defer func() {
		if published {
			return
		}
		if !closed {
			_ = w.Close() // ends the datanode stream; the file goes next
		}
		if err := s.client.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn().Err(err).Str(logging.File, tmp).Msg("remove the temporary of a failed put")
		}
	}()

	tr, err := writeObject(ctx, w, r, plain)
	if err != nil {
		return Info{}, err
	}
	if err := s.closeWriter(ctx, w); err != nil {
		return Info{}, err
	}
	closed = true
	fi, err := s.client.Stat(tmp)
	if err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if err := s.client.Rename(tmp, final); err != nil {
		return Info{}, err
	}
	published = true
	return Info{Name: name, Size: tr.size, Checksum: tr.crc, ModTime: fi.ModTime()}, nil
}

// createTemp creates an empty temporary file, 0600, in dir, creating the directories
// first. A retry covers a concurrent RemoveAll taking a fresh directory away.
func (s *hdfsStore) createTemp(dir string) (*hdfs.FileWriter, string, error) {
	defaults, err := s.client.ServerDefaults() // cached since Open
	if err != nil {
		return nil, "", err
	}
	for attempt := 0; ; attempt++ {
		if err = s.client.MkdirAll(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, "", err
		}
		tmp := path.Join(dir, TempPrefix+strconv.FormatUint(rand.Uint64(), 16))
		w, err := s.client.CreateFile(tmp, defaults.Replication, defaults.BlockSize, 0o600)
		if err == nil {
			return w, tmp, nil
		}
		if attempt == 2 || (!errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist)) {
			return nil, "", err
		}
	}
}

// closeWriter closes w, retrying while the namenode answers that the last block is
// not yet replicated enough to complete the file.
func (s *hdfsStore) closeWriter(ctx context.Context, w *hdfs.FileWriter) error {
	wait := completeBackoff
	for attempt := 1; ; attempt++ {
		err := w.Close()
		if err == nil || !hdfs.IsErrReplicating(err) {
			return err
		}
		if attempt == completeAttempts {
			return fmt.Errorf("not complete after %d attempts: %w", attempt, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}

func (s *hdfsStore) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	f, tr, _, err := s.open(ctx, "get", name)
	if err != nil {
		return nil, err
	}
	return newVerifyingReader(ctx, name, f, tr), nil
}

func (s *hdfsStore) Stat(ctx context.Context, name string) (Info, error) {
	f, tr, fi, err := s.open(ctx, "stat", name)
	if err != nil {
		return Info{}, err
	}
	_ = f.Close()
	return Info{Name: name, Size: tr.size, Checksum: tr.crc, ModTime: fi.ModTime()}, nil
}

// open opens the object name, checks its trailer and positions the reader at the
// payload's first byte. The block locations are fetched here, so the reader keeps
// working after the store (and the namenode connection) is closed.
func (s *hdfsStore) open(ctx context.Context, op, name string) (*hdfs.FileReader, trailer, fs.FileInfo, error) {
	if err := ValidateName(name); err != nil {
		return nil, trailer{}, nil, err
	}
	if err := s.begin(ctx, op, name); err != nil {
		return nil, trailer{}, nil, err
	}
	defer s.mu.RUnlock()
	p := s.path(name)
	for attempt := 1; ; attempt++ {
		f, tr, fi, err := s.openOnce(ctx, p, name)
		if err == nil {
			return f, tr, fi, nil
		}
		// The client learns the length (getFileInfo) and the blocks
		// (getBlockLocations) in two calls: a Put that renamed another file over the
		// name in between makes them disagree. Open again if the file changed.
		if attempt == openAttempts || fi == nil || ctx.Err() != nil || !s.replaced(p, fi) {
			return nil, trailer{}, nil, hdfsOpError(op, name, err)
		}
	}
}

// openAttempts bounds how often open starts over because the file was replaced.
// Each start-over follows a Put that completed meanwhile, so a reader starves only
// while writers keep replacing the name; on a loaded machine three writers replaced
// it four times within one open (TestHDFSStoreConformance/ConcurrentSameName).
const openAttempts = 16

// openOnce opens the HDFS file p and checks its trailer. On an error after the
// file was found, it returns the file's status with the error.
func (s *hdfsStore) openOnce(ctx context.Context, p, name string) (*hdfs.FileReader, trailer, fs.FileInfo, error) {
	f, err := s.client.Open(p)
	if err != nil {
		return nil, trailer{}, nil, err
	}
	fi := f.Stat()
	if fi.IsDir() {
		_ = f.Close()
		return nil, trailer{}, nil, notAnObject(p, fi)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = f.SetDeadline(d)
	}
	tr, err := readTrailer(name, f, fi.Size())
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return nil, trailer{}, fi, err
	}
	return f, tr, fi, nil
}

// replaced reports whether the file at p is no longer the one fi describes.
func (s *hdfsStore) replaced(p string, fi fs.FileInfo) bool {
	now, err := s.client.Stat(p)
	if err != nil {
		return true
	}
	before, ok1 := fi.Sys().(*hdfs.FileStatus)
	after, ok2 := now.Sys().(*hdfs.FileStatus)
	return !ok1 || !ok2 || before.GetFileId() != after.GetFileId() || fi.Size() != now.Size()
}

func (s *hdfsStore) Delete(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := s.begin(ctx, "delete", name); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	p := s.path(name)
	fi, err := s.client.Stat(p)
	if err == nil && fi.IsDir() {
		err = notAnObject(p, fi)
	}
	if err == nil {
		err = s.client.Remove(p)
	}
	if err != nil {
		return hdfsOpError("delete", name, err)
	}
	return nil
}

func (s *hdfsStore) List(ctx context.Context, prefix string) ([]string, error) {
	dir, partial, err := splitPrefix(prefix)
	if err != nil {
		return nil, err
	}
	if err := s.begin(ctx, "list", prefix); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	names, err := walkObjects(ctx, dir, partial, s.entries)
	if err != nil {
		return nil, fmt.Errorf("hdfsstore: list %q: %w", prefix, mapHDFSError(err))
	}
	return names, nil
}

// entries lists the directory rel for walkObjects.
func (s *hdfsStore) entries(rel string) ([]dirEntry, error) {
	list, err := s.readDir(rel)
	out := make([]dirEntry, 0, len(list))
	for _, fi := range list {
		out = append(out, dirEntry{name: fi.Name(), dir: fi.IsDir(), object: !fi.IsDir()})
	}
	return out, err
}

// readDir lists the directory rel; a missing path or a file holds nothing.
func (s *hdfsStore) readDir(rel string) ([]fs.FileInfo, error) {
	// Open looks the path up once (ReadDir would look it up again after a Stat).
	f, err := s.client.Open(s.path(rel))
	if errors.Is(mapHDFSError(err), fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !f.Stat().IsDir() {
		return nil, nil
	}
	entries, err := f.Readdir(0)
	if errors.Is(mapHDFSError(err), fs.ErrNotExist) {
		return nil, nil
	}
	return entries, err
}

func (s *hdfsStore) RemoveAll(ctx context.Context, prefix string) error {
	dir, partial, err := splitPrefix(prefix)
	if err != nil {
		return err
	}
	if err := s.begin(ctx, "remove all", prefix); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.removeAll(ctx, dir, partial); err != nil {
		return fmt.Errorf("hdfsstore: remove all %q: %w", prefix, mapHDFSError(err))
	}
	return nil
}

func (s *hdfsStore) removeAll(ctx context.Context, dir, partial string) error {
	if partial == "" && dir != "" {
		// The whole directory, temporaries included: they belong to names under it.
		fi, err := s.client.Stat(s.path(dir))
		if err != nil || !fi.IsDir() {
			return nil // nothing under that prefix
		}
		return s.client.RemoveAll(s.path(dir))
	}
	entries, err := s.readDir(dir)
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
		if err := s.client.RemoveAll(path.Join(s.path(dir), base)); err != nil {
			return err
		}
	}
	return nil
}

// parentNotDirectory is the namenode's exception for a path below a file.
const parentNotDirectory = "org.apache.hadoop.fs.ParentNotDirectoryException"

// mapHDFSError makes a path below a file (which HDFS reports as an exception, not as
// a missing file) match fs.ErrNotExist too, as on the file:// backend.
func mapHDFSError(err error) error {
	var remote hdfs.Error
	if errors.As(err, &remote) && remote.Exception() == parentNotDirectory {
		return notExistError{err}
	}
	if errors.Is(err, syscall.ENOTDIR) && !errors.Is(err, fs.ErrNotExist) {
		return notExistError{err}
	}
	return err
}

func hdfsOpError(op, name string, err error) error {
	return fmt.Errorf("hdfsstore: %s %q: %w", op, name, mapHDFSError(err))
}
