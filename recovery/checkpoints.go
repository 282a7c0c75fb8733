package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
)

// CheckpointsDir is the directory of one job's checkpoint pointers.
func CheckpointsDir(jobID string) string { return "/jobs/" + jobID + "/checkpoints" }

// checkpointKey is the node name of a checkpoint: %019d, so names sort by ID.
func checkpointKey(id int64) string { return fmt.Sprintf("%019d", id) }

// Checkpoints is the completed-checkpoint store of one job over a backend's
// PointerStore: pointers under /jobs/<job-id>/checkpoints/<%019d>, payloads (JSON)
// named <cluster-path>/completedCheckpoint-<job-id>-<%019d>-<random>. It keeps the
// newest retained checkpoints and discards (subsumes) older ones.
//
// It is safe for concurrent use.
type Checkpoints struct {
	ps     PointerStore
	st     hdfsstore.Store
	prefix string // every payload name of the job starts with it
	jobID  string
	retain int
	log    zerolog.Logger
}

// newCheckpoints opens the completed-checkpoint store of jobID on b, retaining
// the newest retain (at least 1) checkpoints.
func newCheckpoints(ctx context.Context, b Backend, st hdfsstore.Store, clusterPath string, instance uuid.UUID, log zerolog.Logger, jobID string, retain int) (*Checkpoints, error) {
	if retain < 1 {
		return nil, fmt.Errorf("recovery: checkpoint store of job %s: retain %d checkpoints: want at least 1", jobID, retain)
	}
	if err := ValidateKey(jobID); err != nil {
		return nil, fmt.Errorf("recovery: checkpoint store: job ID: %w", err)
	}
	prefix := checkpointPayloadPrefix(clusterPath, jobID)
	ps, err := b.PointerStore(ctx, PointerStoreConfig{Dir: CheckpointsDir(jobID), Storage: st,
		PayloadPrefix: prefix, Instance: instance, Logger: log})
	if err != nil {
		return nil, err
	}
	return &Checkpoints{ps: ps, st: st, prefix: prefix, jobID: jobID, retain: retain, log: log.With().Str(logging.Job, jobID).Logger()}, nil
}

// checkpointPayload is the stored form of a CompletedCheckpoint.
type checkpointPayload struct {
	JobID     string    `json:"jobId"`
	ID        int64     `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	Metadata  []byte    `json:"metadata"`
	// LeaderSession stamps the payload with the leader session whose guarded
	// write stored it (absent in checkpoints stored before stamps existed).
	LeaderSession string `json:"leaderSession,omitempty"`
}

// Add stores a checkpoint, then subsumes (discards) the oldest ones beyond the
// retained number. It returns the IDs it subsumed.
func (s *Checkpoints) Add(ctx context.Context, g Guard, cp CompletedCheckpoint) ([]int64, error) {
	if cp.JobID != "" && cp.JobID != s.jobID {
		return nil, fmt.Errorf("recovery: add checkpoint %d of job %s to the store of job %s", cp.ID, cp.JobID, s.jobID)
	}
	if cp.ID < 0 {
		return nil, fmt.Errorf("recovery: add checkpoint %d: negative ID", cp.ID)
	}
	b, _ := json.Marshal(checkpointPayload{JobID: s.jobID, ID: cp.ID, Timestamp: cp.Timestamp, Metadata: cp.Metadata,
		LeaderSession: stamp(g)}) // plain fields
	if err := s.ps.Put(ctx, g, checkpointKey(cp.ID), b); err != nil {
		return nil, fmt.Errorf("recovery: add checkpoint %d: %w", cp.ID, err)
	}
	s.log.Info().Int64(logging.Checkpoint, cp.ID).Msg("completed checkpoint stored")
	ids, err := s.IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("recovery: add checkpoint %d: subsume: %w", cp.ID, err)
	}
	var subsumed []int64
	var errs []error
	for i := 0; len(ids)-i > s.retain; i++ {
		id := ids[i]
		if id == cp.ID {
			continue
		}
		err := s.ps.ReleaseAndTryRemove(ctx, g, checkpointKey(id))
		switch {
		case errors.Is(err, ErrLocked):
			s.log.Warn().Int64(logging.Checkpoint, id).Err(err).Msg("subsumed checkpoint kept: another instance holds it")
		case err != nil:
			errs = append(errs, err)
		default:
			subsumed = append(subsumed, id)
			s.log.Info().Int64(logging.Checkpoint, id).Msg("checkpoint subsumed")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return subsumed, fmt.Errorf("recovery: add checkpoint %d: subsume: %w", cp.ID, err)
	}
	return subsumed, nil
}

// IDs lists the stored checkpoint IDs, ascending.
func (s *Checkpoints) IDs(ctx context.Context) ([]int64, error) {
	keys, err := s.ps.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return s.parseIDs(keys), nil
}

// parseIDs turns pointer names into sorted checkpoint IDs.
func (s *Checkpoints) parseIDs(keys []string) []int64 {
	ids := make([]int64, 0, len(keys))
	for _, k := range keys {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			s.log.Warn().Str("key", k).Msg("ignoring a checkpoint pointer whose name is not an ID")
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// UnreadableCheckpointError is a checkpoint whose pointer, payload or content
// cannot be used: its payload is missing (ErrDanglingPointer) or does not match
// its pointer or its job (ErrCorruptState), or — reported by the checkpoint's user
// through NewUnreadableCheckpoint — a file it references cannot be used. It is
// not transient: reading again gives the same answer. Recovery stops at it and
// changes nothing; falling back to an older checkpoint is an operator's act.
type UnreadableCheckpointError struct {
	JobID string
	ID    int64
	File  string // the storage name of the unusable file, when known
	Err   error
}

// NewUnreadableCheckpoint reports that checkpoint id of jobID cannot be used
// because of file (a storage name; may be empty) and err.
func NewUnreadableCheckpoint(jobID string, id int64, file string, err error) *UnreadableCheckpointError {
	return &UnreadableCheckpointError{JobID: jobID, ID: id, File: file, Err: err}
}

func (e *UnreadableCheckpointError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("recovery: checkpoint %d of job %s is unreadable: %v", e.ID, e.JobID, e.Err)
	}
	return fmt.Sprintf("recovery: checkpoint %d of job %s is unreadable: file %s: %v", e.ID, e.JobID, e.File, e.Err)
}

// Unwrap returns the cause.
func (e *UnreadableCheckpointError) Unwrap() error { return e.Err }

// Latest returns the newest checkpoint; ok is false when there is none. It never
// skips one: when the newest cannot be used it returns an
// *UnreadableCheckpointError (corrupt, dangling, not this checkpoint) or the
// storage/backend error (transient: the caller retries). It reads (and locks)
// every retained checkpoint at once, so an operator can fall back to one of them
// (Get). One listing finds them: a checkpoint marked for deletion fails to lock
// (ErrNotFound) and is passed over.
func (s *Checkpoints) Latest(ctx context.Context) (CompletedCheckpoint, bool, error) {
	names, err := s.ps.Names(ctx)
	if err != nil {
		return CompletedCheckpoint{}, false, fmt.Errorf("recovery: latest checkpoint of job %s: %w", s.jobID, err)
	}
	ids := s.parseIDs(names)
	slices.Reverse(ids)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = checkpointKey(id)
	}
	for i, e := range s.ps.GetAll(ctx, keys, true) {
		if errors.Is(e.Err, ErrNotFound) {
			continue // removed meanwhile
		}
		cp, err := s.decode(ids[i], e)
		if err != nil {
			return CompletedCheckpoint{}, false, err
		}
		return cp, true, nil
	}
	return CompletedCheckpoint{}, false, nil
}

// Get reads (and locks) the retained checkpoint id, with the errors of Latest;
// a checkpoint not retained is ErrNotFound.
func (s *Checkpoints) Get(ctx context.Context, id int64) (CompletedCheckpoint, error) {
	e := s.ps.GetAll(ctx, []string{checkpointKey(id)}, true)[0]
	if errors.Is(e.Err, ErrNotFound) {
		return CompletedCheckpoint{}, fmt.Errorf("recovery: checkpoint %d of job %s: %w", id, s.jobID, e.Err)
	}
	return s.decode(id, e)
}

// decode turns the entry of checkpoint id into the checkpoint, or its error.
func (s *Checkpoints) decode(id int64, e Entry) (CompletedCheckpoint, error) {
	if err := e.Err; err != nil {
		if errors.Is(err, ErrDanglingPointer) || errors.Is(err, ErrCorruptState) {
			var pe *PayloadError
			file := ""
			if errors.As(err, &pe) {
				file = pe.Path
			}
			return CompletedCheckpoint{}, NewUnreadableCheckpoint(s.jobID, id, file, err)
		}
		return CompletedCheckpoint{}, fmt.Errorf("recovery: checkpoint %d of job %s: %w", id, s.jobID, err)
	}
	var cp checkpointPayload
	if jerr := json.Unmarshal(e.Payload, &cp); jerr != nil || cp.ID != id || cp.JobID != s.jobID {
		return CompletedCheckpoint{}, NewUnreadableCheckpoint(s.jobID, id, "", fmt.Errorf(
			"%w: payload is not this checkpoint (id %d, job %q, %v)", ErrCorruptState, cp.ID, cp.JobID, jerr))
	}
	session, err := parseStamp(cp.LeaderSession)
	if err != nil {
		return CompletedCheckpoint{}, NewUnreadableCheckpoint(s.jobID, id, "", fmt.Errorf("%w: %w", ErrCorruptState, err))
	}
	return CompletedCheckpoint{JobID: s.jobID, ID: id, Timestamp: cp.Timestamp, Metadata: cp.Metadata, LeaderSession: session}, nil
}

// stamp is the leader session a write under g is stamped with ("" for a
// guard without a session).
func stamp(g Guard) string {
	if g == nil || g.SessionID() == uuid.Nil {
		return ""
	}
	return g.SessionID().String()
}

// parseStamp reads a leader session stamp: "" (written before stamps) is
// uuid.Nil; anything else must be a UUID.
func parseStamp(s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.Nil, nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("leader session stamp %q: want a UUID: %v", s, err)
	}
	return id, nil
}

// CheckpointStamp is what a stored checkpoint payload says about itself: the
// job, the checkpoint ID and the leader session that stored it (uuid.Nil:
// stored before stamps existed).
type CheckpointStamp struct {
	JobID         string
	ID            int64
	LeaderSession uuid.UUID
}

// DecodeCheckpointStamp reads the stamp of a checkpoint payload (the bytes a
// checkpoint pointer names, verified), for inspection.
func DecodeCheckpointStamp(payload []byte) (CheckpointStamp, error) {
	var cp checkpointPayload
	if err := json.Unmarshal(payload, &cp); err != nil {
		return CheckpointStamp{}, fmt.Errorf("%w: checkpoint payload: %v", ErrCorruptState, err)
	}
	session, err := parseStamp(cp.LeaderSession)
	if err != nil {
		return CheckpointStamp{}, fmt.Errorf("%w: checkpoint %d of job %s: %w", ErrCorruptState, cp.ID, cp.JobID, err)
	}
	return CheckpointStamp{JobID: cp.JobID, ID: cp.ID, LeaderSession: session}, nil
}

// Shutdown ends the store. With terminal (the job reached a globally terminal
// state) it discards every checkpoint, payloads included; otherwise (suspend) it
// keeps them for the next leader.
func (s *Checkpoints) Shutdown(ctx context.Context, g Guard, terminal bool) error {
	if !terminal {
		s.log.Info().Msg("suspending the checkpoint store: checkpoints kept")
		err := s.ps.ReleaseAll(ctx)
		return errors.Join(err, s.ps.Close())
	}
	if err := g.Err(); err != nil {
		return fmt.Errorf("recovery: discard checkpoints of job %s: %w", s.jobID, err)
	}
	ids, err := s.IDs(ctx)
	if err != nil {
		return fmt.Errorf("recovery: discard checkpoints of job %s: %w", s.jobID, err)
	}
	var errs []error
	for _, id := range ids {
		if err := s.ps.ReleaseAndTryRemove(ctx, g, checkpointKey(id)); err != nil {
			errs = append(errs, err)
		}
	}
	if d, ok := s.ps.(DirRemover); ok && len(errs) == 0 {
		errs = append(errs, d.RemoveDir(ctx, g))
	}
	if errors.Join(errs...) == nil {
		errs = append(errs, s.removeOrphans(ctx, g))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("recovery: discard checkpoints of job %s: %w", s.jobID, err)
	}
	s.log.Info().Int("discarded", len(ids)).Msg("job terminal: checkpoints discarded")
	return s.ps.Close()
}

// removeOrphans deletes the job's checkpoint payloads that no pointer names any
// more — a store interrupted between writing a payload and its pointer leaves one —
// once every pointer of the terminal job is gone. Only names under the job's own
// payload prefix are touched, and only while g leads.
func (s *Checkpoints) removeOrphans(ctx context.Context, g Guard) error {
	names, err := s.st.List(ctx, s.prefix)
	if err != nil {
		return fmt.Errorf("list payloads %s*: %w", s.prefix, err)
	}
	for _, name := range names {
		if !s.ownPayload(name) {
			continue // another job's, whose ID starts with this one's and a dash
		}
		if err := g.Err(); err != nil {
			return err
		}
		if err := DeletePayload(ctx, s.st, name); err != nil {
			return err
		}
		s.log.Info().Str(logging.File, name).Msg("job terminal: checkpoint payload without a pointer removed")
	}
	return nil
}

// ownPayload reports whether name is a checkpoint payload of this job exactly:
// the prefix, a %019d checkpoint key, a dash and a UUID (the pointer store's own
// check, with the key read from the name). Job IDs may contain dashes, so the
// prefix alone would also match job "<id>-…".
func (s *Checkpoints) ownPayload(name string) bool {
	rest, ok := strings.CutPrefix(name, s.prefix)
	if !ok || len(rest) < 20 {
		return false
	}
	key := rest[:19]
	if _, err := strconv.ParseUint(key, 10, 64); err != nil {
		return false
	}
	return ownPayload(s.prefix, key, name) == nil
}
