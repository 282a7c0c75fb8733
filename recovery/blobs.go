package recovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

// ErrInvalidBlobKey matches an error about a blob key that breaks the rule of
// StorageBlobStore; the message names the key.
var ErrInvalidBlobKey = errors.New("recovery: invalid blob key")

// blobDir is the directory of the blob store under a cluster path.
const blobDir = "blob"

// StorageBlobStore is the BlobStore kept in the storage directory:
//
//	<clusterPath>/blob/job_<job-id>/<key>
//
// A key is one name component: 1 to 255 bytes of [A-Za-z0-9._-], not "." or "..",
// no slash (see hdfsstore.ValidateName). Content is published atomically and
// verified by its checksum as Get's reader reaches the end (hdfsstore.Store.Get).
//
// It holds no state of its own and is safe for concurrent use; it inherits the
// Store's semantics for concurrent writers of the same key (the last one wins).
type StorageBlobStore struct {
	st  hdfsstore.Store
	dir string // "<clusterPath>/blob"
}

var _ BlobStore = (*StorageBlobStore)(nil)

// NewBlobStore returns the blob store of the cluster whose files live under
// clusterPath (a valid hdfsstore name, usually the cluster ID) in st.
func NewBlobStore(st hdfsstore.Store, clusterPath string) (*StorageBlobStore, error) {
	if err := hdfsstore.ValidateName(clusterPath); err != nil {
		return nil, fmt.Errorf("recovery: blob store: cluster path: %w", err)
	}
	return &StorageBlobStore{st: st, dir: clusterPath + "/" + blobDir}, nil
}

func (s *StorageBlobStore) jobDir(jobID string) string {
	return s.dir + "/job_" + jobID
}

// name validates jobID and key and returns the blob's storage name.
func (s *StorageBlobStore) name(op, jobID, key string) (string, error) {
	if err := ValidateJobID(jobID); err != nil {
		return "", fmt.Errorf("recovery: blob %s: %w", op, err)
	}
	if strings.Contains(key, "/") {
		return "", fmt.Errorf("recovery: blob %s: %w %q: contains a slash; want one component of [A-Za-z0-9._-]",
			op, ErrInvalidBlobKey, key)
	}
	if err := hdfsstore.ValidateName(key); err != nil {
		return "", fmt.Errorf("recovery: blob %s: %w %q: %w", op, ErrInvalidBlobKey, key, err)
	}
	return s.jobDir(jobID) + "/" + key, nil
}

// Put stores what r yields up to io.EOF as the job's blob key, replacing any
// previous content atomically. A failing r leaves the old content.
func (s *StorageBlobStore) Put(ctx context.Context, jobID, key string, r io.Reader) error {
	name, err := s.name("put", jobID, key)
	if err != nil {
		return err
	}
	if _, err := s.st.Put(ctx, name, r); err != nil {
		return fmt.Errorf("recovery: put blob %s: %w", name, err)
	}
	return nil
}

// Get streams the job's blob key. A missing blob is an error matching
// fs.ErrNotExist. The reader returns an error matching hdfsstore.ErrCorrupt instead
// of io.EOF when the content does not match its checksum: trust nothing read
// before io.EOF. The caller closes the reader.
func (s *StorageBlobStore) Get(ctx context.Context, jobID, key string) (io.ReadCloser, error) {
	name, err := s.name("get", jobID, key)
	if err != nil {
		return nil, err
	}
	rc, err := s.st.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("recovery: get blob %s: %w", name, err)
	}
	return rc, nil
}

// Delete removes the job's blob key. A missing blob is an error matching
// fs.ErrNotExist.
func (s *StorageBlobStore) Delete(ctx context.Context, jobID, key string) error {
	name, err := s.name("delete", jobID, key)
	if err != nil {
		return err
	}
	if err := s.st.Delete(ctx, name); err != nil {
		return fmt.Errorf("recovery: delete blob %s: %w", name, err)
	}
	return nil
}

// DeleteAll removes every blob of the job and its directory. Other jobs' blobs stay.
// A job without blobs is not an error.
func (s *StorageBlobStore) DeleteAll(ctx context.Context, jobID string) error {
	if err := ValidateJobID(jobID); err != nil {
		return fmt.Errorf("recovery: blob delete all: %w", err)
	}
	dir := s.jobDir(jobID)
	if err := hdfsstore.RemoveAll(ctx, s.st, dir+"/"); err != nil {
		return fmt.Errorf("recovery: delete all blobs of job %s: %w", jobID, err)
	}
	return nil
}
