package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/rs/zerolog"
)

// Env is what a task needs from the process that runs it.
type Env struct {
	// State is where snapshots go: StateRoot/<job>/chk-<id>/subtask-<n>.
	State     hdfsstore.Store
	StateRoot string // may be empty
	// Output is where sinks write (nil: State), under OutputRoot (may be empty).
	Output     hdfsstore.Store
	OutputRoot string
	// Pacer makes the pacer of a rate-limited source (nil: RealTimePacer). It is
	// the hook for tests: a pacer whose channel the test feeds controls exactly how
	// many records the task processes. A Pacer of nil means no waiting.
	Pacer func(interval time.Duration) Pacer
	// Stats observes the records reaching the sink (nil: the task's own). A
	// process passes the same one to every instance of a subtask.
	Stats *RecordStats
	// SpillBytes bounds the uncommitted output a sink keeps in memory (0:
	// DefaultSpillBytes): a task that runs on without checkpoints (no leader)
	// spills the rest to storage, still invisible.
	SpillBytes int
	Log        zerolog.Logger
}

// Pacer gates a rate-limited source.
type Pacer interface {
	// Next returns a channel that receives once the next record may be emitted. The
	// task calls it once per record and receives from the channel before calling
	// Next again; meanwhile it keeps serving checkpoint requests.
	Next() <-chan time.Time
	// Stop releases the pacer's timer.
	Stop()
}

// RealTimePacer paces records interval apart on the wall clock, without drift; a
// task that falls behind continues at once rather than bursting to catch up.
func RealTimePacer(interval time.Duration) Pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &realPacer{interval: interval, timer: t}
}

type realPacer struct {
	interval time.Duration
	next     time.Time
	timer    *time.Timer
}

func (p *realPacer) Next() <-chan time.Time {
	now := time.Now()
	if p.next.IsZero() || p.next.Add(p.interval).Before(now) {
		p.next = now
	} else {
		p.next = p.next.Add(p.interval)
	}
	p.timer.Reset(p.next.Sub(now))
	return p.timer.C
}

func (p *realPacer) Stop() { p.timer.Stop() }

// SnapshotResult acknowledges a checkpoint trigger.
type SnapshotResult struct {
	ID      int64
	Subtask int
	// Handle is what the coordinator keeps in the checkpoint metadata and passes to
	// Restore: the state's storage name, size and checksum (JSON).
	Handle []byte
	Name   string // the state's storage name, for logs
	Err    error
}

// Errors of the task API; match them with errors.Is.
var (
	// ErrState matches every error about a state handle or state file that cannot
	// be used (missing, corrupt, of another job or subtask); see StateError.
	ErrState = errors.New("job: unusable checkpoint state")
	// ErrNotRunning is the result of a checkpoint triggered on a task whose Run has
	// returned, or still queued when it returned.
	ErrNotRunning = errors.New("job: task not running")
	// ErrAborted is the result of a checkpoint aborted before its snapshot was taken.
	ErrAborted = errors.New("job: checkpoint aborted")
	// ErrCheckpointOrder is the result of a trigger whose ID is not above every ID
	// this task has seen (triggered or restored).
	ErrCheckpointOrder = errors.New("job: checkpoint ID out of order")
	// ErrLifecycle matches a call out of order: Restore after Run, Run twice.
	ErrLifecycle = errors.New("job: task lifecycle")
)

// StateError is a state handle or state file Restore cannot use. errors.Is matches
// ErrState and the cause: fs.ErrNotExist for a missing file, hdfsstore.ErrCorrupt
// for a damaged one.
type StateError struct {
	Name string // storage name, when known
	Err  error
}

func (e *StateError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("%v: %v", ErrState, e.Err)
	}
	return fmt.Sprintf("%v %s: %v", ErrState, e.Name, e.Err)
}

// Unwrap returns ErrState and the cause.
func (e *StateError) Unwrap() []error { return []error{ErrState, e.Err} }

const fieldSubtask = "subtask"

// castagnoli is the CRC32C table, built once; it is read-only after that.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC32C that hdfsstore records for a payload.
func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// stateHandle is the content of SnapshotResult.Handle.
type stateHandle struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Checksum uint32 `json:"crc32c"`
}

const stateVersion = 1

// taskState is the content of a state file.
type taskState struct {
	Version     int               `json:"version"`
	Job         JobID             `json:"job"`
	Subtask     int               `json:"subtask"`
	Parallelism int               `json:"parallelism"`
	Checkpoint  int64             `json:"checkpoint"`
	Source      json.RawMessage   `json:"source"`
	Transforms  []json.RawMessage `json:"transforms"`
	Sink        json.RawMessage   `json:"sink"`
	// Records is how many source records the chain had processed at the snapshot.
	Records int64 `json:"records,omitempty"`
}

type lifecycle int

const (
	created lifecycle = iota
	restored
	running
	finished
)

type trigger struct {
	id int64
	ch chan SnapshotResult
}

// Task is one parallel instance of a job: its chain of source, transforms and sink,
// driven by Run. See the package documentation for the protocol.
type Task struct {
	graph    Graph
	in       Instance
	env      Env
	log      zerolog.Logger
	src      Source
	ops      []Transform
	sink     Sink
	emits    []Emit // emits[i] feeds ops[i]; emits[len(ops)] feeds the sink
	wake     chan struct{}
	ended    chan struct{}
	endedSet bool         // loop-owned
	records  atomic.Int64 // source records processed (restored count included)

	mu        sync.Mutex
	phase     lifecycle
	queue     []trigger
	inflight  map[int64]string // snapshots taken, neither completed nor aborted
	taking    int64            // checkpoint being snapshotted now (0: none)
	abortNow  bool             // AbortCheckpoint(taking) arrived meanwhile
	last      int64            // highest checkpoint ID triggered or restored
	committed int64            // highest checkpoint completed and committed
	final     int64            // first snapshot after end of input (0: none yet)
	complete  bool             // Run returned nil: input ended, final checkpoint done

	snapMu  sync.Mutex    // serializes snapshots of a completed task
	writing chan struct{} // closed when the last snapshot's writes are done (nil: none); loop-owned
}

// finishedSnapshotTimeout bounds a snapshot a completed task takes outside Run.
const finishedSnapshotTimeout = time.Minute

// NewTask builds subtask (0-based) of g.
func NewTask(g Graph, subtask int, env Env) (*Task, error) {
	if _, err := ParseJobID(string(g.ID)); err != nil {
		return nil, fmt.Errorf("job: new task: %w", err)
	}
	p := g.Spec.Parallelism
	if subtask < 0 || subtask >= p {
		return nil, fmt.Errorf("job: new task: subtask %d of a job with parallelism %d; want 0 to %d", subtask, p, p-1)
	}
	if env.State == nil {
		return nil, errors.New("job: new task: Env.State is nil")
	}
	if env.Output == nil {
		env.Output = env.State
	}
	for _, root := range []string{env.StateRoot, env.OutputRoot} {
		if root != "" {
			if err := hdfsstore.ValidateName(root); err != nil {
				return nil, fmt.Errorf("job: new task: %w", err)
			}
		}
	}
	if env.Pacer == nil {
		env.Pacer = RealTimePacer
	}
	if env.Stats == nil {
		env.Stats = &RecordStats{}
	}
	n := len(g.Spec.Pipeline)
	if n < 2 {
		return nil, fmt.Errorf("job: new task: pipeline of %d steps; want a source and a sink at least", n)
	}
	log := env.Log.With().Str(logging.Job, string(g.ID)).Int(fieldSubtask, subtask).Logger()
	t := &Task{
		graph: g, env: env, log: log,
		in: Instance{Job: g.ID, Subtask: subtask, Parallelism: p, Execution: g.Execution,
			Output: env.Output, OutputRoot: env.OutputRoot, SpillBytes: env.SpillBytes, Log: log},
		wake:     make(chan struct{}, 1),
		ended:    make(chan struct{}),
		inflight: map[int64]string{},
	}
	for i, st := range g.Spec.Pipeline {
		var err error
		switch cfg := st.Config.(type) {
		case SourceConfig:
			if i != 0 {
				return nil, fmt.Errorf("job: new task: pipeline[%d].%s: a source must be first", i, st.Op)
			}
			t.src, err = cfg.NewSource(t.in)
		case SinkConfig:
			if i != n-1 {
				return nil, fmt.Errorf("job: new task: pipeline[%d].%s: a sink must be last", i, st.Op)
			}
			t.sink, err = cfg.NewSink(t.in)
		case TransformConfig:
			if i == 0 || i == n-1 {
				return nil, fmt.Errorf("job: new task: pipeline[%d].%s: a transform cannot be first or last", i, st.Op)
			}
			var op Transform
			op, err = cfg.NewTransform(t.in)
			t.ops = append(t.ops, op)
		default:
			return nil, fmt.Errorf("job: new task: pipeline[%d].%s: config %T has no role", i, st.Op, st.Config)
		}
		if err != nil {
			return nil, fmt.Errorf("job: new task: pipeline[%d].%s: %w", i, st.Op, err)
		}
	}
	t.emits = make([]Emit, len(t.ops)+1)
	sink, stats := t.sink, env.Stats
	t.emits[len(t.ops)] = func(v int64) error {
		stats.arrived(time.Now())
		return sink.Write(v)
	}
	for i := len(t.ops) - 1; i >= 0; i-- {
		op, next := t.ops[i], t.emits[i+1]
		t.emits[i] = func(v int64) error { return op.Process(v, next) }
	}
	return t, nil
}

// Execution is the execution the task was deployed in (Graph.Execution).
func (t *Task) Execution() string { return t.graph.Execution }

// LastCheckpoint is the highest checkpoint the task snapshotted (or was restored
// from, or was triggered with).
func (t *Task) LastCheckpoint() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// Records is how many source records the task has processed, those before the
// checkpoint it was restored from included.
func (t *Task) Records() int64 { return t.records.Load() }

// EndOfInput is closed once a bounded source is exhausted and its last record has
// gone through the chain. Run then returns nil as soon as a checkpoint triggered
// after that has completed (Flink's final checkpoint), so the coordinator should
// trigger one.
func (t *Task) EndOfInput() <-chan struct{} { return t.ended }

func (t *Task) stateName(id int64) string {
	name := fmt.Sprintf("%s/chk-%d/subtask-%05d", t.graph.ID, id, t.in.Subtask)
	if t.env.StateRoot != "" {
		name = t.env.StateRoot + "/" + name
	}
	return name
}

// Restore prepares the task to start from the snapshot whose handle a
// SnapshotResult carried, or from scratch when handle is nil. Call it at most once,
// before Run (Run restores from scratch if it was not called). It first publishes
// the sink parts the checkpoint covers (idempotently), then discards the pending
// parts of this subtask it does not cover; committed parts stay. Errors about the
// handle or the state file are *StateError; a failed Restore may be retried.
func (t *Task) Restore(ctx context.Context, handle []byte) error {
	t.mu.Lock()
	phase := t.phase
	t.mu.Unlock()
	if phase != created {
		return fmt.Errorf("%w: Restore after Restore or Run", ErrLifecycle)
	}
	id, st, err := t.readState(ctx, handle)
	if err != nil {
		return err
	}
	if err := t.src.RestoreState(raw(st.Source)); err != nil {
		return &StateError{Name: st.name, Err: err}
	}
	for i, op := range t.ops {
		if err := op.RestoreState(raw(st.Transforms[i])); err != nil {
			return &StateError{Name: st.name, Err: err}
		}
	}
	if err := t.sink.Restore(ctx, id, raw(st.Sink)); err != nil {
		return fmt.Errorf("job: restore subtask %d from checkpoint %d: %w", t.in.Subtask, id, err)
	}
	t.mu.Lock()
	t.phase, t.last, t.committed = restored, id, id
	t.mu.Unlock()
	t.records.Store(st.Records)
	t.env.Stats.restoredAt(st.Records)
	if handle == nil {
		t.log.Info().Msg("task starts fresh")
	} else {
		t.log.Info().Int64(logging.Checkpoint, id).Str(logging.File, st.name).Msg("task restored")
	}
	return nil
}

type loadedState struct {
	taskState
	name string
}

// raw turns an absent or JSON-null state into nil (a fresh start).
func raw(m json.RawMessage) []byte {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}

func (t *Task) readState(ctx context.Context, handle []byte) (int64, loadedState, error) {
	st := loadedState{taskState: taskState{Transforms: make([]json.RawMessage, len(t.ops))}}
	if handle == nil {
		return 0, st, nil
	}
	var h stateHandle
	if err := json.Unmarshal(handle, &h); err != nil || h.Name == "" {
		if err == nil {
			err = errors.New("no name")
		}
		return 0, st, &StateError{Err: fmt.Errorf("state handle %q: %w", handle, err)}
	}
	st.name = h.Name
	b, err := hdfsstore.GetBytes(ctx, t.env.State, h.Name)
	if err != nil {
		if ctx.Err() != nil {
			return 0, st, fmt.Errorf("job: restore: %w", err)
		}
		return 0, st, &StateError{Name: h.Name, Err: err}
	}
	if int64(len(b)) != h.Size || checksum(b) != h.Checksum {
		return 0, st, &StateError{Name: h.Name, Err: fmt.Errorf("%w: %d bytes, crc32c %08x; the handle recorded %d bytes, crc32c %08x",
			hdfsstore.ErrCorrupt, len(b), checksum(b), h.Size, h.Checksum)}
	}
	if err := json.Unmarshal(b, &st.taskState); err != nil {
		return 0, st, &StateError{Name: h.Name, Err: err}
	}
	switch {
	case st.Version != stateVersion:
		err = fmt.Errorf("state version %d; want %d", st.Version, stateVersion)
	case st.Job != t.graph.ID || st.Subtask != t.in.Subtask || st.Parallelism != t.in.Parallelism:
		err = fmt.Errorf("state of job %s subtask %d of %d; this task is job %s subtask %d of %d",
			st.Job, st.Subtask, st.Parallelism, t.graph.ID, t.in.Subtask, t.in.Parallelism)
	case len(st.Transforms) != len(t.ops):
		err = fmt.Errorf("state of %d transforms; the pipeline has %d", len(st.Transforms), len(t.ops))
	case st.Checkpoint < 1:
		err = fmt.Errorf("checkpoint ID %d; want ≥ 1", st.Checkpoint)
	}
	if err != nil {
		return 0, st, &StateError{Name: h.Name, Err: err}
	}
	return st.Checkpoint, st, nil
}

// TriggerCheckpoint asks the task to snapshot its chain at the next record
// boundary. The channel receives exactly one result. IDs must increase. It never
// blocks; triggers before Run are served when Run starts. After Run returned nil
// (bounded input done) the task still acknowledges, with its final state; after
// Run returned otherwise the result is ErrNotRunning.
func (t *Task) TriggerCheckpoint(id int64) <-chan SnapshotResult {
	ch := make(chan SnapshotResult, 1)
	t.mu.Lock()
	if t.phase == finished {
		complete := t.complete
		t.mu.Unlock()
		if !complete {
			ch <- SnapshotResult{ID: id, Subtask: t.in.Subtask, Err: ErrNotRunning}
			return ch
		}
		// The task finished its bounded input: its state no longer changes, so it
		// still acknowledges checkpoints (other subtasks may be running), with a
		// fresh copy of its final state under the new checkpoint's name.
		go func() {
			t.snapMu.Lock()
			defer t.snapMu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), finishedSnapshotTimeout)
			defer cancel()
			if write := t.take(ctx, trigger{id: id, ch: ch}); write != nil {
				write()
			}
		}()
		return ch
	}
	t.queue = append(t.queue, trigger{id: id, ch: ch})
	t.mu.Unlock()
	t.signal()
	return ch
}

func (t *Task) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// NotifyCheckpointComplete tells the task that checkpoint id completed (its pointer
// is stored): the sink publishes every pending part of a checkpoint ≤ id.
// Idempotent; safe to call concurrently with Run, also after Run returned. On error
// the parts stay pending and a later notification retries them.
func (t *Task) NotifyCheckpointComplete(ctx context.Context, id int64) error {
	if err := t.sink.Commit(ctx, id); err != nil {
		return fmt.Errorf("job: commit checkpoint %d of subtask %d: %w", id, t.in.Subtask, err)
	}
	t.mu.Lock()
	if id > t.committed {
		t.committed = id
	}
	for c := range t.inflight {
		if c <= id {
			delete(t.inflight, c)
		}
	}
	t.mu.Unlock()
	t.log.Debug().Int64(logging.Checkpoint, id).Msg("checkpoint committed")
	t.signal()
	return nil
}

// AbortCheckpoint drops checkpoint id: a trigger still queued is answered with
// ErrAborted; a snapshot already taken has its state file removed. The sink part
// sealed for it stays pending and is published with the next completed checkpoint.
func (t *Task) AbortCheckpoint(ctx context.Context, id int64) error {
	t.mu.Lock()
	for i, tr := range t.queue {
		if tr.id == id {
			t.queue = append(t.queue[:i], t.queue[i+1:]...)
			tr.ch <- SnapshotResult{ID: id, Subtask: t.in.Subtask, Err: ErrAborted}
			break
		}
	}
	if t.taking == id {
		t.abortNow = true
	}
	if t.final == id {
		t.final = 0
	}
	name, ok := t.inflight[id]
	delete(t.inflight, id)
	t.mu.Unlock()
	if !ok {
		return nil
	}
	if err := t.env.State.Delete(ctx, name); err != nil && !isNotExist(err) {
		return fmt.Errorf("job: abort checkpoint %d: %w", id, err)
	}
	return nil
}

// Run processes records until ctx is done (it returns ctx.Err()), a record fails
// (it returns the error), or a bounded source is exhausted and a checkpoint taken
// after that has completed (it returns nil). Checkpoint triggers are served at
// record boundaries. Run may be called once.
func (t *Task) Run(ctx context.Context) error {
	t.mu.Lock()
	phase := t.phase
	t.mu.Unlock()
	switch phase {
	case created:
		if err := t.Restore(ctx, nil); err != nil {
			return err
		}
	case running, finished:
		return fmt.Errorf("%w: Run called twice", ErrLifecycle)
	}
	t.mu.Lock()
	t.phase = running
	t.mu.Unlock()
	defer t.finish()
	defer t.writes()

	var pacer Pacer
	if iv := t.src.Interval(); iv > 0 {
		if pacer = t.env.Pacer(iv); pacer != nil {
			defer pacer.Stop()
		}
	}
	first := t.emits[0]
	var wait <-chan time.Time
	for {
		if t.endedSet || t.src.Exhausted() {
			if !t.endedSet {
				t.endedSet = true
				close(t.ended)
				t.log.Info().Msg("end of input; waiting for a final checkpoint")
			}
			if t.doneAfterEnd() {
				t.mu.Lock()
				t.complete = true
				t.mu.Unlock()
				return nil
			}
			select {
			case <-t.wake:
				t.serve(ctx)
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if pacer != nil {
			if wait == nil {
				wait = pacer.Next()
			}
			select {
			case <-t.wake:
				t.serve(ctx)
				continue
			case <-ctx.Done():
				return ctx.Err()
			case <-wait:
				wait = nil
			}
		} else {
			select {
			case <-t.wake:
				t.serve(ctx)
				continue
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
		}
		v, ok := t.src.Next()
		if !ok {
			continue
		}
		if err := first(v); err != nil {
			return fmt.Errorf("job: subtask %d: record %d: %w", t.in.Subtask, v, err)
		}
		t.env.Stats.reached(t.records.Add(1))
	}
}

func (t *Task) doneAfterEnd() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.final > 0 && t.committed >= t.final
}

func (t *Task) finish() {
	t.mu.Lock()
	t.phase = finished
	q := t.queue
	t.queue = nil
	t.mu.Unlock()
	for _, tr := range q {
		tr.ch <- SnapshotResult{ID: tr.id, Subtask: t.in.Subtask, Err: ErrNotRunning}
	}
}

// serve takes the snapshots that were triggered, in order. Each snapshot's
// state is captured here, at the record boundary; its writes to storage run on
// a goroutine of their own while records keep flowing (see writes).
func (t *Task) serve(ctx context.Context) {
	for {
		t.mu.Lock()
		if len(t.queue) == 0 {
			t.mu.Unlock()
			return
		}
		tr := t.queue[0]
		t.queue = t.queue[1:]
		t.mu.Unlock()
		if write := t.take(ctx, tr); write != nil {
			done := make(chan struct{})
			t.writing = done
			go func() {
				defer close(done)
				write()
			}()
		}
	}
}

// writes waits until the last snapshot's writes are done: the next snapshot
// seals the sink after them, and Run returns only after them.
func (t *Task) writes() {
	if t.writing != nil {
		<-t.writing
		t.writing = nil
	}
}

// take answers one trigger: an order error at once, else it captures the
// snapshot and returns write, which writes it and answers.
func (t *Task) take(ctx context.Context, tr trigger) (write func()) {
	t.writes() // one snapshot at a time: taking names the one being written
	t.mu.Lock()
	if tr.id <= t.last {
		last := t.last
		t.mu.Unlock()
		tr.ch <- SnapshotResult{ID: tr.id, Subtask: t.in.Subtask,
			Err: fmt.Errorf("%w: %d after %d", ErrCheckpointOrder, tr.id, last)}
		return nil
	}
	t.last, t.taking, t.abortNow = tr.id, tr.id, false
	t.mu.Unlock()
	start := time.Now()
	w, err := t.capture(tr.id)
	ended := t.endedSet
	return func() {
		var name string
		var info hdfsstore.Info
		if err == nil {
			name, info, err = w(ctx)
		}
		tr.ch <- t.snapshotted(ctx, tr.id, start, ended, name, info, err)
	}
}

// snapshotted records a snapshot written (or failed) and returns its result.
func (t *Task) snapshotted(ctx context.Context, id int64, start time.Time, ended bool, name string, info hdfsstore.Info, err error) SnapshotResult {
	res := SnapshotResult{ID: id, Subtask: t.in.Subtask}
	t.mu.Lock()
	aborted := t.abortNow
	t.taking, t.abortNow = 0, false
	if err == nil && !aborted {
		t.inflight[id] = name
		if ended && t.final == 0 {
			t.final = id
		}
	}
	t.mu.Unlock()
	switch {
	case err != nil:
		res.Err = err
		t.log.Warn().Err(err).Int64(logging.Checkpoint, id).Msg("snapshot failed")
		return res
	case aborted:
		if derr := t.env.State.Delete(ctx, name); derr != nil && !isNotExist(derr) {
			t.log.Warn().Err(derr).Str(logging.File, name).Msg("remove state of aborted checkpoint")
		}
		res.Err = ErrAborted
		return res
	}
	res.Name = name
	res.Handle, _ = json.Marshal(stateHandle{Name: name, Size: info.Size, Checksum: info.Checksum})
	logging.Since(t.log.Debug(), start).Int64(logging.Checkpoint, id).Str(logging.File, name).Msg("snapshot taken")
	return res
}

// capture takes checkpoint id's snapshot on the task's loop: it seals the sink's
// part and encodes every operator's state, in memory. write stores the part and
// then the state, returning the state's name; it may run on any goroutine.
func (t *Task) capture(id int64) (write func(ctx context.Context) (string, hdfsstore.Info, error), err error) {
	fail := func(what string, err error) error {
		return fmt.Errorf("job: checkpoint %d of subtask %d: %s: %w", id, t.in.Subtask, what, err)
	}
	seal, err := t.sink.Seal(id)
	if err != nil {
		return nil, fail("sink", err)
	}
	st := taskState{Version: stateVersion, Job: t.graph.ID, Subtask: t.in.Subtask,
		Parallelism: t.in.Parallelism, Checkpoint: id, Transforms: make([]json.RawMessage, len(t.ops)),
		Records: t.records.Load()}
	if st.Source, err = t.src.SnapshotState(); err != nil {
		return nil, fail("source", err)
	}
	for i, op := range t.ops {
		if st.Transforms[i], err = op.SnapshotState(); err != nil {
			return nil, fail(t.graph.Spec.Pipeline[i+1].Op, err)
		}
	}
	if st.Sink, err = t.sink.SnapshotState(); err != nil {
		return nil, fail("sink", err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fail("encode", err)
	}
	name := t.stateName(id)
	return func(ctx context.Context) (string, hdfsstore.Info, error) {
		// The sealed part and the state are independent durable writes (each
		// fsynced and published on its own): written side by side, their syncs
		// overlap. The snapshot is taken only when both are stored; a state file
		// stored beside a part that failed belongs to no checkpoint: it is
		// removed (or, failing that, goes with the older ones in the
		// coordinator's discard).
		sealed := make(chan error, 1)
		if seal != nil {
			go func() { sealed <- seal(ctx) }()
		} else {
			sealed <- nil
		}
		info, err := hdfsstore.PutBytes(ctx, t.env.State, name, b)
		if serr := <-sealed; serr != nil {
			if err == nil {
				if derr := t.env.State.Delete(ctx, name); derr != nil && !isNotExist(derr) {
					t.log.Warn().Err(derr).Str(logging.File, name).Msg("remove the state of a snapshot whose part failed")
				}
			}
			if err != nil {
				serr = errors.Join(serr, fmt.Errorf("write state: %w", err))
			}
			return "", hdfsstore.Info{}, fail("sink", serr)
		}
		if err != nil {
			return "", hdfsstore.Info{}, fail("write state", err)
		}
		return name, info, nil
	}, nil
}
