package hdfsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Store keeps named objects in a storage directory. It is what the recovery
// services (job graph store, completed-checkpoint store, blob store, job result
// store) write their state through.
//
// Concurrency: a Store is safe for concurrent use by multiple goroutines.
// Operations on distinct names do not interfere. Puts to the same name race and
// the last one to complete wins; a Get concurrent with a Put of the same name
// sees the old content or the new one, whole. A Store does not lock anything
// between processes: fencing a deposed writer is the caller's job (the leader
// session check in ZooKeeper).
//
// Errors: every method returns an error matching fs.ErrNotExist for a missing
// name, ErrInvalidName for a name that breaks the rules of ValidateName,
// ErrClosed once the Store is closed, and ctx.Err() (wrapped) when ctx is done
// before or during the call.
type Store interface {
	// Put stores the content read from r until io.EOF under name and publishes it
	// atomically: readers see the old content or the new one, never a torn object.
	// The object is durable when Put returns nil. If Put fails, the old content
	// (or the absence of one) stays; if the failure is in syncing the directory after
	// the rename, the new content may already be visible.
	Put(ctx context.Context, name string, r io.Reader) (Info, error)

	// Get streams the payload of name. The trailer is checked when Get opens the
	// object (an object without a valid trailer is an error matching ErrCorrupt);
	// the payload checksum is checked as the reader reaches the end: instead of
	// io.EOF the reader then returns a *ChecksumError if the payload does not match.
	// Only trust content read up to io.EOF. ctx covers the whole read: the reader
	// returns ctx.Err() (wrapped) once ctx is done. The caller closes the reader.
	Get(ctx context.Context, name string) (io.ReadCloser, error)

	// Stat returns the size and checksum recorded in the object's trailer without
	// reading the payload, so it does not detect a corrupt payload (Get does).
	Stat(ctx context.Context, name string) (Info, error)

	// Delete removes name. Directories it leaves empty stay (RemoveAll removes them).
	Delete(ctx context.Context, name string) error

	// List returns, sorted bytewise, the names that start with prefix, compared as
	// strings: "job-1" matches "job-1/x" and "job-10"; "job-1/" only the former.
	// The part of prefix before its last slash must be a valid name. List reads
	// directory entries only, no trailers: it lists corrupt objects too, never
	// temporaries, and nothing whose name is not valid.
	List(ctx context.Context, prefix string) ([]string, error)

	// URI returns the canonical URI of the storage directory, e.g. file:///data/ha.
	URI() string

	// Close releases the store. It is idempotent; operations started afterwards fail
	// with ErrClosed. Readers returned by Get stay usable until they are closed.
	Close() error
}

// Remover is the optional capability of removing every object under a prefix in one
// call, for the blob store's "delete all of a job" and the final "clean up all data".
// Use the RemoveAll function, which falls back to List and Delete.
type Remover interface {
	// RemoveAll removes every name that List(ctx, prefix) would return. When prefix
	// is empty or ends with a slash it also removes the directory itself (the root
	// stays), with leftover temporaries and empty subdirectories in it. Nothing to
	// remove is not an error. A Put under prefix running concurrently may fail or may
	// survive.
	RemoveAll(ctx context.Context, prefix string) error
}

// Info describes a stored object.
type Info struct {
	Name     string    // the object's name
	Size     int64     // payload length in bytes, trailer excluded
	Checksum uint32    // CRC32C (Castagnoli) of the payload, as recorded in the trailer
	ModTime  time.Time // when the object was written, as the storage records it
}

// Sentinel errors. Match them with errors.Is.
var (
	// ErrCorrupt matches every error about an object whose trailer, length or
	// checksum is wrong; errors.As finds the *ChecksumError with the details.
	ErrCorrupt = errors.New("hdfsstore: corrupt object")
	// ErrInvalidName matches an error about a name or prefix that breaks the rules
	// of ValidateName; its message names the offender and the rule.
	ErrInvalidName = errors.New("hdfsstore: invalid name")
	// ErrUnsupportedScheme matches an error from Open about a URI scheme that has no
	// backend (yet).
	ErrUnsupportedScheme = errors.New("hdfsstore: unsupported scheme")
	// ErrInvalidURI matches an error from Open about a URI that cannot name a
	// storage directory (no scheme, a relative path, a host on a file URI, …).
	ErrInvalidURI = errors.New("hdfsstore: invalid storage URI")
	// ErrClosed matches the error of an operation on a closed Store.
	ErrClosed = errors.New("hdfsstore: store closed")
)

// ChecksumError reports an object that is not what its writer stored: its payload
// checksum or length differs from the trailer's record, or it has no valid trailer
// at all (truncated, torn by a foreign writer, not written by hdfsstore).
// errors.Is(err, ErrCorrupt) is true for it.
type ChecksumError struct {
	Name   string // the object's name
	Reason string // what is wrong, in words, with the numbers
	// Want and Got are the CRC32C recorded in the trailer and the one computed over
	// the payload; they differ only for a checksum mismatch.
	Want, Got uint32
	// WantSize and GotSize are the payload length recorded in the trailer and the
	// one found; they differ only for a length mismatch.
	WantSize, GotSize int64
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s %q: %s", ErrCorrupt.Error(), e.Name, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *ChecksumError) Unwrap() error { return ErrCorrupt }

// PutBytes stores b under name; see Store.Put.
func PutBytes(ctx context.Context, s Store, name string, b []byte) (Info, error) {
	return s.Put(ctx, name, bytes.NewReader(b))
}

// GetBytes reads the whole payload of name and verifies it; see Store.Get.
func GetBytes(ctx context.Context, s Store, name string) ([]byte, error) {
	if fs, ok := s.(*fileStore); ok {
		return fs.getBytes(ctx, name)
	}
	rc, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if sized, ok := rc.(interface{ Size() int64 }); ok {
		// One allocation: ReadFrom asks for bytes.MinRead of room before each read.
		buf.Grow(int(sized.Size()) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// RemoveAll removes every object under prefix, through the store's Remover when it
// has one, otherwise by listing and deleting each name (which leaves directories and
// temporaries behind). See Remover.RemoveAll.
func RemoveAll(ctx context.Context, s Store, prefix string) error {
	if r, ok := s.(Remover); ok {
		return r.RemoveAll(ctx, prefix)
	}
	names, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := s.Delete(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
