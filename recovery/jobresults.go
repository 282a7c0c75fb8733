package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

// Errors of the job result store and of job ID validation.
var (
	// ErrInvalidJobID matches an error about a job ID that breaks the rule of
	// ValidateJobID; the message names the value.
	ErrInvalidJobID = errors.New("recovery: invalid job id")
	// ErrJobResultExists: CreateDirty was called for a job that already has a
	// result (dirty or clean). Nothing was written.
	ErrJobResultExists = errors.New("recovery: job result already exists")
)

// maxJobIDLen bounds a job ID: a Flink JobID is 32 hex digits, a UUID 36 characters.
const maxJobIDLen = 64

// ValidateJobID reports whether id can name a job in storage: 1 to 64 characters of
// lowercase hex digits and hyphens, starting and ending with a hex digit, such as
// Flink's "a3f0c1d2e4b5968778695a4b3c2d1e0f" or a UUID. The error matches
// ErrInvalidJobID and names the value.
func ValidateJobID(id string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s; want 1 to %d characters of [0-9a-f-], starting and ending with a hex digit",
			ErrInvalidJobID, id, why, maxJobIDLen)
	}
	switch {
	case id == "":
		return bad("empty")
	case len(id) > maxJobIDLen:
		return bad(fmt.Sprintf("%d bytes long", len(id)))
	case id[0] == '-' || id[len(id)-1] == '-':
		return bad("starts or ends with a hyphen")
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || r == '-') {
			return bad(fmt.Sprintf("contains %q", r))
		}
	}
	return nil
}

// jobResultVersion is the format version of a stored job result file.
const jobResultVersion = 1

// Job result file names under <clusterPath>/job-result-store/, as Flink's
// FileSystemJobResultStore names them.
const (
	jobResultDir   = "job-result-store"
	dirtyResultExt = "_DIRTY.json"
	cleanResultExt = ".json"
)

// jrsPrefix starts the job result store's error messages.
const jrsPrefix = "recovery: job result store"

// jobResultFile is the JSON content of a job result file.
type jobResultFile struct {
	Version int       `json:"version"`
	Result  JobResult `json:"result"`
}

// storageJobResultStore is the JobResultStore kept entirely in the storage directory,
// so it serves both high-availability modes (ZooKeeper and NONE). A finished job's
// result is first written as
//
//	<clusterPath>/job-result-store/<job-id>_DIRTY.json   (cleanup of the job's HA data pending)
//
// and, once the cleanup is done, MarkClean writes <job-id>.json and deletes the dirty
// file. The store cannot rename, so a crash inside MarkClean may leave both files:
// wherever a clean file exists the result counts as clean, and a repeated MarkClean
// removes the leftover dirty file.
//
// Files are JSON: {"version":1,"result":{...JobResult}}. A file that cannot be read
// back (bad checksum, bad JSON, unknown version, another job's result) is reported
// as an error matching ErrCorruptState, never skipped silently.
//
// It holds no state of its own and is safe for concurrent use. It does not lock
// between processes: CreateDirty's "no result yet" check and its write are two
// steps, which is enough for the one leading dispatcher that writes results.
type storageJobResultStore struct {
	st    hdfsstore.Store
	dir   string                                   // "<clusterPath>/job-result-store"
	check func(ctx context.Context, g Guard) error // fences every write
}

var _ JobResultStore = (*storageJobResultStore)(nil)

// newJobResultStore returns the job result store of the cluster whose files live
// under clusterPath (a valid hdfsstore name, usually the cluster ID) in st. check
// confirms a writer's leadership right before each write (Services.CheckLeadership);
// nil checks only the Guard's own Err.
func newJobResultStore(st hdfsstore.Store, clusterPath string, check func(context.Context, Guard) error) (*storageJobResultStore, error) {
	if err := hdfsstore.ValidateName(clusterPath); err != nil {
		return nil, fmt.Errorf("%s: cluster path: %w", jrsPrefix, err)
	}
	if check == nil {
		check = func(_ context.Context, g Guard) error { return g.Err() }
	}
	return &storageJobResultStore{st: st, dir: clusterPath + "/" + jobResultDir, check: check}, nil
}

// fence refuses a write on behalf of a leadership that no longer holds.
func (s *storageJobResultStore) fence(ctx context.Context, g Guard, op, jobID string) error {
	if err := s.check(ctx, g); err != nil {
		return fmt.Errorf("%s: %s of job %s refused: leader session %s: %w", jrsPrefix, op, jobID, g.SessionID(), err)
	}
	return nil
}

func (s *storageJobResultStore) dirtyName(jobID string) string {
	return s.dir + "/" + jobID + dirtyResultExt
}

func (s *storageJobResultStore) cleanName(jobID string) string {
	return s.dir + "/" + jobID + cleanResultExt
}

// exists reports whether name is in storage. Stat reads no payload; an object whose
// trailer is bad (ErrCorrupt) exists all the same: what it holds is read's concern.
func (s *storageJobResultStore) exists(ctx context.Context, name string) (bool, error) {
	_, err := s.st.Stat(ctx, name)
	switch {
	case err == nil, errors.Is(err, hdfsstore.ErrCorrupt):
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("%s: stat %s: %w", jrsPrefix, name, err)
	}
}

// CreateDirty records r as the job's result with cleanup pending. It refuses, with an
// error matching ErrJobResultExists that names the job, when the job already has a
// result, dirty or clean. r.State must be a globally terminal state: SUCCEEDED,
// FAILED or CANCELED. It writes only while g leads.
func (s *storageJobResultStore) CreateDirty(ctx context.Context, g Guard, r JobResult) error {
	if err := ValidateJobID(r.JobID); err != nil {
		return fmt.Errorf("%s: create dirty: %w", jrsPrefix, err)
	}
	switch r.State {
	case "SUCCEEDED", "FAILED", "CANCELED":
	default:
		return fmt.Errorf("%s: create dirty: job %s: state %q is not globally terminal; want SUCCEEDED, FAILED or CANCELED",
			jrsPrefix, r.JobID, r.State)
	}
	for _, name := range []string{s.cleanName(r.JobID), s.dirtyName(r.JobID)} {
		ok, err := s.exists(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("%w: job %s: %s", ErrJobResultExists, r.JobID, name)
		}
	}
	b, err := json.Marshal(jobResultFile{Version: jobResultVersion, Result: r})
	if err != nil {
		return fmt.Errorf("%s: encode result of job %s: %w", jrsPrefix, r.JobID, err)
	}
	if err := s.fence(ctx, g, "dirty result", r.JobID); err != nil {
		return err
	}
	if _, err := hdfsstore.PutBytes(ctx, s.st, s.dirtyName(r.JobID), b); err != nil {
		return fmt.Errorf("%s: write dirty result of job %s: %w", jrsPrefix, r.JobID, err)
	}
	return nil
}

// MarkClean records that the job's cleanup finished: it writes the clean file, then
// deletes the dirty one. It is idempotent: when the clean file already exists it only
// removes a dirty file left over by a crash. A job with no result at all is an error
// matching fs.ErrNotExist that names the job. It writes and deletes only while g
// leads.
func (s *storageJobResultStore) MarkClean(ctx context.Context, g Guard, jobID string) error {
	if err := ValidateJobID(jobID); err != nil {
		return fmt.Errorf("%s: mark clean: %w", jrsPrefix, err)
	}
	clean, err := s.exists(ctx, s.cleanName(jobID))
	if err != nil {
		return err
	}
	if !clean {
		r, err := s.read(ctx, jobID, s.dirtyName(jobID))
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: mark clean: job %s has no result: %w", jrsPrefix, jobID, err)
		}
		if err != nil {
			return err
		}
		b, err := json.Marshal(jobResultFile{Version: jobResultVersion, Result: r})
		if err != nil {
			return fmt.Errorf("%s: encode result of job %s: %w", jrsPrefix, jobID, err)
		}
		if err := s.fence(ctx, g, "clean result", jobID); err != nil {
			return err
		}
		if _, err := hdfsstore.PutBytes(ctx, s.st, s.cleanName(jobID), b); err != nil {
			return fmt.Errorf("%s: write clean result of job %s: %w", jrsPrefix, jobID, err)
		}
	}
	if err := s.fence(ctx, g, "delete dirty result", jobID); err != nil {
		return err
	}
	if err := s.st.Delete(ctx, s.dirtyName(jobID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: delete dirty result of job %s: %w", jrsPrefix, jobID, err)
	}
	return nil
}

// Result implements JobResultStore: the clean file if there is one, else the dirty
// one. No result matches fs.ErrNotExist; an unreadable one ErrCorruptState.
func (s *storageJobResultStore) Result(ctx context.Context, jobID string) (JobResult, error) {
	if err := ValidateJobID(jobID); err != nil {
		return JobResult{}, fmt.Errorf("%s: result: %w", jrsPrefix, err)
	}
	r, err := s.read(ctx, jobID, s.cleanName(jobID))
	if errors.Is(err, fs.ErrNotExist) {
		return s.read(ctx, jobID, s.dirtyName(jobID))
	}
	return r, err
}

// Has reports whether the job has a result, dirty or clean.
func (s *storageJobResultStore) Has(ctx context.Context, jobID string) (bool, error) {
	if err := ValidateJobID(jobID); err != nil {
		return false, fmt.Errorf("%s: has: %w", jrsPrefix, err)
	}
	for _, name := range []string{s.cleanName(jobID), s.dirtyName(jobID)} {
		ok, err := s.exists(ctx, name)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// list reads the result directory once: the job IDs with a dirty file, in
// listing order, and those with a clean file. Other names are ignored.
func (s *storageJobResultStore) list(ctx context.Context) (dirty []string, clean map[string]bool, err error) {
	names, err := s.st.List(ctx, s.dir+"/")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: list %s: %w", jrsPrefix, s.dir, err)
	}
	clean = make(map[string]bool)
	for _, name := range names {
		base := strings.TrimPrefix(name, s.dir+"/")
		if strings.Contains(base, "/") {
			continue
		}
		if id, ok := strings.CutSuffix(base, dirtyResultExt); ok {
			if ValidateJobID(id) == nil {
				dirty = append(dirty, id)
			}
		} else if id, ok := strings.CutSuffix(base, cleanResultExt); ok {
			clean[id] = true
		}
	}
	return dirty, clean, nil
}

// Finished implements JobResultStore.
func (s *storageJobResultStore) Finished(ctx context.Context) (map[string]bool, error) {
	dirty, clean, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range dirty {
		clean[id] = true
	}
	return clean, nil
}

// Dirty returns the results whose cleanup has not finished, ordered by job ID: every
// dirty file without a clean file beside it. Files whose names are not result names
// are ignored. An unreadable dirty file makes the whole call fail with an error
// matching ErrCorruptState, because skipping it would let its job run again.
func (s *storageJobResultStore) Dirty(ctx context.Context) ([]JobResult, error) {
	dirty, clean, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	var out []JobResult
	for _, id := range dirty {
		if clean[id] {
			continue // crashed between writing clean and deleting dirty: clean wins
		}
		r, err := s.read(ctx, id, s.dirtyName(id))
		if errors.Is(err, fs.ErrNotExist) {
			continue // made clean since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// read reads and decodes the result file name of jobID. A missing file matches
// fs.ErrNotExist; an unreadable one ErrCorruptState.
func (s *storageJobResultStore) read(ctx context.Context, jobID, name string) (JobResult, error) {
	b, err := hdfsstore.GetBytes(ctx, s.st, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return JobResult{}, fmt.Errorf("%s: read %s: %w", jrsPrefix, name, err)
	case errors.Is(err, hdfsstore.ErrCorrupt):
		return JobResult{}, fmt.Errorf("%w: job result %s: %w", ErrCorruptState, name, err)
	case err != nil:
		return JobResult{}, fmt.Errorf("%s: read %s: %w", jrsPrefix, name, err)
	}
	var f jobResultFile
	if err := json.Unmarshal(b, &f); err != nil {
		return JobResult{}, fmt.Errorf("%w: job result %s: %q: %v", ErrCorruptState, name, truncate(b), err)
	}
	if f.Version != jobResultVersion {
		return JobResult{}, fmt.Errorf("%w: job result %s: format version %d, want %d", ErrCorruptState, name, f.Version, jobResultVersion)
	}
	if f.Result.JobID != jobID {
		return JobResult{}, fmt.Errorf("%w: job result %s: holds the result of job %q", ErrCorruptState, name, f.Result.JobID)
	}
	return f.Result, nil
}
