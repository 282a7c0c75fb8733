package job

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/rs/zerolog"
)

// FileSinkConfig configures the exactly-once file sink. Each subtask writes one line
// per record (the number in decimal) into parts named by subtask and checkpoint:
//
//	<root>/<path>/_pending/part-<subtask %05d>-<checkpoint %019d>   sealed, not visible
//	<root>/<path>/part-<subtask %05d>-<checkpoint %019d>            committed, visible
//
// Output between two barriers is kept in memory (the in-progress part); the barrier
// of checkpoint n seals it into the pending part n; the completion of a checkpoint
// m ≥ n publishes it under its visible name. See ReadCommitted.
type FileSinkConfig struct {
	// Path is the output directory relative to the output root, a valid
	// hdfsstore name such as "counts" or "demo/counts".
	Path string `yaml:"path" json:"path"`
}

// Validate checks Path.
func (c *FileSinkConfig) Validate() error {
	if c.Path == "" {
		return &FieldError{Field: "path", Msg: "missing; want a directory relative to the output root, e.g. counts"}
	}
	if err := hdfsstore.ValidateName(c.Path); err != nil {
		return &FieldError{Field: "path", Msg: strings.TrimPrefix(err.Error(), hdfsstore.ErrInvalidName.Error()+": ")}
	}
	return nil
}

// OutputDir returns the store name of a file sink's directory under root.
func OutputDir(root, path string) string {
	if root == "" {
		return path
	}
	return root + "/" + path
}

// NewSink builds the sink of one subtask.
func (c *FileSinkConfig) NewSink(in Instance) (Sink, error) {
	if in.Output == nil {
		return nil, errors.New("file sink: no output store")
	}
	return &fileSink{
		store:   in.Output,
		dir:     OutputDir(in.OutputRoot, c.Path),
		subtask: in.Subtask,
		log:     in.Log,
	}, nil
}

const (
	pendingDir = "_pending"
	partPrefix = "part-"
)

// ErrPartLost matches an error about a part a completed checkpoint covers that is in
// storage neither as pending nor as committed: output of that checkpoint is lost.
var ErrPartLost = errors.New("job: committed part lost")

type fileSink struct {
	store   hdfsstore.Store
	dir     string
	subtask int
	log     zerolog.Logger

	buf     []byte // in-progress part; owned by the task loop
	lastPre int64  // last checkpoint PreCommit saw; owned by the task loop

	mu      sync.Mutex
	pending []int64 // checkpoint IDs of sealed, unpublished parts, ascending
}

type fileSinkState struct {
	Pending []int64 `json:"pending"`
}

func (s *fileSink) partBase(id int64) string {
	return fmt.Sprintf("%s%05d-%019d", partPrefix, s.subtask, id)
}

func (s *fileSink) pendingName(id int64) string {
	return s.dir + "/" + pendingDir + "/" + s.partBase(id)
}

func (s *fileSink) finalName(id int64) string { return s.dir + "/" + s.partBase(id) }

func (s *fileSink) Write(v int64) error {
	s.buf = strconv.AppendInt(s.buf, v, 10)
	s.buf = append(s.buf, '\n')
	return nil
}

func (s *fileSink) PreCommit(ctx context.Context, id int64) error {
	if id <= s.lastPre {
		return fmt.Errorf("file sink: checkpoint %d after %d: IDs must increase", id, s.lastPre)
	}
	if len(s.buf) == 0 {
		s.lastPre = id
		return nil // nothing to seal: no part for this checkpoint
	}
	name := s.pendingName(id)
	if _, err := hdfsstore.PutBytes(ctx, s.store, name, s.buf); err != nil {
		return fmt.Errorf("file sink: seal part %s: %w", name, err)
	}
	s.lastPre = id
	s.buf = s.buf[:0]
	s.mu.Lock()
	s.pending = append(s.pending, id)
	s.mu.Unlock()
	return nil
}

func (s *fileSink) SnapshotState() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(fileSinkState{Pending: append([]int64{}, s.pending...)})
}

func (s *fileSink) Commit(ctx context.Context, upTo int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.pending) > 0 && s.pending[0] <= upTo {
		if err := s.publish(ctx, s.pending[0]); err != nil {
			return err
		}
		s.pending = s.pending[1:]
	}
	return nil
}

// publish makes the pending part of checkpoint id visible: copy to the final name
// (an atomic Put), then remove the pending one. Idempotent: a part already
// published (pending gone, final present) is left as it is.
func (s *fileSink) publish(ctx context.Context, id int64) error {
	from, to := s.pendingName(id), s.finalName(id)
	b, err := hdfsstore.GetBytes(ctx, s.store, from)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := s.store.Stat(ctx, to); serr == nil {
			return nil
		} else if !errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("file sink: commit %s: %w", to, serr)
		}
		return fmt.Errorf("%w: %s (checkpoint %d) is neither pending nor committed", ErrPartLost, to, id)
	}
	if err != nil {
		return fmt.Errorf("file sink: commit %s: read pending part: %w", to, err)
	}
	if _, err := hdfsstore.PutBytes(ctx, s.store, to, b); err != nil {
		return fmt.Errorf("file sink: commit %s: %w", to, err)
	}
	if err := s.store.Delete(ctx, from); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file sink: commit %s: remove pending part: %w", to, err)
	}
	s.log.Debug().Int64(logging.Checkpoint, id).Str(logging.File, to).Msg("committed part")
	return nil
}

func (s *fileSink) Restore(ctx context.Context, id int64, state []byte) error {
	var st fileSinkState
	if state != nil {
		if err := json.Unmarshal(state, &st); err != nil {
			return fmt.Errorf("file sink state: %w", err)
		}
	}
	for i, p := range st.Pending {
		if p > id || (i > 0 && p <= st.Pending[i-1]) {
			return fmt.Errorf("file sink state: pending parts %v: want ascending checkpoint IDs ≤ %d", st.Pending, id)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf, s.lastPre, s.pending = s.buf[:0], id, nil
	// 1. Finish the commit of what checkpoint id covers.
	for _, p := range st.Pending {
		if err := s.publish(ctx, p); err != nil {
			return fmt.Errorf("restore from checkpoint %d: %w", id, err)
		}
	}
	// 2. Discard this subtask's pending parts the checkpoint does not cover.
	mine := s.partBase(0)[:len(partPrefix)+6] // "part-<subtask>-"
	pend, err := s.store.List(ctx, s.dir+"/"+pendingDir+"/"+mine)
	if err != nil {
		return fmt.Errorf("restore from checkpoint %d: list pending parts: %w", id, err)
	}
	for _, name := range pend {
		if err := s.remove(ctx, name, "discarded uncommitted part"); err != nil {
			return fmt.Errorf("restore from checkpoint %d: %w", id, err)
		}
	}
	// 3. Retract committed parts newer than the checkpoint: that output is produced
	// again by the replay (only possible when recovery falls back to an older
	// checkpoint than the newest completed one).
	final, err := s.store.List(ctx, s.dir+"/"+mine)
	if err != nil {
		return fmt.Errorf("restore from checkpoint %d: list parts: %w", id, err)
	}
	for _, name := range final {
		if p, ok := partCheckpoint(name); ok && p > id {
			if err := s.remove(ctx, name, "retracted part newer than the restored checkpoint"); err != nil {
				return fmt.Errorf("restore from checkpoint %d: %w", id, err)
			}
		}
	}
	return nil
}

func (s *fileSink) remove(ctx context.Context, name, why string) error {
	if err := s.store.Delete(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	s.log.Info().Str(logging.File, name).Str(logging.Reason, why).Msg("file sink restore")
	return nil
}

// partCheckpoint parses the checkpoint ID from a part name ".../part-SSSSS-CCC…".
func partCheckpoint(name string) (int64, bool) {
	base := name[strings.LastIndexByte(name, '/')+1:]
	rest, ok := strings.CutPrefix(base, partPrefix)
	if !ok {
		return 0, false
	}
	_, ck, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(ck, 10, 64)
	return id, err == nil
}

// ReadCommitted returns the records in the committed (visible) parts of a file sink
// directory dir (see OutputDir), in order: by subtask, then by checkpoint, then line
// by line. Pending parts are not read.
func ReadCommitted(ctx context.Context, store hdfsstore.Store, dir string) ([]int64, error) {
	names, err := store.List(ctx, dir+"/"+partPrefix)
	if err != nil {
		return nil, fmt.Errorf("job: read committed output %s: %w", dir, err)
	}
	slices.Sort(names) // zero-padded: bytewise order is (subtask, checkpoint) order
	var out []int64
	for _, name := range names {
		if _, ok := partCheckpoint(name); !ok {
			continue
		}
		b, err := hdfsstore.GetBytes(ctx, store, name)
		if err != nil {
			return nil, fmt.Errorf("job: read committed output: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for line := 1; sc.Scan(); line++ {
			v, err := strconv.ParseInt(sc.Text(), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("job: read committed output: %s:%d: %q is not a number", name, line, sc.Text())
			}
			out = append(out, v)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("job: read committed output: %s: %w", name, err)
		}
	}
	return out, nil
}
